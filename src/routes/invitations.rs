//! Joining an association: invitations, and join requests (町会加入申請).

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::join_requests::{self, Approval};
use crate::actions::{Services, invitations};
use crate::auth::AuthMember;
use crate::db::models::Invitation;
use crate::db::now;
use crate::db::queries::invitations::JoinRequestRow;
use crate::domain::{
    AssociationId, HanId, HouseholdId, InvitationId, InvitationTerms, JoinRequestId,
    JoinRequestStatus, MemberId, Role, join_message,
};
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create_invitation)
        .service(list_invitations)
        .service(revoke_invitation)
        .service(create_join_request)
        .service(list_join_requests)
        .service(approve_join_request)
        .service(decline_join_request);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// Join this household; without it the resident starts a new one.
    pub household_id: Option<String>,
    /// resident (default), han_leader (needs a household in a han), officer or chair (chair only).
    pub role: Option<Role>,
    /// Default 1, at most 1,000.
    pub max_uses: Option<i64>,
    /// RFC 3339; default in 14 days, at most 90.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationResponse {
    pub id: InvitationId,
    pub association_id: AssociationId,
    /// Shown once: only its hash is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "K7QM-2HX9-PD4T")]
    pub code: Option<String>,
    pub household_id: Option<HouseholdId>,
    pub role: Option<Role>,
    pub max_uses: i32,
    pub uses: i32,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

pub fn invitation_response(invitation: Invitation, code: Option<String>) -> InvitationResponse {
    InvitationResponse {
        id: invitation.id,
        association_id: invitation.association_id,
        code,
        household_id: invitation.household_id,
        role: invitation.role,
        max_uses: invitation.max_uses,
        uses: invitation.uses,
        expires_at: invitation.expires_at.and_utc(),
        revoked: invitation.revoked_at.is_some(),
    }
}

/// Invite residents (or, for chairs, officers) to join; the code is shown once.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 201, body = InvitationResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/invitations")]
pub async fn create_invitation(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<CreateInvitationRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let expires_at = body.expires_at.map(|at| at.naive_utc());
    let terms = InvitationTerms::parse(body.role, body.max_uses, expires_at, now())?;
    let household = body.household_id.map(HouseholdId);
    let issued =
        invitations::create(&services, &auth.0, path.into_inner(), terms, household).await?;
    // The code is shown once: no cache keeps it, and an Idempotency-Key replay withholds it.
    Ok(HttpResponse::Created()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(invitation_response(issued.invitation, Some(issued.code))))
}

#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    pub items: Vec<InvitationResponse>,
}

/// An association's invitations, newest first (codes are never shown again).
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 200, body = InvitationList), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/invitations")]
pub async fn list_invitations(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let items = invitations::list(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(InvitationList {
        items: items
            .into_iter()
            .map(|i| invitation_response(i, None))
            .collect(),
    }))
}

/// Revoke an invitation (its association's officers).
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/invitations/{id}")]
pub async fn revoke_invitation(
    auth: AuthMember,
    path: web::Path<InvitationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    invitations::revoke(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJoinRequest {
    /// For the officers: who you are, where you live.
    #[serde(default)]
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct JoinRequestResponse {
    pub id: JoinRequestId,
    pub association_id: AssociationId,
    pub member_id: MemberId,
    pub display_name: String,
    pub message: String,
    #[schema(example = "pending")]
    pub status: String,
    pub household_id: Option<HouseholdId>,
    pub created_at: DateTime<Utc>,
}

impl From<JoinRequestRow> for JoinRequestResponse {
    fn from(row: JoinRequestRow) -> Self {
        let r = row.request;
        Self {
            id: r.id,
            association_id: r.association_id,
            member_id: r.member_id,
            display_name: row.display_name,
            message: r.message,
            status: r.status.as_str().to_string(),
            household_id: r.household_id,
            created_at: r.created_at.and_utc(),
        }
    }
}

/// Ask to join an association (町会加入申請), for a member not yet in a household.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 201, body = JoinRequestResponse), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/join-requests")]
pub async fn create_join_request(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<CreateJoinRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let message = join_message(&body.message).map_err(ApiError::validation)?;
    let request = join_requests::ask(&services, &auth.0, path.into_inner(), message).await?;
    Ok(HttpResponse::Created().json(JoinRequestResponse::from(request)))
}

#[derive(Serialize, ToSchema)]
pub struct JoinRequestList {
    pub items: Vec<JoinRequestResponse>,
}

/// Join requests to an association, newest first (its officers).
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 200, body = JoinRequestList), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/join-requests")]
pub async fn list_join_requests(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let rows = join_requests::list(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(JoinRequestList {
        items: rows.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ApproveJoinRequest {
    /// Join this household; without it a new one is made (in `han_id` if given).
    pub household_id: Option<String>,
    pub han_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct JoinDecision {
    pub id: JoinRequestId,
    #[schema(example = "approved")]
    pub status: &'static str,
    pub household_id: Option<HouseholdId>,
}

/// Approve a join request: the applicant joins a household as a resident.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 200, body = JoinDecision), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/join-requests/{id}/approve")]
pub async fn approve_join_request(
    auth: AuthMember,
    path: web::Path<JoinRequestId>,
    body: Option<web::Json<ApproveJoinRequest>>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let approval = Approval {
        household: body.household_id.map(HouseholdId),
        han: body.han_id.map(HanId),
    };
    let household = join_requests::approve(&services, &auth.0, id.clone(), approval).await?;
    Ok(HttpResponse::Ok().json(JoinDecision {
        id,
        status: JoinRequestStatus::Approved.as_str(),
        household_id: Some(household),
    }))
}

/// Decline a join request.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 200, body = JoinDecision), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/join-requests/{id}/decline")]
pub async fn decline_join_request(
    auth: AuthMember,
    path: web::Path<JoinRequestId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    join_requests::decline(&services, &auth.0, id.clone()).await?;
    Ok(HttpResponse::Ok().json(JoinDecision {
        id,
        status: JoinRequestStatus::Declined.as_str(),
        household_id: None,
    }))
}
