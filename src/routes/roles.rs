//! Roles: appointing officers, chairs and 班長, their history, ending a role, the yearly
//! handover, and district (校下) officers.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::{Services, roles};
use crate::auth::AuthMember;
use crate::db::models::RoleAssignment;
use crate::db::now;
use crate::domain::{
    Appointment, AssociationId, DistrictId, HanId, Handover, MemberId, Role, RoleAssignmentId,
};
use crate::error::ApiError;
use crate::routes::invitations::{InvitationResponse, invitation_response};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(appoint_officer)
        .service(list_roles)
        .service(end_role)
        .service(hand_over)
        .service(appoint_district_officer);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentRequest {
    pub member_id: String,
    /// officer, chair or han_leader.
    pub role: Role,
    /// The han, for a han_leader.
    pub scope_id: Option<String>,
}

impl From<AppointmentRequest> for Appointment {
    fn from(r: AppointmentRequest) -> Self {
        Self {
            member_id: MemberId(r.member_id),
            role: r.role,
            han: r.scope_id.map(HanId),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RoleAssignmentResponse {
    pub id: RoleAssignmentId,
    pub member_id: MemberId,
    pub role: Role,
    pub scope_id: Option<String>,
    /// 年度: the fiscal year starting in April.
    pub term_year: i32,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<RoleAssignment> for RoleAssignmentResponse {
    fn from(a: RoleAssignment) -> Self {
        Self {
            id: a.id,
            member_id: a.member_id,
            role: a.role,
            scope_id: a.scope_id,
            term_year: a.term_year,
            started_at: a.started_at.and_utc(),
            ended_at: a.ended_at.map(|t| t.and_utc()),
        }
    }
}

/// Appoint a member of the association as officer, chair or 班長.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 201, body = RoleAssignmentResponse), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/officers")]
pub async fn appoint_officer(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<AppointmentRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let appointment = Appointment::from(body.into_inner());
    let assignment = roles::appoint(&services, &auth.0, path.into_inner(), appointment).await?;
    Ok(HttpResponse::Created().json(RoleAssignmentResponse::from(assignment)))
}

#[derive(Serialize, ToSchema)]
pub struct RoleHistoryEntry {
    #[serde(flatten)]
    pub assignment: RoleAssignmentResponse,
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct RoleHistory {
    pub items: Vec<RoleHistoryEntry>,
}

/// Officers, chairs and 班長 of an association, current and past.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 200, body = RoleHistory), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/roles")]
pub async fn list_roles(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let rows = roles::list(&services, &auth.0, path.into_inner()).await?;
    let items = rows
        .into_iter()
        .map(|r| RoleHistoryEntry {
            assignment: r.assignment.into(),
            display_name: r.display_name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(RoleHistory { items }))
}

/// End a role now; the row stays as history.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/role-assignments/{id}")]
pub async fn end_role(
    auth: AuthMember,
    path: web::Path<RoleAssignmentId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    roles::end(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverRequest {
    /// The new term (年度).
    pub term_year: i32,
    pub assignments: Vec<AppointmentRequest>,
}

#[derive(Serialize, ToSchema)]
pub struct HandoverResponse {
    /// Roles that ended.
    pub ended: usize,
    pub started: Vec<RoleAssignmentResponse>,
    /// Role-granting invitations revoked because their issuers' roles ended.
    pub revoked_invitations: Vec<InvitationResponse>,
}

/// The yearly handover: every officer, chair and 班長 role of the association ends and the
/// listed ones start, in one step.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 200, body = HandoverResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/handover")]
pub async fn hand_over(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<HandoverRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let appointments = body.assignments.into_iter().map(Into::into).collect();
    let handover =
        Handover::parse(body.term_year, appointments, now()).map_err(ApiError::validation)?;
    let outcome = roles::hand_over(&services, &auth.0, path.into_inner(), handover).await?;
    Ok(HttpResponse::Ok().json(HandoverResponse {
        ended: outcome.ended,
        started: outcome.started.into_iter().map(Into::into).collect(),
        revoked_invitations: (outcome.revoked_invitations.into_iter())
            .map(|i| invitation_response(i, None))
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DistrictOfficerRequest {
    pub member_id: String,
}

/// Appoint a district (校下) officer (city staff).
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 201, body = RoleAssignmentResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/districts/{id}/officers")]
pub async fn appoint_district_officer(
    auth: AuthMember,
    path: web::Path<DistrictId>,
    body: web::Json<DistrictOfficerRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let member = MemberId(body.into_inner().member_id);
    let district = path.into_inner();
    let assignment = roles::appoint_district_officer(&services, &auth.0, district, member).await?;
    Ok(HttpResponse::Created().json(RoleAssignmentResponse::from(assignment)))
}
