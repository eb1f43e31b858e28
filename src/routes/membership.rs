//! City staff and admin accounts, and the audit log.

use crate::domain::AuditAction;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::password::check_new_password;
use crate::auth::{AuthMember, PasswordService};
use crate::authz::{self, Principal, require};
use crate::db::Db;
use crate::db::models::AuditEntry;
use crate::db::queries::accounts;
use crate::db::queries::audit;
use crate::db::schema::audit_log;
use crate::domain::{AssociationId, AuditEntryId, Login, MemberId, RequiredText, Role};
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
    db: web::Data<Db>,
    passwords: web::Data<PasswordService>,
) -> Result<HttpResponse, ApiError> {
    let CreateStaffRequest {
        login,
        password,
        display_name,
        role,
    } = body.into_inner();
    if !matches!(role, Role::CityStaff | Role::Admin) {
        return Err(ApiError::validation("role must be city_staff or admin"));
    }
    let login = Login::parse(&login).map_err(ApiError::validation)?;
    let display_name = RequiredText::<100>::parse("display_name", &display_name)
        .map_err(ApiError::validation)?
        .into_inner();
    check_new_password(&password, Some(login.as_str()))
        .map_err(|m| ApiError::Validation(ErrorCode::WeakPassword, m))?;
    let caller = auth.0.clone();
    db.run(move |conn| require(authz::may_administer_city(&Principal::load(conn, &caller)?)))
        .await?;
    let hash = passwords.hash(password).await?;
    let member = db
        .write(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_administer_city(&p))?;
            let member = accounts::create_staff(
                conn,
                &login,
                &display_name,
                &hash,
                role,
                Some(&p.member_id),
            )?;
            audit::record(
                conn,
                &p,
                AuditAction::RoleGranted,
                "member",
                Some(member.id.as_str()),
                None,
                serde_json::json!({"role": role.as_str()}),
            )?;
            Ok(member)
        })
        .await?;
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    use diesel::prelude::*;
    let AuditFilter {
        association_id,
        limit,
    } = query.into_inner();
    let limit = limit.unwrap_or(100).clamp(1, 500);
    let entries: Vec<AuditEntry> = db
        .run(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_administer_city(&p))?;
            let mut q = audit_log::table
                .select(AuditEntry::as_select())
                .order((audit_log::created_at.desc(), audit_log::id.desc()))
                .limit(limit)
                .into_boxed();
            if let Some(association) = association_id {
                q = q.filter(audit_log::association_id.eq(association));
            }
            Ok(q.load(conn)?)
        })
        .await?;
    let items = entries
        .into_iter()
        .map(|e| AuditEntryResponse {
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            id: e.id,
            actor_id: e.actor_id,
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
            association_id: e.association_id,
            created_at: e.created_at.and_utc(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditLog { items }))
}
