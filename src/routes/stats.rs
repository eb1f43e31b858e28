//! The adoption dashboard (DESIGN.md section 6): the city's figures toward its three targets,
//! one district's figures for its officers, snapshots, and the projects behind target 3.
//! Counts and rates only: no member, household or answer ever leaves here.

use crate::domain::AuditAction;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AuthMember;
use crate::authz::{self, Principal, require};
use crate::configuration::StatsSettings;
use crate::db::models::{Project, StatsDistrictMonth, StatsDistrictSafetyMonth, StatsMonth};
use crate::db::queries::projects as project_queries;
use crate::db::queries::stats::{self, Counts, Rule, SafetyCounts, SnapshotOutcome};
use crate::db::schema::districts;
use crate::db::{AnyConnection, Db, now};
use crate::domain::{AssociationId, DistrictId, MemberId, Month, ProjectId, RequiredText};
use crate::error::{ApiError, ErrorCode};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(get_adoption)
        .service(get_adoption_csv)
        .service(take_snapshots)
        .service(get_district_stats)
        .service(get_district_stats_csv)
        .service(list_projects)
        .service(create_project)
        .service(update_project)
        .service(delete_project);
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct MonthQuery {
    /// A JST calendar month, `YYYY-MM`; the current month when absent.
    pub month: Option<String>,
}

/// A month before any association or circular existed.
const NO_FIGURES: ApiError = ApiError::NotFound("figures for that month");

/// The month asked for: not in the future, and the current one by default.
fn requested_month(query: &MonthQuery, at: chrono::NaiveDateTime) -> Result<Month, ApiError> {
    let current = Month::containing(at);
    let Some(text) = query.month.as_deref() else {
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

fn rate(part: i32, whole: i32) -> Option<f64> {
    (whole > 0).then(|| (f64::from(part) / f64::from(whole) * 10_000.0).round() / 10_000.0)
}

fn progress(current: i64, baseline: i64, target: i64) -> Option<f64> {
    let span = i32::try_from(target - baseline).ok().filter(|s| *s != 0)?;
    let done = i32::try_from(current - baseline).ok()?;
    Some((f64::from(done) / f64::from(span) * 10_000.0).round() / 10_000.0)
}

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
    fn new(c: Counts, safety: Option<SafetyCounts>) -> Self {
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
    pub districts: Vec<DistrictStatus>,
}

fn stored_rule(month: &StatsMonth) -> Result<Rule, ApiError> {
    serde_json::from_str(&month.rule)
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("stored rule of {}: {e}", month.month)))
}

fn series_point(m: &StatsMonth) -> Result<SeriesPoint, ApiError> {
    Ok(SeriesPoint {
        month: m.month.clone(),
        provisional: !m.finalized,
        active_districts: m.active_districts,
        member_households: m.member_households,
        registered_households: m.registered_households,
        rule: stored_rule(m)?,
    })
}

/// Least squares over the last `months` stored months, extended to the deadline.
fn project(series: &[StatsMonth], months: u32, deadline: Month, target: i64) -> Option<Projection> {
    let points: Vec<(f64, f64)> = series
        .iter()
        .rev()
        .take(usize::try_from(months).unwrap_or(usize::MAX))
        .filter_map(|m| {
            let ordinal = i32::try_from(Month::parse(&m.month).ok()?.ordinal()).ok()?;
            Some((f64::from(ordinal), f64::from(m.active_districts)))
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

struct CityFigures {
    month: StatsMonth,
    series: Vec<StatsMonth>,
    districts: Vec<stats::DistrictMonthRow>,
    projects: i64,
}

fn load_city(conn: &mut AnyConnection, month: Month, rule: Rule) -> Result<CityFigures, ApiError> {
    let stored = stats::ensure_month(conn, month, rule)?.ok_or(NO_FIGURES)?;
    Ok(CityFigures {
        month: stored,
        series: stats::series(conn, month)?,
        districts: stats::district_months(conn, month)?,
        projects: project_queries::count_projects(conn, month.fiscal_year())?,
    })
}

fn district_status(
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

fn adoption_response(
    month: Month,
    city: CityFigures,
    settings: &StatsSettings,
) -> Result<AdoptionResponse, ApiError> {
    let deadline = Month::parse(&settings.target_month).map_err(|e| anyhow::anyhow!(e))?;
    let projection = project(
        &city.series,
        settings.projection_months,
        deadline,
        settings.target_districts,
    );
    Ok(AdoptionResponse {
        month: month.to_string(),
        provisional: !city.month.finalized,
        computed_at: city.month.computed_at.and_utc(),
        rule: stored_rule(&city.month)?,
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
        districts: city
            .districts
            .iter()
            .map(|(row, safety, code, name)| district_status(row, safety.as_ref(), code, name))
            .collect(),
    })
}

/// The city's adoption dashboard for a month (city staff, admin): active districts against
/// the baseline and the target, the monthly series, the projection, each district's status
/// and the figures behind it, and targets 1 and 3.
#[utoipa::path(tag = "stats", params(MonthQuery), responses((status = 200, body = AdoptionResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/stats/adoption")]
pub async fn get_adoption(
    auth: AuthMember,
    query: web::Query<MonthQuery>,
    settings: web::Data<StatsSettings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(city_dashboard(auth, &query, &settings, &db).await?))
}

/// The city's figures for the requested month, for city staff and admins only.
async fn city_dashboard(
    auth: AuthMember,
    query: &MonthQuery,
    settings: &StatsSettings,
    db: &Db,
) -> Result<AdoptionResponse, ApiError> {
    let month = requested_month(query, now())?;
    let rule = Rule::from(settings);
    let city = db
        .run(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_see_city_stats(&p))?;
            load_city(conn, month, rule)
        })
        .await?;
    adoption_response(month, city, settings)
}

/// The same dashboard as CSV, one row per district, for a spreadsheet.
#[utoipa::path(tag = "stats", params(MonthQuery), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/stats/adoption.csv")]
pub async fn get_adoption_csv(
    auth: AuthMember,
    query: web::Query<MonthQuery>,
    settings: web::Data<StatsSettings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let dashboard = city_dashboard(auth, &query, &settings, &db).await?;
    let rule_text = rule_text(&dashboard.rule);
    let rows: Vec<Vec<String>> = dashboard
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
    crate::routes::csv_response(&format!("adoption-{}.csv", dashboard.month), &header, rows)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    /// `YYYY-MM`; absent: every month with data that is not frozen yet, up to now.
    pub month: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SnapshotTaken {
    pub month: String,
    pub outcome: SnapshotOutcome,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SnapshotsResponse {
    pub snapshots: Vec<SnapshotTaken>,
}

/// Takes snapshots now (city staff, admin), as the month-end task and
/// `kairan stats snapshot` do. Frozen months are kept as they are.
#[utoipa::path(tag = "stats", request_body = SnapshotRequest, responses((status = 200, body = SnapshotsResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/stats/snapshots")]
pub async fn take_snapshots(
    auth: AuthMember,
    body: web::Json<SnapshotRequest>,
    settings: web::Data<StatsSettings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let at = now();
    let month = body
        .into_inner()
        .month
        .map(|m| requested_month(&MonthQuery { month: Some(m) }, at))
        .transpose()?;
    let rule = Rule::from(settings.get_ref());
    let taken = db
        .run(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_see_city_stats(&p))?;
            Ok(match month {
                Some(month) => vec![(month, stats::snapshot_month(conn, month, rule, at)?)],
                None => stats::take_snapshots(conn, rule, at)?,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(SnapshotsResponse {
        snapshots: taken
            .into_iter()
            .map(|(month, outcome)| SnapshotTaken {
                month: month.to_string(),
                outcome,
            })
            .collect(),
    }))
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

/// One district's figures, its associations' and its monthly series (its district
/// officers, city staff, admin).
#[utoipa::path(tag = "stats", params(("id" = String, Path, description = "district id"), MonthQuery), responses((status = 200, body = DistrictStatsResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/districts/{id}/stats")]
pub async fn get_district_stats(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    query: web::Query<MonthQuery>,
    settings: web::Data<StatsSettings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let district = path.into_inner();
    let month = requested_month(&query, now())?;
    let rule = Rule::from(settings.get_ref());
    let response = db
        .run(move |conn| load_district(conn, &auth.0, district, month, rule))
        .await?;
    Ok(HttpResponse::Ok().json(response))
}

fn load_district(
    conn: &mut AnyConnection,
    caller: &MemberId,
    district: DistrictId,
    month: Month,
    rule: Rule,
) -> Result<DistrictStatsResponse, ApiError> {
    use diesel::prelude::*;
    let p = Principal::load(conn, caller)?;
    let (code, name) = districts::table
        .find(&district)
        .filter(districts::archived.eq(false))
        .select((districts::code, districts::name))
        .first::<(String, String)>(conn)
        .optional()?
        .ok_or(ApiError::NotFound("district"))?;
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
        rule: stored_rule(&stored)?,
        district: district_status(row, safety.as_ref(), &code, &name),
        associations: stats::association_months(conn, &district, month)?
            .into_iter()
            .map(|(row, safety, name)| AssociationStatus {
                id: row.association_id.clone(),
                name,
                figures: Figures::new(Counts::from(&row), safety.as_ref().map(SafetyCounts::from)),
            })
            .collect(),
        series: series
            .iter()
            .map(|(r, safety)| DistrictSeriesPoint {
                month: r.month.clone(),
                active: r.active,
                months_with_posts: r.months_with_posts,
                figures: Figures::new(Counts::from(r), safety.as_ref().map(SafetyCounts::from)),
            })
            .collect(),
    })
}

/// One district's figures as CSV: a row per association, then the district's own.
#[utoipa::path(tag = "stats", params(("id" = String, Path, description = "district id"), MonthQuery), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/districts/{id}/stats.csv")]
pub async fn get_district_stats_csv(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    query: web::Query<MonthQuery>,
    settings: web::Data<StatsSettings>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let district = path.into_inner();
    let month = requested_month(&query, now())?;
    let rule = Rule::from(settings.get_ref());
    let stats = db
        .run(move |conn| load_district(conn, &auth.0, district, month, rule))
        .await?;
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
    crate::routes::csv_response(
        &format!("district-{}-{month}.csv", stats.district.code),
        &header,
        rows,
    )
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

/// Partners of a project with the city (target 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Partner {
    /// 町会 (town associations)
    Chokai,
    Npo,
    Company,
    Students,
    City,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRequest {
    pub name: String,
    /// The 年度 the project ran in (April to March).
    pub fiscal_year: i64,
    pub partners: Vec<Partner>,
    pub description: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    pub name: Option<String>,
    pub fiscal_year: Option<i64>,
    pub partners: Option<Vec<Partner>>,
    pub description: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectResponse {
    pub id: ProjectId,
    pub name: String,
    pub fiscal_year: i32,
    pub partners: Vec<Partner>,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Project> for ProjectResponse {
    type Error = ApiError;

    fn try_from(p: Project) -> Result<Self, ApiError> {
        let partners = serde_json::from_str(&p.partners)
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("stored partners: {e}")))?;
        Ok(Self {
            id: p.id,
            name: p.name,
            fiscal_year: p.fiscal_year,
            partners,
            description: p.description,
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
        })
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectList {
    pub items: Vec<ProjectResponse>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ProjectQuery {
    /// Only projects of this 年度.
    pub fiscal_year: Option<i32>,
}

fn parse_year(year: i64) -> Result<i32, ApiError> {
    i32::try_from(year)
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| ApiError::validation("fiscal_year must be a year between 2000 and 2100"))
}

fn parse_partners(partners: &[Partner]) -> Result<String, ApiError> {
    if partners.is_empty() {
        return Err(ApiError::validation("a project needs at least one partner"));
    }
    let mut unique: Vec<Partner> = Vec::new();
    for p in partners {
        if !unique.contains(p) {
            unique.push(*p);
        }
    }
    serde_json::to_string(&unique).map_err(|e| ApiError::Unexpected(e.into()))
}

fn parse_description(text: Option<String>) -> Result<String, ApiError> {
    let text = crate::domain::normalize(text.as_deref().unwrap_or_default());
    if text.chars().count() > 2000 {
        return Err(ApiError::validation(
            "description must be at most 2000 characters",
        ));
    }
    Ok(text)
}

/// Projects with partners (city staff, admin), newest 年度 first.
#[utoipa::path(tag = "stats", params(ProjectQuery), responses((status = 200, body = ProjectList), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/projects")]
pub async fn list_projects(
    auth: AuthMember,
    query: web::Query<ProjectQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let year = query.fiscal_year;
    let projects = db
        .run(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_see_city_stats(&p))?;
            Ok(project_queries::list_projects(conn, year)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProjectList {
        items: projects
            .into_iter()
            .map(ProjectResponse::try_from)
            .collect::<Result<_, _>>()?,
    }))
}

/// Record a project with partners (city staff, admin).
#[utoipa::path(tag = "stats", request_body = ProjectRequest, responses((status = 201, body = ProjectResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/projects")]
pub async fn create_project(
    auth: AuthMember,
    body: web::Json<ProjectRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let at = now();
    let project = Project {
        id: ProjectId::generate(),
        name: RequiredText::<200>::parse("name", &body.name)
            .map_err(ApiError::validation)?
            .into_inner(),
        fiscal_year: parse_year(body.fiscal_year)?,
        partners: parse_partners(&body.partners)?,
        description: parse_description(body.description)?,
        created_by: Some(auth.0.clone()),
        created_at: at,
        updated_at: at,
    };
    let project = db
        .write(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_see_city_stats(&p))?;
            project_queries::insert_project(conn, &project)?;
            crate::db::queries::audit::record(
                conn,
                &p,
                AuditAction::ProjectRecorded,
                "project",
                Some(project.id.as_str()),
                None,
                serde_json::json!({"fiscal_year": project.fiscal_year}),
            )?;
            Ok(project)
        })
        .await?;
    Ok(HttpResponse::Created().json(ProjectResponse::try_from(project)?))
}

/// Correct a project (city staff, admin).
#[utoipa::path(tag = "stats", request_body = UpdateProjectRequest, params(("id" = String, Path, description = "project id")), responses((status = 200, body = ProjectResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/projects/{id}")]
pub async fn update_project(
    auth: AuthMember,
    path: web::Path<ProjectId>,
    body: web::Json<UpdateProjectRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let name = body
        .name
        .map(|n| RequiredText::<200>::parse("name", &n).map_err(ApiError::validation))
        .transpose()?
        .map(RequiredText::into_inner);
    let fiscal_year = body.fiscal_year.map(parse_year).transpose()?;
    let partners = body.partners.as_deref().map(parse_partners).transpose()?;
    let description = body
        .description
        .map(|d| parse_description(Some(d)))
        .transpose()?;
    let project = db
        .write(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_see_city_stats(&p))?;
            let mut project =
                project_queries::find_project(conn, &id)?.ok_or(ApiError::NotFound("project"))?;
            if let Some(name) = name {
                project.name = name;
            }
            if let Some(year) = fiscal_year {
                project.fiscal_year = year;
            }
            if let Some(partners) = partners {
                project.partners = partners;
            }
            if let Some(description) = description {
                project.description = description;
            }
            project.updated_at = now();
            project_queries::update_project(conn, &project)?;
            crate::db::queries::audit::record(
                conn,
                &p,
                AuditAction::ProjectUpdated,
                "project",
                Some(project.id.as_str()),
                None,
                serde_json::json!({"fiscal_year": project.fiscal_year}),
            )?;
            Ok(project)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProjectResponse::try_from(project)?))
}

/// Remove a project recorded by mistake (city staff, admin).
#[utoipa::path(tag = "stats", params(("id" = String, Path, description = "project id")), responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/projects/{id}")]
pub async fn delete_project(
    auth: AuthMember,
    path: web::Path<ProjectId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    db.write(move |conn| {
        let p = Principal::load(conn, &auth.0)?;
        require(authz::may_see_city_stats(&p))?;
        if project_queries::delete_project(conn, &id)? == 0 {
            return Err(ApiError::NotFound("project"));
        }
        crate::db::queries::audit::record(
            conn,
            &p,
            AuditAction::ProjectDeleted,
            "project",
            Some(id.as_str()),
            None,
            serde_json::json!({}),
        )?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
