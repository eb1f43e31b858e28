//! Guards several use cases share: loading a post the caller may see or manage, an
//! association and the caller's standing in it, and the audited roster read.

use crate::actions::Services;
use crate::authz::{self, Principal, require};
use crate::db::models::{Association, Post};
use crate::db::queries::posts as queries;
use crate::db::queries::{associations, audit};
use crate::db::{AnyConnection, now};
use crate::domain::reminders::cool_down_left;
use crate::domain::{AssociationId, AuditAction, MemberId, PostId, PostStatus};
use crate::error::{ApiError, ErrorCode};

/// The caller's relation to a post: may they see it, and may they manage it.
pub struct Access {
    pub principal: Principal,
    pub post: Post,
    pub in_audience: bool,
    pub manager: bool,
}

/// Loads a post the caller may see: its audience (published, unexpired) or its managers.
/// Anyone else gets 404, as if it did not exist.
pub fn accessible_post(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &PostId,
) -> Result<Access, ApiError> {
    let principal = Principal::load(conn, caller)?;
    let post = queries::find_post(conn, id)?.ok_or(ApiError::NotFound("post"))?;
    let hans = queries::post_hans_of(conn, id)?;
    let manager = authz::may_manage_post(&principal, post.audience(&hans));
    let keys = principal.audience_keys();
    let in_audience =
        post.status == PostStatus::Published && queries::reaches(conn, id, &keys, now())?;
    if manager || in_audience {
        Ok(Access {
            principal,
            post,
            in_audience,
            manager,
        })
    } else {
        Err(ApiError::NotFound("post"))
    }
}

pub fn managed_post(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &PostId,
) -> Result<(Principal, Post), ApiError> {
    let access = accessible_post(conn, caller, id)?;
    if !access.manager {
        return Err(ApiError::NotFound("post"));
    }
    Ok((access.principal, access.post))
}

/// Refuses a reminder (`action`, audited on `target`) that the caller already sent within
/// `cool_down`: 429 `reminder_too_soon` with Retry-After. Run it in the reminder's write
/// transaction, so two at once cannot both pass.
pub fn reminder_cool_down(
    conn: &mut AnyConnection,
    caller: &MemberId,
    action: AuditAction,
    target: &str,
    cool_down: chrono::Duration,
) -> Result<(), ApiError> {
    let last = audit::last_recorded(conn, caller, action, target)?;
    match cool_down_left(last, now(), cool_down) {
        None => Ok(()),
        Some(retry_after_secs) => Err(ApiError::TooSoon {
            code: ErrorCode::ReminderTooSoon,
            message: format!(
                "you sent a reminder for this less than {} minutes ago; you may send the next in {} minutes",
                cool_down.num_minutes(),
                retry_after_secs.div_ceil(60)
            ),
            retry_after_secs,
        }),
    }
}

/// Loads the caller and an association that must exist (404 otherwise).
pub fn caller_and_association(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &AssociationId,
) -> Result<(Principal, Association), ApiError> {
    let principal = Principal::load(conn, caller)?;
    let association = associations::find_association(conn, id)?;
    Ok((principal, association))
}

/// Loads the caller and an association whose roster they keep: 404 for an unknown
/// association, 403 for anyone but its officers.
pub fn roster_keeper(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &AssociationId,
) -> Result<(Principal, Association), ApiError> {
    let (principal, association) = caller_and_association(conn, caller, id)?;
    require(authz::may_manage_roster(&principal, &association.id))?;
    Ok((principal, association))
}

/// Records that the caller was shown part of an association's roster, and how many rows.
pub fn record_roster_read(
    conn: &mut AnyConnection,
    p: &Principal,
    action: AuditAction,
    association: &AssociationId,
    rows: usize,
) -> Result<(), ApiError> {
    let detail = serde_json::json!({"rows": rows});
    audit::record(
        conn,
        p,
        action,
        "association",
        Some(association.as_str()),
        Some(association),
        detail,
    )?;
    Ok(())
}

/// Reads part of an association's roster for its officers and records the read in the audit
/// log, in one transaction (404 for an unknown association, 403 for anyone else).
pub async fn audited_roster_read<R, F>(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    action: AuditAction,
    read: F,
) -> Result<Vec<R>, ApiError>
where
    F: FnOnce(&mut AnyConnection, &AssociationId) -> diesel::QueryResult<Vec<R>> + Send + 'static,
    R: Send + 'static,
{
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let (p, association) = roster_keeper(conn, &caller, &association)?;
            let rows = read(conn, &association.id)?;
            record_roster_read(conn, &p, action, &association.id, rows.len())?;
            Ok(rows)
        })
        .await
}
