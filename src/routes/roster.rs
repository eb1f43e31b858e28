//! An association's roster: hans (班), households (世帯), members, and the roster as CSV.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::roster::{self, HouseholdView, NewHousehold};
use crate::auth::AuthMember;
use crate::db::models::Han;
use crate::db::queries::associations::{HouseholdChangeset, HouseholdRow, RosterImportReport};
use crate::domain::{AssociationId, HanId, HouseholdId, MemberId, OneLine, Role};
use crate::error::ApiError;
use crate::routes::{csv_response, double_option, read_body};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list_hans)
        .service(create_han)
        .service(list_households)
        .service(create_household)
        .service(update_household)
        .service(list_members)
        .service(move_member)
        .service(export_roster)
        .service(import_roster);
}

/// The largest roster file taken.
pub const MAX_ROSTER_FILE_BYTES: usize = 1024 * 1024;

#[derive(Serialize, ToSchema)]
pub struct HanResponse {
    pub id: HanId,
    pub association_id: AssociationId,
    #[schema(example = "3班")]
    pub name: String,
}

impl From<Han> for HanResponse {
    fn from(h: Han) -> Self {
        Self {
            id: h.id,
            association_id: h.association_id,
            name: h.name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HanList {
    pub items: Vec<HanResponse>,
}

/// The hans (班) of an association (its officers and 班長).
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, body = HanList), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/hans")]
pub async fn list_hans(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let hans = roster::list_hans(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(HanList {
        items: hans.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHanRequest {
    pub name: String,
}

/// Add a han (officers).
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 201, body = HanResponse), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/hans")]
pub async fn create_han(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<CreateHanRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let name = OneLine::<50>::parse("name", &body.name).map_err(ApiError::validation)?;
    let han = roster::create_han(&services, &auth.0, path.into_inner(), name).await?;
    Ok(HttpResponse::Created().json(HanResponse::from(han)))
}

#[derive(Serialize, ToSchema)]
pub struct HouseholdResponse {
    pub id: HouseholdId,
    pub association_id: AssociationId,
    #[schema(example = "山田")]
    pub label: String,
    pub han_id: Option<HanId>,
    /// The han's name.
    pub han: Option<String>,
    /// Gets printed circulars; confirmations are recorded by a 班長 or officer.
    pub paper: bool,
    /// Registered members in the household.
    pub members: i64,
}

impl From<HouseholdRow> for HouseholdResponse {
    fn from(row: HouseholdRow) -> Self {
        Self {
            id: row.household.id,
            association_id: row.household.association_id,
            label: row.household.label,
            han_id: row.household.han_id,
            han: row.han,
            paper: row.household.paper,
            members: row.members,
        }
    }
}

/// A household just written, without its member count.
impl From<HouseholdView> for HouseholdResponse {
    fn from(view: HouseholdView) -> Self {
        Self::from(HouseholdRow {
            household: view.household,
            han: view.han,
            members: 0,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct HouseholdList {
    pub items: Vec<HouseholdResponse>,
}

/// The households (世帯) of an association: all for its officers, a 班長's own han for them.
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, body = HouseholdList), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/households")]
pub async fn list_households(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let rows = roster::list_households(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(HouseholdList {
        items: rows.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHouseholdRequest {
    pub label: String,
    pub han_id: Option<String>,
    #[serde(default)]
    pub paper: bool,
}

fn label(value: &str) -> Result<OneLine<100>, ApiError> {
    OneLine::<100>::parse("label", value).map_err(ApiError::validation)
}

/// Add a household (officers).
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 201, body = HouseholdResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/households")]
pub async fn create_household(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<CreateHouseholdRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = NewHousehold {
        label: label(&body.label)?,
        han: body.han_id.map(HanId),
        paper: body.paper,
    };
    let household = roster::create_household(&services, &auth.0, path.into_inner(), new).await?;
    Ok(HttpResponse::Created().json(HouseholdResponse::from(household)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateHouseholdRequest {
    pub label: Option<String>,
    /// null takes the household out of its han.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub han_id: Option<Option<String>>,
    pub paper: Option<bool>,
}

/// Rename a household, move it to another han, or mark it paper (its association's officers).
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, body = HouseholdResponse), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/households/{id}")]
pub async fn update_household(
    auth: AuthMember,
    path: web::Path<HouseholdId>,
    body: web::Json<UpdateHouseholdRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let changes = HouseholdChangeset {
        label: body
            .label
            .as_deref()
            .map(label)
            .transpose()?
            .map(OneLine::into_inner),
        han_id: body.han_id.map(|h| h.map(HanId)),
        paper: body.paper,
        updated_at: None,
    };
    let household =
        roster::update_household(&services, &auth.0, path.into_inner(), changes).await?;
    Ok(HttpResponse::Ok().json(HouseholdResponse::from(household)))
}

#[derive(Serialize, ToSchema)]
pub struct MemberRole {
    pub role: Role,
    pub scope_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberResponse {
    pub id: MemberId,
    pub display_name: String,
    pub household_id: Option<HouseholdId>,
    pub roles: Vec<MemberRole>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberResponse>,
}

/// The registered members of an association (its officers). Every read is audited.
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, body = MemberList), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/members")]
pub async fn list_members(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let rows = roster::list_members(&services, &auth.0, path.into_inner()).await?;
    let items = rows
        .into_iter()
        .map(|m| MemberResponse {
            id: m.id,
            display_name: m.display_name,
            household_id: m.household_id,
            roles: m
                .roles
                .into_iter()
                .map(|(role, scope_id)| MemberRole { role, scope_id })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(MemberList { items }))
}

/// The roster as CSV for Excel: UTF-8 with a BOM; `household_id,han,label,paper,members`.
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/roster.csv")]
pub async fn export_roster(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    csv_response(roster::export_roster(&services, &auth.0, path.into_inner()).await?)
}

/// Load hans and households from CSV (`han,label,paper`; UTF-8 or Shift_JIS). All or nothing.
#[utoipa::path(tag = "roster", params(("id" = String, Path)), request_body(content = String, content_type = "text/csv"), responses((status = 200, body = RosterImportReport), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/roster.csv")]
pub async fn import_roster(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    payload: web::Payload,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let file = read_body(payload, MAX_ROSTER_FILE_BYTES).await?;
    let report = roster::import_roster(&services, &auth.0, path.into_inner(), &file).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveMemberRequest {
    /// A household of the member's association.
    pub household_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct MovedMember {
    pub id: MemberId,
    pub household_id: HouseholdId,
}

/// Move a member to another household of their association (its officers). Receipts they
/// gave stay with the household they were in.
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, body = MovedMember), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/members/{id}")]
pub async fn move_member(
    auth: AuthMember,
    path: web::Path<MemberId>,
    body: web::Json<MoveMemberRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let member = path.into_inner();
    let household = HouseholdId(body.into_inner().household_id);
    let household_id = roster::move_member(&services, &auth.0, member.clone(), household).await?;
    Ok(HttpResponse::Ok().json(MovedMember {
        id: member,
        household_id,
    }))
}
