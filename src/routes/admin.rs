//! Admins only: city staff and admin accounts, and the audit log.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::admin::{self, AuditQuery, NewStaff};
use crate::auth::{AuthMember, PasswordService};
use crate::db::models::AuditEntry;
use crate::domain::{AssociationId, AuditEntryId, MemberId, Role};
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create_staff).service(list_audit_log);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffRequest {
    pub login: String,
    #[schema(value_type = String, format = Password)]
    pub password: secrecy::SecretString,
    pub display_name: String,
    /// city_staff or admin.
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct StaffResponse {
    pub id: MemberId,
    pub login: String,
    pub display_name: String,
    pub role: Role,
}

/// Create a city staff (市民協働推進課) or admin account (admins).
#[utoipa::path(tag = "membership", responses((status = 201, body = StaffResponse), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/staff")]
pub async fn create_staff(
    auth: AuthMember,
    body: web::Json<CreateStaffRequest>,
    services: web::Data<Services>,
    passwords: web::Data<PasswordService>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let role = body.role;
    let new = NewStaff::parse(&body.login, body.password, &body.display_name, role)?;
    let member = admin::create_staff(&services, &passwords, &auth.0, new).await?;
    Ok(HttpResponse::Created().json(StaffResponse {
        id: member.id,
        login: member.login,
        display_name: member.display_name,
        role,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct AuditFilter {
    pub association_id: Option<String>,
    /// At most 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub id: AuditEntryId,
    pub actor_id: Option<MemberId>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub association_id: Option<AssociationId>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(e: AuditEntry) -> Self {
        Self {
            detail: e.detail.0,
            id: e.id,
            actor_id: e.actor_id,
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
            association_id: e.association_id,
            created_at: e.created_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    pub items: Vec<AuditEntryResponse>,
}

/// The audit log, newest first (admins).
#[utoipa::path(tag = "membership", params(AuditFilter), responses((status = 200, body = AuditLog), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/audit-log")]
pub async fn list_audit_log(
    auth: AuthMember,
    query: web::Query<AuditFilter>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.into_inner();
    let query = AuditQuery::new(filter.association_id.map(AssociationId), filter.limit);
    let entries = admin::audit_log(&services, &auth.0, query).await?;
    Ok(HttpResponse::Ok().json(AuditLog {
        items: entries.into_iter().map(Into::into).collect(),
    }))
}
