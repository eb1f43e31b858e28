use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Json;
use crate::db::schema::{
    audit_log, invitations, join_requests, login_failures, members, refresh_tokens,
    role_assignments,
};
use crate::domain::{
    AssociationId, AuditEntryId, HouseholdId, InvitationId, JoinRequestId, JoinRequestStatus,
    MemberId, Role, RoleAssignmentId,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = members, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Member {
    pub id: MemberId,
    pub household_id: Option<HouseholdId>,
    pub login: String,
    pub password_hash: String,
    pub display_name: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A role held for a term; `ended_at` is set at handover, and the row is kept.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = role_assignments, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct RoleAssignment {
    pub id: RoleAssignmentId,
    pub member_id: MemberId,
    pub role: Role,
    pub scope_id: Option<String>,
    pub term_year: i32,
    pub granted_by: Option<MemberId>,
    pub started_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = invitations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Invitation {
    pub id: InvitationId,
    pub association_id: AssociationId,
    pub code_hash: String,
    pub household_id: Option<HouseholdId>,
    pub role: Option<Role>,
    pub max_uses: i32,
    pub uses: i32,
    pub expires_at: NaiveDateTime,
    pub created_by: Option<MemberId>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = join_requests, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct JoinRequest {
    pub id: JoinRequestId,
    pub association_id: AssociationId,
    pub member_id: MemberId,
    pub message: String,
    pub status: JoinRequestStatus,
    pub household_id: Option<HouseholdId>,
    pub decided_by: Option<MemberId>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub actor_id: Option<MemberId>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub association_id: Option<AssociationId>,
    pub detail: Json<serde_json::Value>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct RefreshToken {
    pub id: String,
    pub member_id: MemberId,
    pub family_id: String,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub spent_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = login_failures, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct LoginFailure {
    pub id: String,
    pub login: String,
    pub client_address: String,
    pub created_at: NaiveDateTime,
}
