//! The `/city` chart: active districts per month and the projection to the deadline, laid
//! out for an inline SVG (presentation attributes only, no `style`, so the CSP holds). Pure:
//! the page draws what this computes; the same numbers are in the page's table.

use crate::domain::{Month, Projection};

/// The drawing area, in SVG user units (the SVG scales to the page's width).
pub const WIDTH: i64 = 640;
pub const HEIGHT: i64 = 320;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 596.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 280.0;

pub struct Tick {
    pub x: String,
    pub y: String,
    pub label: String,
}

pub struct Chart {
    /// `x,y x,y …` of the months with figures (a solid line).
    pub actual: String,
    /// Each month with figures, as a dot.
    pub dots: Vec<(String, String)>,
    /// The projection's line (dotted): x1, y1, x2, y2.
    pub projection: Option<[String; 4]>,
    /// The target's height.
    pub target_y: String,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub left: String,
    pub right: String,
    pub bottom: String,
}

fn unit(v: f64) -> String {
    format!("{:.1}", v)
}

fn to_f64(v: i64) -> f64 {
    f64::from(i32::try_from(v).unwrap_or(i32::MAX))
}

/// Lays out `series` (oldest first) from its first month to `deadline`, with the target's
/// line and the projection's.
pub fn layout(
    series: &[(Month, i32)],
    projection: Option<&Projection>,
    deadline: Month,
    target: i64,
) -> Chart {
    let first = series.first().map_or(deadline.plus(-12), |(m, _)| *m);
    let first = first.min(deadline.plus(-1));
    let span = to_f64(deadline.ordinal() - first.ordinal());
    let highest = series.iter().map(|(_, n)| i64::from(*n)).max().unwrap_or(0);
    // Round the scale up to a ten above the target and the figures.
    let top = (target.max(highest).max(1) + 9) / 10 * 10;
    let x = |m: Month| LEFT + (RIGHT - LEFT) * to_f64(m.ordinal() - first.ordinal()) / span;
    let y = |v: f64| BOTTOM - (BOTTOM - TOP) * v.clamp(0.0, to_f64(top)) / to_f64(top);
    let actual: Vec<(String, String)> = series
        .iter()
        .map(|(m, n)| (unit(x(*m)), unit(y(f64::from(*n)))))
        .collect();
    let projection = projection.and_then(|p| {
        let (from, _) = series.last()?;
        Some([
            unit(x(*from)),
            unit(y(p.at(*from, deadline))),
            unit(x(deadline)),
            unit(y(p.projected_at_deadline)),
        ])
    });
    // A tick every quarter of the scale, and at each April (the 年度) plus the deadline.
    let y_ticks = (0..=4)
        .map(|i| {
            let value = top * i / 4;
            Tick {
                x: unit(LEFT - 8.0),
                y: unit(y(to_f64(value))),
                label: value.to_string(),
            }
        })
        .collect();
    let mut x_ticks: Vec<Tick> = (0..=deadline.ordinal() - first.ordinal())
        .map(|i| first.plus(i))
        .filter(|m| m.to_string().ends_with("-04") || *m == first)
        .map(|m| Tick {
            x: unit(x(m)),
            y: unit(BOTTOM + 24.0),
            label: m.to_string(),
        })
        .collect();
    if x_ticks
        .last()
        .is_some_and(|t| t.label != deadline.to_string())
    {
        x_ticks.push(Tick {
            x: unit(x(deadline)),
            y: unit(BOTTOM + 24.0),
            label: deadline.to_string(),
        });
    }
    Chart {
        actual: actual
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" "),
        dots: actual,
        projection,
        target_y: unit(y(to_f64(target))),
        x_ticks,
        y_ticks,
        left: unit(LEFT),
        right: unit(RIGHT),
        bottom: unit(BOTTOM),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::project;

    fn m(text: &str) -> Month {
        Month::parse(text).unwrap()
    }

    #[test]
    fn the_chart_runs_from_the_first_month_to_the_deadline_with_the_target_on_top() {
        let series = [(m("2026-04"), 2), (m("2026-05"), 4), (m("2026-06"), 6)];
        let p = project(&series, 12, m("2028-03"), 62).unwrap();
        let chart = layout(&series, Some(&p), m("2028-03"), 62);
        assert!(chart.actual.starts_with("48.0,"));
        assert_eq!(chart.dots.len(), 3);
        // The scale tops out at 70: the target's line is below the top.
        assert_eq!(chart.y_ticks.last().unwrap().label, "70");
        assert!(chart.target_y.parse::<f64>().unwrap() > TOP);
        let line = chart.projection.unwrap();
        assert_eq!(line[2], "596.0");
        // 2 a month: 6 + 2 × 21 = 48 by March 2028, drawn where 48 of 70 is.
        let expected = BOTTOM - (BOTTOM - TOP) * 48.0 / 70.0;
        assert_eq!(line[3], format!("{expected:.1}"));
        let labels: Vec<&str> = chart.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["2026-04", "2027-04", "2028-03"]);
    }

    #[test]
    fn without_figures_the_chart_still_has_its_axes_and_no_projection() {
        let chart = layout(&[], None, m("2028-03"), 62);
        assert!(chart.actual.is_empty());
        assert!(chart.projection.is_none());
        assert_eq!(chart.x_ticks.first().unwrap().label, "2027-03");
    }

    #[test]
    fn a_projection_beyond_the_scale_is_drawn_at_its_edge() {
        let series = [(m("2028-01"), 0), (m("2028-02"), 60)];
        let p = project(&series, 12, m("2028-03"), 62).unwrap();
        let chart = layout(&series, Some(&p), m("2028-03"), 62);
        assert_eq!(chart.projection.unwrap()[3], unit(TOP));
    }
}
