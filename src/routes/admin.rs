//! Admins only: city staff and admin accounts, and the audit log.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::admin::{self, AuditFilter, AuditQuery, NewStaff};
use crate::auth::{AuthMember, PasswordService};
use crate::db::models::AuditEntry;

use crate::domain::{AssociationId, AuditAction, AuditCursor, AuditEntryId, MemberId, Role};
use crate::error::{ApiError, ErrorCode};

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
pub struct AuditLogParams {
    pub association_id: Option<String>,
    /// Only entries of this action.
    pub action: Option<AuditAction>,
    /// Only entries this member caused.
    pub actor_id: Option<String>,
    /// Entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// At most 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// From the previous page's next_cursor.
    pub cursor: Option<String>,
}

impl AuditLogParams {
    fn into_query(self) -> Result<AuditQuery, ApiError> {
        let after = self
            .cursor
            .map(|raw| {
                AuditCursor::decode(&raw).ok_or_else(|| {
                    ApiError::BadRequest(
                        ErrorCode::InvalidCursor,
                        "the cursor is not valid; start again without it".into(),
                    )
                })
            })
            .transpose()?;
        let filter = AuditFilter {
            association: self.association_id.map(AssociationId),
            action: self.action,
            actor: self.actor_id.map(MemberId),
            since: self.since.map(|t| t.naive_utc()),
            until: self.until.map(|t| t.naive_utc()),
            after,
        };
        Ok(AuditQuery::new(filter, self.limit))
    }
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
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The audit log, newest first, a page at a time, filtered by association, action, actor
/// and time (admins).
#[utoipa::path(tag = "membership", params(AuditLogParams), responses((status = 200, body = AuditLog), (status = 400, description = "invalid_cursor, invalid_query", body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/audit-log")]
pub async fn list_audit_log(
    auth: AuthMember,
    query: web::Query<AuditLogParams>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner().into_query()?;
    let page = admin::audit_log(&services, &auth.0, query).await?;
    Ok(HttpResponse::Ok().json(AuditLog {
        items: page.entries.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}
