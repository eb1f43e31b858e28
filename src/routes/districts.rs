//! Districts (校下): the city's list, and its corrections by city staff and admins (rename,
//! merge, archive, restore) with their history.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::districts::{Corrected, Correction, EndedRole};
use crate::actions::{Services, districts};
use crate::auth::AuthMember;
use crate::db::models::{District, DistrictChange};
use crate::domain::{DistrictId, MemberId};
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(get_districts)
        .service(update_district)
        .service(merge_district)
        .service(archive_district)
        .service(restore_district)
        .service(get_district_history);
}

#[derive(Serialize, ToSchema)]
pub struct DistrictResponse {
    pub id: DistrictId,
    #[schema(example = "KZ05")]
    pub code: String,
    #[schema(example = "医王山")]
    pub name: String,
    #[schema(example = "いおうぜん")]
    pub name_kana: Option<String>,
    pub kominkan: Option<String>,
    /// Archived districts are not on the list and not counted toward the targets.
    pub archived: bool,
    /// The district it was merged into, if it was.
    pub merged_into: Option<DistrictId>,
}

impl From<District> for DistrictResponse {
    fn from(d: District) -> Self {
        Self {
            id: d.id,
            code: d.code,
            name: d.name,
            name_kana: d.name_kana,
            kominkan: d.kominkan,
            archived: d.archived,
            merged_into: d.merged_into_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DistrictList {
    pub items: Vec<DistrictResponse>,
}

/// The city's districts (校下), by code; archived ones are left out.
#[utoipa::path(tag = "districts", responses((status = 200, body = DistrictList), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/districts")]
pub async fn get_districts(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let districts = districts::list(&services, &auth.0).await?;
    Ok(HttpResponse::Ok().json(DistrictList {
        items: districts.into_iter().map(DistrictResponse::from).collect(),
    }))
}

/// A new name or reading; at least one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDistrictRequest {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// The reading (かな), at most 100 characters; an empty string removes it.
    pub name_kana: Option<String>,
}

impl UpdateDistrictRequest {
    fn parse(self) -> Result<Correction, ApiError> {
        districts::rename(self.name, self.name_kana)
    }
}

#[derive(Serialize, ToSchema)]
pub struct CorrectedResponse {
    pub district: DistrictResponse,
    /// A merge's surviving district.
    pub into: Option<DistrictResponse>,
    /// Associations a merge moved into `into`.
    pub moved_associations: usize,
    /// District roles (its officers) a merge or archive ended.
    pub ended_roles: Vec<EndedRole>,
}

impl From<Corrected> for CorrectedResponse {
    fn from(c: Corrected) -> Self {
        Self {
            district: c.district.into(),
            into: c.into.map(Into::into),
            moved_associations: c.moved_associations,
            ended_roles: c.ended_roles,
        }
    }
}

async fn corrected(
    auth: AuthMember,
    services: web::Data<Services>,
    id: DistrictId,
    correction: Correction,
) -> Result<HttpResponse, ApiError> {
    let done = districts::correct(&services, &auth.0, id, correction).await?;
    Ok(HttpResponse::Ok().json(CorrectedResponse::from(done)))
}

/// Rename a district or correct its reading (city staff, admin). Audited, kept as history.
#[utoipa::path(tag = "districts", params(("id" = String, Path)), request_body = UpdateDistrictRequest, responses((status = 200, body = CorrectedResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/districts/{id}")]
pub async fn update_district(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    body: web::Json<UpdateDistrictRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let correction = body.into_inner().parse()?;
    corrected(auth, services, path.into_inner(), correction).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeDistrictRequest {
    /// The district that stays: this one's associations move there.
    pub into: DistrictId,
}

/// Merge a district into another (city staff, admin): its associations move to `into` and
/// it is archived. Audited, kept as history.
#[utoipa::path(tag = "districts", params(("id" = String, Path)), request_body = MergeDistrictRequest, responses((status = 200, body = CorrectedResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/districts/{id}/merge")]
pub async fn merge_district(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    body: web::Json<MergeDistrictRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let into = body.into_inner().into;
    corrected(auth, services, path.into_inner(), Correction::Merge(into)).await
}

/// Archive a district without associations (city staff, admin). Audited, kept as history.
#[utoipa::path(tag = "districts", params(("id" = String, Path)), responses((status = 200, body = CorrectedResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/districts/{id}/archive")]
pub async fn archive_district(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    corrected(auth, services, path.into_inner(), Correction::Archive).await
}

/// Restore an archived (or merged-away) district to the list (city staff, admin); moved
/// associations stay where they are. Audited, kept as history.
#[utoipa::path(tag = "districts", params(("id" = String, Path)), responses((status = 200, body = CorrectedResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/districts/{id}/restore")]
pub async fn restore_district(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    corrected(auth, services, path.into_inner(), Correction::Restore).await
}

#[derive(Serialize, ToSchema)]
pub struct DistrictChangeResponse {
    /// `renamed`, `merged`, `archived` or `restored`.
    pub kind: String,
    /// What the district was and became (names before and after, `into`, …).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub changed_by: Option<MemberId>,
    pub changed_at: DateTime<Utc>,
}

impl From<DistrictChange> for DistrictChangeResponse {
    fn from(c: DistrictChange) -> Self {
        Self {
            kind: c.kind,
            detail: c.detail.0,
            changed_by: c.changed_by,
            changed_at: c.changed_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DistrictHistory {
    pub items: Vec<DistrictChangeResponse>,
}

/// A district's corrections, oldest first (city staff, admin).
#[utoipa::path(tag = "districts", params(("id" = String, Path)), responses((status = 200, body = DistrictHistory), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/districts/{id}/history")]
pub async fn get_district_history(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let changes = districts::history(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(DistrictHistory {
        items: changes.into_iter().map(Into::into).collect(),
    }))
}
