//! The projection toward the city's target 2 (62 active districts by March 2028): a least
//! squares line through the last months' active districts, extended to the deadline month.

use serde::Serialize;

use crate::domain::Month;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Projection {
    #[schema(example = "least squares over the last 12 months")]
    pub method: String,
    pub months_used: usize,
    /// Active districts gained per month on the fitted line.
    pub slope_per_month: f64,
    /// The fitted line's value at the deadline month.
    pub projected_at_deadline: f64,
    pub on_track: bool,
}

impl Projection {
    /// The line's value at `month`, counted back from the deadline (for a chart).
    pub fn at(&self, month: Month, deadline: Month) -> f64 {
        let back = deadline.ordinal() - month.ordinal();
        let back = f64::from(i32::try_from(back).unwrap_or(i32::MAX));
        self.projected_at_deadline - self.slope_per_month * back
    }
}

/// Least squares over the last `months` of `series` (month, active districts; oldest first),
/// extended to `deadline`. None with fewer than two months.
pub fn project(
    series: &[(Month, i32)],
    months: u32,
    deadline: Month,
    target: i64,
) -> Option<Projection> {
    let points: Vec<(f64, f64)> = series
        .iter()
        .rev()
        .take(usize::try_from(months).unwrap_or(usize::MAX))
        .filter_map(|(month, active)| {
            let ordinal = i32::try_from(month.ordinal()).ok()?;
            Some((f64::from(ordinal), f64::from(*active)))
        })
        .collect();
    let n = u32::try_from(points.len()).ok()?;
    if n < 2 {
        return None;
    }
    let count = f64::from(n);
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / count;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / count;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let deadline_x = f64::from(i32::try_from(deadline.ordinal()).ok()?);
    let projected = mean_y + slope * (deadline_x - mean_x);
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    let target = f64::from(i32::try_from(target).ok()?);
    Some(Projection {
        method: format!("least squares over the last {n} months"),
        months_used: points.len(),
        slope_per_month: round2(slope),
        projected_at_deadline: round2(projected),
        on_track: projected >= target,
    })
}

/// `(current − baseline) ÷ (target − baseline)`, to four places; none for an empty span.
pub fn progress(current: i64, baseline: i64, target: i64) -> Option<f64> {
    let span = i32::try_from(target - baseline).ok().filter(|s| *s != 0)?;
    let done = i32::try_from(current - baseline).ok()?;
    Some((f64::from(done) / f64::from(span) * 10_000.0).round() / 10_000.0)
}

/// `part ÷ whole` to four places; none when there is no whole.
pub fn rate(part: i32, whole: i32) -> Option<f64> {
    (whole > 0).then(|| (f64::from(part) / f64::from(whole) * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Month {
        Month::parse(text).unwrap()
    }

    #[test]
    fn a_steady_climb_is_extended_to_the_deadline() {
        // Two districts a month from 10: 10, 12, 14, 16 from 2026-01 to 2026-04.
        let series: Vec<(Month, i32)> = (0..4)
            .map(|i| (m("2026-01").plus(i), 10 + 2 * i32::try_from(i).unwrap()))
            .collect();
        let p = project(&series, 12, m("2028-03"), 62).unwrap();
        assert_eq!(p.months_used, 4);
        assert_eq!(p.slope_per_month, 2.0);
        // 2028-03 is 23 months after 2026-04.
        assert_eq!(p.projected_at_deadline, 16.0 + 2.0 * 23.0);
        assert!(p.on_track);
        assert_eq!(p.method, "least squares over the last 4 months");
        assert_eq!(p.at(m("2026-04"), m("2028-03")), 16.0);
    }

    #[test]
    fn only_the_last_months_are_used_and_a_flat_line_is_off_track() {
        let mut series = vec![(m("2025-01"), 0), (m("2025-02"), 50)];
        series.extend((0..3).map(|i| (m("2026-01").plus(i), 5)));
        let p = project(&series, 3, m("2028-03"), 62).unwrap();
        assert_eq!(p.months_used, 3);
        assert_eq!(p.slope_per_month, 0.0);
        assert_eq!(p.projected_at_deadline, 5.0);
        assert!(!p.on_track);
    }

    #[test]
    fn reaching_the_target_exactly_is_on_track() {
        let series = [(m("2028-02"), 61), (m("2028-03"), 62)];
        let p = project(&series, 12, m("2028-03"), 62).unwrap();
        assert_eq!(p.projected_at_deadline, 62.0);
        assert!(p.on_track);
    }

    #[test]
    fn fewer_than_two_months_project_nothing() {
        assert!(project(&[], 12, m("2028-03"), 62).is_none());
        assert!(project(&[(m("2026-01"), 3)], 12, m("2028-03"), 62).is_none());
        assert!(project(&[(m("2026-01"), 3), (m("2026-02"), 4)], 1, m("2028-03"), 62).is_none());
    }

    #[test]
    fn progress_and_rates_round_to_four_places() {
        assert_eq!(progress(12, 2, 62), Some(0.1667));
        assert_eq!(progress(5, 5, 5), None);
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(1, 0), None);
    }
}
