//! Roles: officers, the yearly handover, district officers, city staff, and the audit log.

use crate::domain::AuditAction;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::password::check_new_password;
use crate::auth::{AuthMember, PasswordService};
use crate::authz::{self, Principal, require, require_visible};
use crate::db::models::{AuditEntry, RoleAssignment};
use crate::db::queries::associations::association_of_member;
use crate::db::queries::audit;
use crate::db::queries::{accounts, roles as role_queries};
use crate::db::schema::{audit_log, districts};
use crate::db::{Db, now};
use crate::domain::{
    AssociationId, AuditEntryId, DistrictId, Login, MemberId, RequiredText, Role, RoleAssignmentId,
};
use crate::error::{ApiError, ErrorCode};
use crate::routes::associations::{audited_roster_read, caller_and_association};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(appoint_officer)
        .service(list_roles)
        .service(end_role)
        .service(hand_over)
        .service(appoint_district_officer)
        .service(create_staff)
        .service(list_audit_log);
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

impl From<AppointmentRequest> for role_queries::Appointment {
    fn from(r: AppointmentRequest) -> Self {
        Self {
            member_id: MemberId(r.member_id),
            role: r.role,
            scope_id: r.scope_id,
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let appointment = role_queries::Appointment::from(body.into_inner());
    let assignment = db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &auth, &id)?;
            require(authz::may_assign_roles(&p, &association.id))?;
            let assignment = role_queries::appoint(conn, &association.id, appointment, &p.member_id)?;
            audit::record(conn, &p, AuditAction::RoleGranted, "member", Some(assignment.member_id.as_str()), Some(&association.id), serde_json::json!({"role": assignment.role.as_str(), "scope_id": assignment.scope_id}))?;
            Ok(assignment)
        })
        .await?;
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let rows = audited_roster_read(&db, auth, id, AuditAction::RosterRolesRead, |conn, a| {
        role_queries::role_history(conn, a)
    })
    .await?;
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    db.write(move |conn| {
        let p = Principal::load(conn, &auth.0)?;
        let assignment = role_queries::find_assignment(conn, &id)?
            .ok_or(ApiError::NotFound("role assignment"))?;
        let association = role_queries::association_of_scope(conn, &assignment)?;
        let allowed = match (&association, assignment.role) {
            (Some(association), Role::Officer | Role::Chair | Role::HanLeader) => {
                authz::may_assign_roles(&p, association)
            }
            (_, Role::DistrictOfficer) => authz::may_appoint_district_officers(&p),
            _ => authz::may_administer_city(&p),
        };
        require_visible(allowed, "role assignment")?;
        role_queries::end_assignment(conn, &id, now())?;
        audit::record(
            conn,
            &p,
            AuditAction::RoleEnded,
            "member",
            Some(assignment.member_id.as_str()),
            association.as_ref(),
            serde_json::json!({"role": assignment.role.as_str()}),
        )?;
        Ok(())
    })
    .await?;
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
}

/// The yearly handover: every officer, chair and 班長 role of the association ends and the
/// listed ones start, in one step.
#[utoipa::path(tag = "membership", params(("id" = String, Path)), responses((status = 200, body = HandoverResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/associations/{id}/handover")]
pub async fn hand_over(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<HandoverRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let current = crate::domain::fiscal_year(now());
    if !(current - 1..=current + 1).contains(&body.term_year) {
        return Err(ApiError::validation(format!(
            "term_year must be {} to {}",
            current - 1,
            current + 1
        )));
    }
    if body.assignments.is_empty() || body.assignments.len() > 500 {
        return Err(ApiError::validation(
            "a handover lists 1 to 500 assignments",
        ));
    }
    let appointments: Vec<role_queries::Appointment> =
        body.assignments.into_iter().map(Into::into).collect();
    let (ended, started) = db
        .write(move |conn| {
            let (p, association) = caller_and_association(conn, &auth, &id)?;
            require(authz::may_assign_roles(&p, &association.id))?;
            let (ended, started) = role_queries::hand_over(conn, &association.id, body.term_year, appointments, &p.member_id)?;
            audit::record(conn, &p, AuditAction::RolesHandedOver, "association", Some(id.as_str()), Some(&id), serde_json::json!({"ended": ended, "started": started.len(), "term_year": body.term_year}))?;
            Ok((ended, started))
        })
        .await?;
    Ok(HttpResponse::Ok().json(HandoverResponse {
        ended,
        started: started.into_iter().map(Into::into).collect(),
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    use diesel::prelude::*;
    let district = path.into_inner();
    let member = MemberId(body.into_inner().member_id);
    let assignment = db
        .write(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            require(authz::may_appoint_district_officers(&p))?;
            let exists: i64 = districts::table.find(&district).count().get_result(conn)?;
            if exists == 0 {
                return Err(ApiError::NotFound("district"));
            }
            if association_of_member(conn, &member)?.is_none() {
                return Err(ApiError::Validation(
                    ErrorCode::NotAMember,
                    "a district officer must be a registered resident".into(),
                ));
            }
            let assignment = accounts::grant(
                conn,
                &member,
                Role::DistrictOfficer,
                Some(district.to_string()),
                Some(p.member_id.clone()),
                now(),
            )?;
            audit::record(
                conn,
                &p,
                AuditAction::RoleGranted,
                "member",
                Some(member.as_str()),
                None,
                serde_json::json!({"role": "district_officer", "scope_id": district.as_str()}),
            )?;
            Ok(assignment)
        })
        .await?;
    Ok(HttpResponse::Created().json(RoleAssignmentResponse::from(assignment)))
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
