//! The audit log: roster reads, exports, role changes and admin actions, written by the use
//! case in the same transaction as what it records.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::authz::Principal;
use crate::db::models::AuditEntry;
use crate::db::schema::audit_log;
use crate::db::{AnyConnection, Json, now};
use crate::domain::{AssociationId, AuditAction, AuditCursor, AuditEntryId, MemberId};

pub fn record(
    conn: &mut AnyConnection,
    actor: &Principal,
    action: AuditAction,
    target_kind: &str,
    target_id: Option<&str>,
    association_id: Option<&AssociationId>,
    detail: serde_json::Value,
) -> QueryResult<()> {
    let mut detail = detail;
    if actor.is_admin() {
        // Admins may do anything; say so in each of their entries.
        if let Some(object) = detail.as_object_mut() {
            object.insert("as_admin".into(), serde_json::Value::Bool(true));
        }
    }
    record_for(
        conn,
        Some(&actor.member_id),
        action,
        target_kind,
        target_id,
        association_id,
        detail,
    )
}

/// An entry whose actor is not the signed-in caller: the officer behind an invitation, or
/// nobody (the command line).
pub fn record_for(
    conn: &mut AnyConnection,
    actor: Option<&MemberId>,
    action: AuditAction,
    target_kind: &str,
    target_id: Option<&str>,
    association_id: Option<&AssociationId>,
    detail: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(AuditEntry {
            id: AuditEntryId::generate(),
            actor_id: actor.cloned(),
            action: action.as_str().to_string(),
            target_kind: target_kind.to_string(),
            target_id: target_id.map(str::to_string),
            association_id: association_id.cloned(),
            detail: Json(detail),
            created_at: now(),
        })
        .execute(conn)
        .map(drop)
}

/// Which entries to read, newest first; every filter is optional.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub association: Option<AssociationId>,
    pub action: Option<AuditAction>,
    pub actor: Option<MemberId>,
    /// Entries at or after this time.
    pub since: Option<NaiveDateTime>,
    /// Entries before this time.
    pub until: Option<NaiveDateTime>,
    /// Entries older than this one (the previous page's last).
    pub after: Option<AuditCursor>,
}

/// Up to `limit` entries matching the filter, newest first (keyset over time and id).
pub fn list(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .select(AuditEntry::as_select())
        .order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(association) = &filter.association {
        query = query.filter(audit_log::association_id.eq(association.clone()));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_log::action.eq(action.as_str()));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor_id.eq(actor.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::created_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::created_at.lt(until));
    }
    if let Some(AuditCursor { created_at, id }) = filter.after.clone() {
        query = query.filter(
            audit_log::created_at
                .lt(created_at)
                .or(audit_log::created_at
                    .eq(created_at)
                    .and(audit_log::id.lt(id))),
        );
    }
    query.load(conn)
}

/// When `actor` last recorded `action` on the target, if ever (the reminders' cool-down).
pub fn last_recorded(
    conn: &mut AnyConnection,
    actor: &MemberId,
    action: AuditAction,
    target_id: &str,
) -> QueryResult<Option<NaiveDateTime>> {
    audit_log::table
        .filter(audit_log::target_id.eq(target_id))
        .filter(audit_log::actor_id.eq(actor))
        .filter(audit_log::action.eq(action.as_str()))
        .select(diesel::dsl::max(audit_log::created_at))
        .first(conn)
}
