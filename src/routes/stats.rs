//! The adoption dashboard (DESIGN.md section 6): the city's figures toward its three targets,
//! one district's figures for its officers, snapshots. The rules and the CSV columns are in
//! `actions::stats`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::stats;
use crate::actions::stats_view::{AdoptionResponse, DistrictStatsResponse};
use crate::auth::AuthMember;
use crate::configuration::StatsSettings;
use crate::db::now;
use crate::db::queries::stats::SnapshotOutcome;
use crate::domain::{DistrictId, Rule};
use crate::error::ApiError;
use crate::routes::{csv_response, optional_json};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(get_adoption)
        .service(get_adoption_csv)
        .service(take_snapshots)
        .service(get_district_stats)
        .service(get_district_stats_csv);
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct MonthQuery {
    /// A JST calendar month, `YYYY-MM`; the current month when absent.
    pub month: Option<String>,
}

async fn city_dashboard(
    auth: &AuthMember,
    query: &MonthQuery,
    settings: &StatsSettings,
    services: &Services,
) -> Result<AdoptionResponse, ApiError> {
    let month = stats::requested_month(query.month.as_deref(), now())?;
    stats::city_dashboard(services, &auth.0, month, settings).await
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
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let dashboard = city_dashboard(&auth, &query, &settings, &services).await?;
    Ok(HttpResponse::Ok().json(dashboard))
}

/// The same dashboard as CSV, one row per district, for a spreadsheet.
#[utoipa::path(tag = "stats", params(MonthQuery), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/stats/adoption.csv")]
pub async fn get_adoption_csv(
    auth: AuthMember,
    query: web::Query<MonthQuery>,
    settings: web::Data<StatsSettings>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let dashboard = city_dashboard(&auth, &query, &settings, &services).await?;
    csv_response(stats::adoption_csv(&dashboard))
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
/// `kairan stats snapshot` do. Frozen months are kept as they are. The body is optional.
#[utoipa::path(tag = "stats", request_body(content = Option<SnapshotRequest>, content_type = "application/json"), responses((status = 200, body = SnapshotsResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/stats/snapshots")]
pub async fn take_snapshots(
    auth: AuthMember,
    req: HttpRequest,
    body: web::Bytes,
    settings: web::Data<StatsSettings>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let at = now();
    let request: Option<SnapshotRequest> = optional_json(&req, &body)?;
    let month = request
        .and_then(|r| r.month)
        .map(|m| stats::requested_month(Some(&m), at))
        .transpose()?;
    let rule = Rule::from(settings.get_ref());
    let taken = stats::take_snapshots(&services, &auth.0, month, rule, at).await?;
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

async fn district_dashboard(
    auth: &AuthMember,
    district: DistrictId,
    query: &MonthQuery,
    settings: &StatsSettings,
    services: &Services,
) -> Result<DistrictStatsResponse, ApiError> {
    let month = stats::requested_month(query.month.as_deref(), now())?;
    let rule = Rule::from(settings);
    stats::district_dashboard(services, &auth.0, district, month, rule).await
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
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let district = path.into_inner();
    let stats = district_dashboard(&auth, district, &query, &settings, &services).await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// One district's figures as CSV: a row per association, then the district's own.
#[utoipa::path(tag = "stats", params(("id" = String, Path, description = "district id"), MonthQuery), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/districts/{id}/stats.csv")]
pub async fn get_district_stats_csv(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    query: web::Query<MonthQuery>,
    settings: web::Data<StatsSettings>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let district = path.into_inner();
    let stats = district_dashboard(&auth, district, &query, &settings, &services).await?;
    csv_response(stats::district_csv(&stats))
}
