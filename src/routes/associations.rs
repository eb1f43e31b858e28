//! Associations (町会) and their roster: hans, households, members, CSV in and out.

use crate::domain::AuditAction;
use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AuthMember;
use crate::authz::{self, Principal, require};
use crate::db::models::{Association, Han, Household};
use crate::db::queries::associations::{
    self as queries, AssociationChangeset, HouseholdChangeset, HouseholdRow, RosterImportReport,
};
use crate::db::queries::audit;
use crate::db::{AnyConnection, Db};
use crate::domain::{AssociationId, DistrictId, HanId, HouseholdId, MemberId, RequiredText, Role};
use crate::error::{ApiError, ErrorCode};
use crate::import::parse_roster;
use crate::inbox_cache::InboxCache;
use crate::routes::{csv_response, double_option, read_body};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list_associations)
        .service(create_association)
        .service(get_association)
        .service(update_association)
        .service(list_hans)
        .service(create_han)
        .service(list_households)
        .service(create_household)
        .service(update_household)
        .service(list_members)
        .service(move_member)
        .service(export_roster)
        .service(import_roster);
}

/// Loads the caller and an association that must exist (404 otherwise).
pub fn caller_and_association(
    conn: &mut AnyConnection,
    auth: &AuthMember,
    id: &AssociationId,
) -> Result<(Principal, Association), ApiError> {
    let principal = Principal::load(conn, &auth.0)?;
    let association = queries::find_association(conn, id)?;
    Ok((principal, association))
}

/// Reads part of an association's roster for its officers (404 for an unknown association,
/// 403 for anyone else) and records the read in the audit log, in one transaction.
pub async fn audited_roster_read<R, F>(
    db: &Db,
    auth: AuthMember,
    id: AssociationId,
    action: AuditAction,
    read: F,
) -> Result<Vec<R>, ApiError>
where
    F: FnOnce(&mut AnyConnection, &AssociationId) -> diesel::QueryResult<Vec<R>> + Send + 'static,
    R: Send + 'static,
{
    db.write(move |conn| {
        let (p, association) = caller_and_association(conn, &auth, &id)?;
        require(authz::may_manage_roster(&p, &association.id))?;
        let rows = read(conn, &association.id)?;
        let detail = serde_json::json!({"rows": rows.len()});
        audit::record(
            conn,
            &p,
            action,
            "association",
            Some(id.as_str()),
            Some(&id),
            detail,
        )?;
        Ok(rows)
    })
    .await
}

#[derive(Serialize, ToSchema)]
pub struct AssociationResponse {
    pub id: AssociationId,
    pub district_id: DistrictId,
    #[schema(example = "本町一丁目町会")]
    pub name: String,
    pub name_kana: Option<String>,
    /// 加入世帯数 as reported by the association.
    pub member_households: i32,
    /// All households in its area, when reported.
    pub area_households: Option<i32>,
}

impl From<Association> for AssociationResponse {
    fn from(a: Association) -> Self {
        Self {
            id: a.id,
            district_id: a.district_id,
            name: a.name,
            name_kana: a.name_kana,
            member_households: a.member_households,
            area_households: a.area_households,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AssociationList {
    pub items: Vec<AssociationResponse>,
}

#[derive(Deserialize, IntoParams)]
pub struct AssociationFilter {
    /// Only the associations of this district.
    pub district_id: Option<String>,
}

/// Associations, by district and name. Names and counts only: no personal data.
#[utoipa::path(tag = "associations", params(AssociationFilter), responses((status = 200, body = AssociationList), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations")]
pub async fn list_associations(
    auth: AuthMember,
    query: web::Query<AssociationFilter>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let district = query.into_inner().district_id.map(DistrictId);
    let items = db
        .run(move |conn| {
            Principal::load(conn, &auth.0)?;
            Ok(queries::list_associations(conn, district.as_ref())?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AssociationList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

fn parse_count(field: &str, value: i64) -> Result<i32, ApiError> {
    i32::try_from(value)
        .ok()
        .filter(|n| (0..=1_000_000).contains(n))
        .ok_or_else(|| {
            ApiError::validation(format!(
                "{field} must be a whole number from 0 to 1,000,000"
            ))
        })
}

fn optional_name(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            RequiredText::<100>::parse(field, &v)
                .map(RequiredText::into_inner)
                .map_err(ApiError::validation)
        })
        .transpose()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssociationRequest {
    pub district_id: String,
    pub name: String,
    pub name_kana: Option<String>,
    /// 加入世帯数.
    pub member_households: i64,
    pub area_households: Option<i64>,
}

/// Register an association (city staff).
#[utoipa::path(tag = "associations", responses((status = 201, body = AssociationResponse), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations")]
pub async fn create_association(
    auth: AuthMember,
    body: web::Json<CreateAssociationRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = queries::NewAssociation {
        district_id: DistrictId(body.district_id),
        name: RequiredText::<100>::parse("name", &body.name)
            .map_err(ApiError::validation)?
            .into_inner(),
        name_kana: optional_name("name_kana", body.name_kana)?,
        member_households: parse_count("member_households", body.member_households)?,
        area_households: body
            .area_households
            .map(|n| parse_count("area_households", n))
            .transpose()?,
    };
    let association = db
        .write(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_administer_associations(&p))?;
            let association = queries::create_association(conn, new)?;
            audit::record(
                conn,
                &p,
                AuditAction::AssociationCreated,
                "association",
                Some(association.id.as_str()),
                Some(&association.id),
                serde_json::json!({"member_households": association.member_households}),
            )?;
            Ok(association)
        })
        .await?;
    Ok(HttpResponse::Created().json(AssociationResponse::from(association)))
}

/// One association.
#[utoipa::path(tag = "associations", params(("id" = String, Path)), responses((status = 200, body = AssociationResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}")]
pub async fn get_association(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (_, association) = db
        .run(move |conn| caller_and_association(conn, &auth, &id))
        .await?;
    Ok(HttpResponse::Ok().json(AssociationResponse::from(association)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAssociationRequest {
    pub name: Option<String>,
    pub member_households: Option<i64>,
    /// null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub area_households: Option<Option<i64>>,
}

/// Rename an association or update its reported household counts (city staff).
#[utoipa::path(tag = "associations", params(("id" = String, Path)), responses((status = 200, body = AssociationResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/associations/{id}")]
pub async fn update_association(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<UpdateAssociationRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let changes = AssociationChangeset {
        name: body
            .name
            .map(|n| {
                RequiredText::<100>::parse("name", &n)
                    .map(RequiredText::into_inner)
                    .map_err(ApiError::validation)
            })
            .transpose()?,
        member_households: body
            .member_households
            .map(|n| parse_count("member_households", n))
            .transpose()?,
        area_households: body
            .area_households
            .map(|n| n.map(|n| parse_count("area_households", n)).transpose())
            .transpose()?,
        updated_at: None,
    };
    let association = db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &auth, &id)?;
            require(authz::may_administer_associations(&p))?;
            let updated = queries::update_association(conn, &association.id, changes)?;
            audit::record(
                conn,
                &p,
                AuditAction::AssociationUpdated,
                "association",
                Some(id.as_str()),
                Some(&id),
                serde_json::json!({"member_households": updated.member_households}),
            )?;
            Ok(updated)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AssociationResponse::from(association)))
}

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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let hans = db
        .run(move |conn| {
            let (p, association) = caller_and_association(conn, &auth, &id)?;
            let hans = queries::list_hans(conn, &association.id)?;
            let han_ids: Vec<HanId> = hans.iter().map(|h| h.id.clone()).collect();
            require(authz::may_see_hans(&p, &association.id, &han_ids))?;
            Ok(hans)
        })
        .await?;
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let name = RequiredText::<50>::parse("name", &body.name)
        .map_err(ApiError::validation)?
        .into_inner();
    let han = db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &auth, &id)?;
            require(authz::may_manage_roster(&p, &association.id))?;
            let han = queries::create_han(conn, &association.id, name)?;
            let detail = serde_json::json!({});
            audit::record(
                conn,
                &p,
                AuditAction::HanCreated,
                "han",
                Some(han.id.as_str()),
                Some(&association.id),
                detail,
            )?;
            Ok(han)
        })
        .await?;
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

fn household_response(household: Household, han: Option<String>) -> HouseholdResponse {
    HouseholdResponse::from(HouseholdRow {
        household,
        han,
        members: 0,
    })
}

#[derive(Serialize, ToSchema)]
pub struct HouseholdList {
    pub items: Vec<HouseholdResponse>,
}

/// Which households a caller may see in an association: all for its officers, their own
/// hans' for 班長, none otherwise.
fn visible_hans(
    p: &Principal,
    association: &AssociationId,
    hans_of_association: &[HanId],
) -> Result<Option<Vec<HanId>>, ApiError> {
    if authz::may_manage_roster(p, association) {
        return Ok(None);
    }
    let led: Vec<HanId> = p
        .led_hans()
        .into_iter()
        .filter(|h| hans_of_association.contains(h))
        .collect();
    require(!led.is_empty())?;
    Ok(Some(led))
}

/// The households (世帯) of an association: all for its officers, a 班長's own han for them.
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, body = HouseholdList), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/households")]
pub async fn list_households(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let rows = db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &auth, &id)?;
            let hans: Vec<HanId> = queries::list_hans(conn, &association.id)?
                .into_iter()
                .map(|h| h.id)
                .collect();
            let only = visible_hans(&p, &association.id, &hans)?;
            let rows = queries::list_households(conn, &association.id, only.as_deref())?;
            audit::record(
                conn,
                &p,
                AuditAction::RosterHouseholdsRead,
                "association",
                Some(id.as_str()),
                Some(&id),
                serde_json::json!({"rows": rows.len()}),
            )?;
            Ok(rows)
        })
        .await?;
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

/// Add a household (officers).
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 201, body = HouseholdResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/households")]
pub async fn create_household(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<CreateHouseholdRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let label = RequiredText::<100>::parse("label", &body.label)
        .map_err(ApiError::validation)?
        .into_inner();
    let han = body.han_id.map(HanId);
    let (household, han_name) = db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &auth, &id)?;
            require(authz::may_manage_roster(&p, &association.id))?;
            let household =
                queries::create_household(conn, &association.id, label, han, body.paper)?;
            let detail = serde_json::json!({"paper": household.paper});
            audit::record(
                conn,
                &p,
                AuditAction::HouseholdCreated,
                "household",
                Some(household.id.as_str()),
                Some(&association.id),
                detail,
            )?;
            let han_name = match &household.han_id {
                Some(han) => Some(queries::han_of(conn, &association.id, han)?.name),
                None => None,
            };
            Ok((household, han_name))
        })
        .await?;
    Ok(HttpResponse::Created().json(household_response(household, han_name)))
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
    db: web::Data<Db>,
    inbox_cache: web::Data<InboxCache>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let changes = HouseholdChangeset {
        label: body
            .label
            .map(|l| {
                RequiredText::<100>::parse("label", &l)
                    .map(RequiredText::into_inner)
                    .map_err(ApiError::validation)
            })
            .transpose()?,
        han_id: body.han_id.map(|h| h.map(HanId)),
        paper: body.paper,
        updated_at: None,
    };
    let (household, han_name) = db
        .write(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            let household = queries::find_household(conn, &id)?;
            let household = household
                .filter(|h| authz::may_manage_roster(&p, &h.association_id))
                .ok_or(ApiError::NotFound("household"))?;
            let updated = queries::update_household(conn, &household, changes)?;
            audit::record(
                conn,
                &p,
                AuditAction::HouseholdUpdated,
                "household",
                Some(id.as_str()),
                Some(&updated.association_id),
                serde_json::json!({"paper": updated.paper}),
            )?;
            let han_name = match &updated.han_id {
                Some(han) => Some(queries::han_of(conn, &updated.association_id, han)?.name),
                None => None,
            };
            Ok((updated, han_name))
        })
        .await?;
    inbox_cache.roster_changed();
    Ok(HttpResponse::Ok().json(household_response(household, han_name)))
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let rows = audited_roster_read(&db, auth, id, AuditAction::RosterMembersRead, |conn, a| {
        queries::list_members(conn, a)
    })
    .await?;
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let rows = audited_roster_read(&db, auth, id, AuditAction::RosterExported, |conn, a| {
        queries::list_households(conn, a, None)
    })
    .await?;
    let rows = rows.into_iter().map(|row| {
        vec![
            row.household.id.to_string(),
            row.han.unwrap_or_default(),
            row.household.label,
            if row.household.paper { "yes" } else { "no" }.to_string(),
            row.members.to_string(),
        ]
    });
    csv_response(
        "roster.csv",
        &["household_id", "han", "label", "paper", "members"],
        rows,
    )
}

/// Load hans and households from CSV (`han,label,paper`; UTF-8 or Shift_JIS). All or nothing.
#[utoipa::path(tag = "roster", params(("id" = String, Path)), request_body(content = String, content_type = "text/csv"), responses((status = 200, body = RosterImportReport), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/roster.csv")]
pub async fn import_roster(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    payload: web::Payload,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = read_body(payload, 1024 * 1024).await?;
    let records = parse_roster(&body).map_err(|e| {
        ApiError::Validation(ErrorCode::InvalidCsv, format!("{e}; nothing was imported"))
    })?;
    let report = db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &auth, &id)?;
            require(authz::may_manage_roster(&p, &association.id))?;
            let report = queries::import_roster(conn, &association.id, &records)?;
            audit::record(
                conn,
                &p,
                AuditAction::RosterImported,
                "association",
                Some(id.as_str()),
                Some(&id),
                serde_json::json!({"households_added": report.households_added}),
            )?;
            Ok(report)
        })
        .await?;
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
    db: web::Data<Db>,
    inbox_cache: web::Data<InboxCache>,
) -> Result<HttpResponse, ApiError> {
    let member = path.into_inner();
    let household = HouseholdId(body.into_inner().household_id);
    let moved = db
        .write(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            let association = queries::association_of_member(conn, &member)?
                .filter(|a| authz::may_manage_roster(&p, a))
                .ok_or(ApiError::NotFound("member"))?;
            let target = queries::household_of(conn, &association, &household)?;
            queries::move_member(conn, &member, &target.id)?;
            let detail = serde_json::json!({"household_id": target.id.as_str()});
            audit::record(
                conn,
                &p,
                AuditAction::MemberMoved,
                "member",
                Some(member.as_str()),
                Some(&association),
                detail,
            )?;
            Ok(MovedMember {
                id: member,
                household_id: target.id,
            })
        })
        .await?;
    inbox_cache.roster_changed();
    Ok(HttpResponse::Ok().json(moved))
}
