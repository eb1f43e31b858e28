//! What the adoption dashboard shows, built from stored snapshots: the views both front doors
//! render (JSON, and the `/city` and `/district` pages), and their CSV rows.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::configuration::StatsSettings;
use crate::db::models::{StatsDistrictMonth, StatsDistrictSafetyMonth, StatsMonth};
use crate::db::queries::stats::DistrictMonthRow;
use crate::domain::{
    AssociationId, Channel, Counts, DistrictId, Month, Projection, Rule, SafetyCounts, progress,
    project, rate,
};
use crate::error::ApiError;

#[derive(Serialize, utoipa::ToSchema)]
pub struct PostsByTier {
    pub city: i32,
    pub district: i32,
    pub association: i32,
}

/// The figures of one district or association in one month, with the counts behind them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Reported 加入世帯数 (the association's own figure).
    pub member_households: i32,
    /// Households with at least one member account.
    pub registered_households: i32,
    /// registered ÷ member households.
    pub registration_rate: Option<f64>,
    /// Households where a member opened a circular in the 30 days up to the month's end (or now).
    pub active_households: i32,
    /// Circulars published in the month that reached these households, by tier.
    pub posts: PostsByTier,
    /// Household receipts expected for the month's circulars, and reads within 72 hours.
    pub expected_receipts: i32,
    pub reads_72h: i32,
    pub read_rate_72h: Option<f64>,
    /// The same for circulars that ask for confirmation.
    pub expected_confirmations: i32,
    pub confirmations_72h: i32,
    pub confirmation_rate_72h: Option<f64>,
    /// Paper households in the audience of at least one of the month's circulars.
    pub paper_households_served: i32,
    /// Safety checks started in the month that reached these households; null for a month
    /// frozen before safety checks were counted.
    pub safety: Option<SafetyFigures>,
}

/// Safety checks (安否確認) of the month, as counts and a rate: no household or answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SafetyFigures {
    /// Checks started in the month whose audience includes these households (a check that
    /// reaches several associations of a district counts once for the district).
    pub checks: i32,
    /// Households in the checks' audiences when each started, summed over the checks.
    pub households_targeted: i32,
    /// Of those, households that answered (a member, or an officer or 班長 on their behalf)
    /// within 72 hours of the start, while the check was open.
    pub households_answered_72h: i32,
    /// answered ÷ targeted; null when no check ran (or reached no household).
    pub answer_rate_72h: Option<f64>,
}

impl From<SafetyCounts> for SafetyFigures {
    fn from(c: SafetyCounts) -> Self {
        Self {
            checks: c.checks,
            households_targeted: c.households_targeted,
            households_answered_72h: c.households_answered_72h,
            answer_rate_72h: rate(c.households_answered_72h, c.households_targeted),
        }
    }
}

impl Figures {
    pub fn new(c: Counts, safety: Option<SafetyCounts>) -> Self {
        Self {
            member_households: c.member_households,
            registered_households: c.registered_households,
            registration_rate: rate(c.registered_households, c.member_households),
            active_households: c.active_households,
            posts: PostsByTier {
                city: c.posts_city,
                district: c.posts_district,
                association: c.posts_association,
            },
            expected_receipts: c.expected_receipts,
            reads_72h: c.reads_72h,
            read_rate_72h: rate(c.reads_72h, c.expected_receipts),
            expected_confirmations: c.expected_confirmations,
            confirmations_72h: c.confirmations_72h,
            confirmation_rate_72h: rate(c.confirmations_72h, c.expected_confirmations),
            paper_households_served: c.paper_households_served,
            safety: safety.map(SafetyFigures::from),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DistrictStatus {
    pub id: DistrictId,
    pub code: String,
    pub name: String,
    /// Whether the rule held in this month.
    pub active: bool,
    /// Months of the rule's window with a circular of the district's own.
    pub months_with_posts: i32,
    pub associations: i32,
    pub figures: Figures,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    pub month: String,
    /// Still being recomputed; frozen once the month's circulars have had their 72 hours.
    pub provisional: bool,
    pub active_districts: i32,
    pub member_households: i32,
    pub registered_households: i32,
    /// The rule this month was judged by.
    pub rule: Rule,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TargetProgress {
    pub current: i64,
    pub baseline: i64,
    pub target: i64,
    /// (current − baseline) ÷ (target − baseline).
    pub progress: Option<f64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectProgress {
    /// The 年度 of the month shown.
    pub fiscal_year: i32,
    pub current: i64,
    pub baseline: i64,
    pub target: i64,
    pub progress: Option<f64>,
}

/// The city's dashboard for one month.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AdoptionResponse {
    pub month: String,
    pub provisional: bool,
    pub computed_at: DateTime<Utc>,
    /// The active-district rule this month was judged by.
    pub rule: Rule,
    /// Target 2: districts using the app.
    pub active_districts: i32,
    pub districts_counted: i32,
    pub baseline: i64,
    pub baseline_month: String,
    pub target: i64,
    /// The target month (March 2028).
    pub deadline: String,
    pub progress: Option<f64>,
    /// The projection's verdict; none while fewer than two months are stored.
    pub on_track: Option<bool>,
    pub projection: Option<Projection>,
    pub series: Vec<SeriesPoint>,
    /// Target 1: the sum of associations' reported member households.
    pub member_households: TargetProgress,
    /// Target 3: projects with partners in the month's 年度.
    pub projects: ProjectProgress,
    /// Members each channel reaches (city-wide counts only), as of the month's snapshot;
    /// null for a month stored before they were counted.
    pub reachable_members: Option<ReachableMembers>,
    pub districts: Vec<DistrictStatus>,
}

/// Members with an address on a channel they did not turn off: a push subscription, a
/// verified email address, a linked LINE account. One member may count on several.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReachableMembers {
    pub push: i32,
    pub email: i32,
    pub line: i32,
}

impl ReachableMembers {
    /// From a month's stored counts; None when it has none.
    pub fn from_counts(counts: &[(Channel, i32)]) -> Option<Self> {
        let of = |channel| {
            counts
                .iter()
                .find(|(c, _)| *c == channel)
                .map_or(0, |(_, n)| *n)
        };
        (!counts.is_empty()).then(|| Self {
            push: of(Channel::Push),
            email: of(Channel::Email),
            line: of(Channel::Line),
        })
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AssociationStatus {
    pub id: AssociationId,
    pub name: String,
    pub figures: Figures,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DistrictSeriesPoint {
    pub month: String,
    pub active: bool,
    pub months_with_posts: i32,
    pub figures: Figures,
}

/// One district's dashboard.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DistrictStatsResponse {
    pub month: String,
    pub provisional: bool,
    pub computed_at: DateTime<Utc>,
    pub rule: Rule,
    pub district: DistrictStatus,
    pub associations: Vec<AssociationStatus>,
    pub series: Vec<DistrictSeriesPoint>,
}

fn series_point(m: &StatsMonth) -> Result<SeriesPoint, ApiError> {
    Ok(SeriesPoint {
        month: m.month.clone(),
        provisional: !m.finalized,
        active_districts: m.active_districts,
        member_households: m.member_households,
        registered_households: m.registered_households,
        rule: m.rule.0,
    })
}

/// What the city's dashboard is built from.
pub struct CityFigures {
    pub month: StatsMonth,
    pub series: Vec<StatsMonth>,
    pub districts: Vec<DistrictMonthRow>,
    pub projects: i64,
    /// Members each channel reaches, as stored with the month.
    pub reachable: Vec<(Channel, i32)>,
}

pub fn district_status(
    row: &StatsDistrictMonth,
    safety: Option<&StatsDistrictSafetyMonth>,
    code: &str,
    name: &str,
) -> DistrictStatus {
    DistrictStatus {
        id: row.district_id.clone(),
        code: code.to_string(),
        name: name.to_string(),
        active: row.active,
        months_with_posts: row.months_with_posts,
        associations: row.associations,
        figures: Figures::new(Counts::from(row), safety.map(SafetyCounts::from)),
    }
}

pub fn adoption_response(
    month: Month,
    city: CityFigures,
    settings: &StatsSettings,
) -> Result<AdoptionResponse, ApiError> {
    let deadline = Month::parse(&settings.target_month).map_err(|e| anyhow::anyhow!(e))?;
    let points: Vec<(Month, i32)> = city
        .series
        .iter()
        .filter_map(|m| Some((Month::parse(&m.month).ok()?, m.active_districts)))
        .collect();
    let projection = project(
        &points,
        settings.projection_months,
        deadline,
        settings.target_districts,
    );
    Ok(AdoptionResponse {
        month: month.to_string(),
        provisional: !city.month.finalized,
        computed_at: city.month.computed_at.and_utc(),
        rule: city.month.rule.0,
        active_districts: city.month.active_districts,
        districts_counted: city.month.districts,
        baseline: settings.baseline_districts,
        baseline_month: settings.baseline_month.clone(),
        target: settings.target_districts,
        deadline: settings.target_month.clone(),
        progress: progress(
            i64::from(city.month.active_districts),
            settings.baseline_districts,
            settings.target_districts,
        ),
        on_track: projection.as_ref().map(|p| p.on_track),
        projection,
        series: city
            .series
            .iter()
            .map(series_point)
            .collect::<Result<_, _>>()?,
        member_households: TargetProgress {
            current: i64::from(city.month.member_households),
            baseline: settings.baseline_member_households,
            target: settings.target_member_households,
            progress: progress(
                i64::from(city.month.member_households),
                settings.baseline_member_households,
                settings.target_member_households,
            ),
        },
        projects: ProjectProgress {
            fiscal_year: month.fiscal_year(),
            current: city.projects,
            baseline: settings.baseline_projects,
            target: settings.target_projects,
            progress: progress(
                city.projects,
                settings.baseline_projects,
                settings.target_projects,
            ),
        },
        reachable_members: ReachableMembers::from_counts(&city.reachable),
        districts: city
            .districts
            .iter()
            .map(|(row, safety, code, name)| district_status(row, safety.as_ref(), code, name))
            .collect(),
    })
}
