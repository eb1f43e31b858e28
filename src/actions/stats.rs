//! The adoption dashboard (DESIGN.md section 6): the city's figures toward its three targets,
//! one district's figures for its officers, snapshots, and both as CSV. Counts and rates
//! only: no member, household or answer ever leaves here.

use chrono::NaiveDateTime;

use crate::actions::Services;
use crate::actions::stats_view::{
    AdoptionResponse, AssociationStatus, CityFigures, DistrictSeriesPoint, DistrictStatsResponse,
    Figures, ReachableMembers, adoption_response, district_status,
};
use crate::authz::{self, Principal, require};
use crate::configuration::StatsSettings;
use crate::db::queries::districts::open_district_name;
use crate::db::queries::projects as project_queries;
use crate::db::queries::reach;
use crate::db::queries::stats::{self, SnapshotOutcome};
use crate::domain::{Counts, Csv, DistrictId, MemberId, Month, Rule, SafetyCounts};
use crate::error::{ApiError, ErrorCode};

/// A month before any association or circular existed.
const NO_FIGURES: ApiError = ApiError::NotFound("figures for that month");

/// The month asked for (`YYYY-MM`): not in the future, and the current one by default.
pub fn requested_month(text: Option<&str>, at: NaiveDateTime) -> Result<Month, ApiError> {
    let current = Month::containing(at);
    let Some(text) = text else {
        return Ok(current);
    };
    let month = Month::parse(text).map_err(|e| ApiError::Validation(ErrorCode::InvalidMonth, e))?;
    if month > current {
        return Err(ApiError::Validation(
            ErrorCode::InvalidMonth,
            format!("{month} has not begun; the latest month is {current}"),
        ));
    }
    Ok(month)
}

/// The city's dashboard for a month (city staff, admin): active districts against the
/// baseline and the target, the monthly series, the projection, each district's status and
/// the figures behind it, and targets 1 and 3.
pub async fn city_dashboard(
    services: &Services,
    caller: &MemberId,
    month: Month,
    settings: &StatsSettings,
) -> Result<AdoptionResponse, ApiError> {
    let (caller, rule) = (caller.clone(), Rule::from(settings));
    let city = services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_see_city_stats(&p))?;
            let stored = stats::ensure_month(conn, month, rule)?.ok_or(NO_FIGURES)?;
            Ok(CityFigures {
                month: stored,
                series: stats::series(conn, month)?,
                districts: stats::district_months(conn, month)?,
                projects: project_queries::count_projects(conn, month.fiscal_year())?,
                reachable: reach::month_counts(conn, &month.to_string())?,
            })
        })
        .await?;
    adoption_response(month, city, settings)
}

/// One district's figures, its associations' and its monthly series (its district
/// officers, city staff, admin).
pub async fn district_dashboard(
    services: &Services,
    caller: &MemberId,
    district: DistrictId,
    month: Month,
    rule: Rule,
) -> Result<DistrictStatsResponse, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            let (code, name) =
                open_district_name(conn, &district)?.ok_or(ApiError::NotFound("district"))?;
            require(authz::may_see_district_stats(&p, &district))?;
            let stored = stats::ensure_month(conn, month, rule)?.ok_or(NO_FIGURES)?;
            let series = stats::district_series(conn, &district, month)?;
            let (row, safety) = series
                .iter()
                .find(|(r, _)| r.month == stored.month)
                .ok_or(ApiError::NotFound("district figures for that month"))?;
            Ok(DistrictStatsResponse {
                month: stored.month.clone(),
                provisional: !stored.finalized,
                computed_at: stored.computed_at.and_utc(),
                rule: stored.rule.0,
                district: district_status(row, safety.as_ref(), &code, &name),
                associations: stats::association_months(conn, &district, month)?
                    .into_iter()
                    .map(|(row, safety, name)| AssociationStatus {
                        id: row.association_id.clone(),
                        name,
                        figures: Figures::new(
                            Counts::from(&row),
                            safety.as_ref().map(SafetyCounts::from),
                        ),
                    })
                    .collect(),
                series: series
                    .iter()
                    .map(|(r, safety)| DistrictSeriesPoint {
                        month: r.month.clone(),
                        active: r.active,
                        months_with_posts: r.months_with_posts,
                        figures: Figures::new(
                            Counts::from(r),
                            safety.as_ref().map(SafetyCounts::from),
                        ),
                    })
                    .collect(),
            })
        })
        .await
}

/// Takes snapshots now (city staff, admin), as the month-end task and
/// `kairan stats snapshot` do: one month, or every month with data not frozen yet. Frozen
/// months are kept as they are.
pub async fn take_snapshots(
    services: &Services,
    caller: &MemberId,
    month: Option<Month>,
    rule: Rule,
    at: NaiveDateTime,
) -> Result<Vec<(Month, SnapshotOutcome)>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_see_city_stats(&p))?;
            Ok(match month {
                Some(month) => vec![(month, stats::snapshot_month(conn, month, rule, at)?)],
                None => stats::take_snapshots(conn, rule, at)?,
            })
        })
        .await
}

const FIGURE_COLUMNS: [&str; 10] = [
    "member_households",
    "registered_households",
    "registration_rate",
    "active_households",
    "posts_city",
    "posts_district",
    "posts_association",
    "read_rate_72h",
    "confirmation_rate_72h",
    "paper_households_served",
];

fn figure_cells(f: &Figures) -> Vec<String> {
    let rate = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    vec![
        f.member_households.to_string(),
        f.registered_households.to_string(),
        rate(f.registration_rate),
        f.active_households.to_string(),
        f.posts.city.to_string(),
        f.posts.district.to_string(),
        f.posts.association.to_string(),
        rate(f.read_rate_72h),
        rate(f.confirmation_rate_72h),
        f.paper_households_served.to_string(),
    ]
}

const SAFETY_COLUMNS: [&str; 4] = [
    "safety_checks",
    "safety_households_targeted",
    "safety_households_answered_72h",
    "safety_answer_rate_72h",
];

/// Members each channel reaches, as on the dashboard (D72): city-wide counts only, so every
/// district's row repeats the city's figure (D80).
const REACH_COLUMNS: [&str; 3] = [
    "city_reachable_push",
    "city_reachable_email",
    "city_reachable_line",
];

/// Empty cells for a month stored before the channels were counted.
fn reach_cells(reach: Option<&ReachableMembers>) -> Vec<String> {
    match reach {
        Some(r) => [r.push, r.email, r.line].map(|n| n.to_string()).to_vec(),
        None => vec![String::new(); REACH_COLUMNS.len()],
    }
}

/// Empty cells for a month frozen before safety checks were counted.
fn safety_cells(f: &Figures) -> Vec<String> {
    let Some(s) = &f.safety else {
        return vec![String::new(); SAFETY_COLUMNS.len()];
    };
    vec![
        s.checks.to_string(),
        s.households_targeted.to_string(),
        s.households_answered_72h.to_string(),
        s.answer_rate_72h.map(|v| v.to_string()).unwrap_or_default(),
    ]
}

fn rule_text(rule: &Rule) -> String {
    format!(
        "posts in each of {} months; registered ≥ {} of member households; city posts {}",
        rule.months_with_posts,
        rule.min_registered_share,
        if rule.count_city_posts {
            "count"
        } else {
            "do not count"
        }
    )
}

/// The city's dashboard as CSV, one row per district.
pub fn adoption_csv(dashboard: &AdoptionResponse) -> Csv {
    let rule_text = rule_text(&dashboard.rule);
    let reach = reach_cells(dashboard.reachable_members.as_ref());
    let rows = dashboard
        .districts
        .iter()
        .map(|d| {
            let mut row = vec![
                dashboard.month.clone(),
                d.code.clone(),
                d.name.clone(),
                d.active.to_string(),
                d.months_with_posts.to_string(),
                d.associations.to_string(),
            ];
            row.extend(figure_cells(&d.figures));
            row.extend([dashboard.provisional.to_string(), rule_text.clone()]);
            row.extend(safety_cells(&d.figures));
            row.extend(reach.iter().cloned());
            row
        })
        .collect();
    let mut header = vec![
        "month",
        "district_code",
        "district",
        "active",
        "months_with_posts",
        "associations",
    ];
    header.extend(FIGURE_COLUMNS);
    header.extend(["provisional", "rule"]);
    // Last, so the columns spreadsheets already use keep their places.
    header.extend(SAFETY_COLUMNS);
    header.extend(REACH_COLUMNS);
    Csv::new(format!("adoption-{}.csv", dashboard.month), header, rows)
}

/// One district's figures as CSV: a row per association, then the district's own.
pub fn district_csv(stats: &DistrictStatsResponse) -> Csv {
    let rule_text = rule_text(&stats.rule);
    let mut rows: Vec<Vec<String>> = stats
        .associations
        .iter()
        .map(|a| {
            let mut row = vec![stats.month.clone(), "association".into(), a.name.clone()];
            row.extend(figure_cells(&a.figures));
            row.extend([
                String::new(),
                stats.provisional.to_string(),
                rule_text.clone(),
            ]);
            row.extend(safety_cells(&a.figures));
            row
        })
        .collect();
    let mut total = vec![
        stats.month.clone(),
        "district".into(),
        stats.district.name.clone(),
    ];
    total.extend(figure_cells(&stats.district.figures));
    total.push(stats.district.active.to_string());
    total.extend([stats.provisional.to_string(), rule_text.clone()]);
    total.extend(safety_cells(&stats.district.figures));
    rows.push(total);
    let mut header = vec!["month", "level", "name"];
    header.extend(FIGURE_COLUMNS);
    header.push("district_active");
    header.extend(["provisional", "rule"]);
    header.extend(SAFETY_COLUMNS);
    Csv::new(
        format!("district-{}-{}.csv", stats.district.code, stats.month),
        header,
        rows,
    )
}
