//! Safety checks (安否確認): start one for a scope, answer for a household (one's own, or as
//! an officer or 班長 after a visit), follow the live status, remind the unanswered, close.

use std::collections::BTreeMap;

use crate::actions::Services;
use crate::actions::access::reminder_cool_down;
use crate::authz::{self, Membership, Principal, StatusView, require, require_visible};
use crate::db::models::{SafetyAnswer, SafetyCheck};
use crate::db::queries::associations::check_scope;
use crate::db::queries::audit;
use crate::db::queries::posts::audience_household;
use crate::db::queries::push::{self as push_queries, Recipients};
use crate::db::queries::safety as queries;
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::reminders::SAFETY_REMINDER_COOL_DOWN;
use crate::domain::{AssociationId, Audience, DistrictId};
use crate::domain::{
    AudienceKey, AuditAction, Grouping, HanId, HouseholdId, MemberId, MultiLine, ReceiptScope,
    SafetyCheckId, SafetyStatus, SafetyStatusResponse, Scope, Tier, group_status,
};
use crate::error::{ApiError, ErrorCode, FieldError};

pub const MAX_MESSAGE_CHARS: usize = 1000;
pub const MAX_NOTE_CHARS: usize = 500;

/// What residents read, e.g. 「地震がありました。ご無事ですか。」: required, at most 1000
/// characters.
pub fn parse_message(raw: &str) -> Result<String, FieldError> {
    MultiLine::<MAX_MESSAGE_CHARS>::parse("message", raw).map(MultiLine::into_inner)
}

/// An answer's optional note (what help is needed): blank is none, at most 500 characters.
pub fn parse_note(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let note = MultiLine::<MAX_NOTE_CHARS>::optional("note", raw.unwrap_or_default())?;
    Ok(note.map(MultiLine::into_inner))
}

/// safe (無事) or needs_help (要支援).
pub fn parse_status(raw: &str) -> Result<SafetyStatus, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::Validation(
            ErrorCode::InvalidField,
            "status must be \"safe\" or \"needs_help\"".into(),
        )
    })
}

/// A check to start, parsed.
pub struct NewCheck {
    pub scope: Scope,
    /// Only these hans of the association (sorted, without repeats).
    pub hans: Vec<HanId>,
    pub message: String,
}

/// A check as its reader sees it.
pub struct CheckView {
    pub check: SafetyCheck,
    pub hans: Vec<HanId>,
    /// None for district officers and city staff outside the audience, who see no names.
    pub starter_name: Option<String>,
    /// The caller's household's answer.
    pub answer: Option<SafetyAnswer>,
    /// The check reaches the caller's household, which may answer it.
    pub for_household: bool,
    /// The caller may follow its status (`status`).
    pub status_visible: bool,
}

/// An answer, parsed.
pub struct NewAnswer {
    pub status: SafetyStatus,
    pub note: Option<String>,
    /// Answer for this household (officers, or the 班長 of its han); one's own when none.
    pub household: Option<HouseholdId>,
    /// The same answer as the household's current one stores nothing (pages, whose offline
    /// queue may send a form twice); the API keeps every answer in the history.
    pub repeat_is_noop: bool,
}

/// Starts a check for the city, a district, an association or some of its hans (same rules
/// as posting). It goes out at once as an urgent push, whatever categories members muted.
/// Returns the check and the number of notifications queued.
pub async fn start(
    services: &Services,
    caller: &MemberId,
    new: NewCheck,
) -> Result<(CheckView, usize), ApiError> {
    let caller = caller.clone();
    let started = services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            check_scope(conn, &new.scope, &new.hans)?;
            require(authz::may_post(&p, &new.scope, &new.hans))?;
            let check = SafetyCheck {
                id: SafetyCheckId::generate(),
                started_by: p.member_id.clone(),
                tier: new.scope.tier(),
                scope_id: new.scope.id().map(str::to_string),
                message: new.message,
                started_at: now(),
                closed_at: None,
                closed_by: None,
            };
            let deliveries = queries::create_check(conn, &check, &new.hans)?;
            let association = match &new.scope {
                Scope::Association(association) => Some(association),
                _ => None,
            };
            let detail =
                serde_json::json!({"tier": check.tier.as_str(), "notifications": deliveries});
            let (action, id) = (AuditAction::SafetyCheckStarted, Some(check.id.as_str()));
            audit::record(conn, &p, action, "safety_check", id, association, detail)?;
            let answer = match &p.household_id {
                Some(h) => queries::answer_of(conn, &check.id, h)?,
                None => None,
            };
            let for_household = reaches(&check, &new.hans, &p.audience_keys());
            let status_visible = status_view(conn, &p, &check, &new.hans)?.is_some();
            let view = CheckView {
                check,
                hans: new.hans,
                starter_name: Some(p.display_name.clone()),
                answer,
                for_household,
                status_visible,
            };
            Ok((view, deliveries))
        })
        .await?;
    services.wake_push.notify_one();
    Ok(started)
}

/// The checks that reach the caller's household and those they started: open ones first,
/// then newest first, each with the household's answer.
pub async fn list(
    services: &Services,
    caller: &MemberId,
    limit: i64,
) -> Result<Vec<CheckView>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let m = Membership::load(conn, &caller)?;
            let keys = m.audience_keys();
            let rows =
                queries::list_checks(conn, &keys, &m.member_id, m.household_id.as_ref(), limit)?;
            rows.into_iter()
                .map(|(check, answer)| {
                    let hans = queries::hans_of(conn, &check.id)?;
                    let name = queries::display_name(conn, &check.started_by)?;
                    let for_household = reaches(&check, &hans, &keys);
                    Ok(CheckView {
                        check,
                        hans,
                        starter_name: Some(name),
                        answer,
                        for_household,
                        // Asked of `get`, where it matters: a list stays a list.
                        status_visible: false,
                    })
                })
                .collect()
        })
        .await
}

/// Whether the check reaches a household with these keys.
fn reaches(check: &SafetyCheck, hans: &[HanId], household_keys: &[AudienceKey]) -> bool {
    check
        .audience(hans)
        .keys()
        .iter()
        .any(|k| household_keys.contains(k))
}

/// Who may follow a check's status, through `authz` with the check's district resolved.
fn status_view(
    conn: &mut AnyConnection,
    p: &Principal,
    check: &SafetyCheck,
    hans: &[HanId],
) -> Result<Option<StatusView>, ApiError> {
    let district = match (check.tier, check.scope_id.as_deref()) {
        (Tier::District, Some(d)) => Some(DistrictId(d.to_string())),
        (Tier::Association, Some(a)) => {
            queries::district_of(conn, &crate::domain::AssociationId(a.to_string()))?
        }
        _ => None,
    };
    Ok(authz::safety_status_view(
        p,
        check.audience(hans),
        district.as_ref(),
    ))
}

/// A check the caller may see: its audience, whoever follows its status, its starter.
/// Anyone else gets 404.
struct Seen {
    principal: Principal,
    check: SafetyCheck,
    hans: Vec<HanId>,
    view: Option<StatusView>,
    in_audience: bool,
}

fn seen_check(
    conn: &mut AnyConnection,
    caller: &MemberId,
    id: &SafetyCheckId,
) -> Result<Seen, ApiError> {
    let principal = Principal::load(conn, caller)?;
    let check = queries::find_check(conn, id)?.ok_or(ApiError::NotFound("safety check"))?;
    let hans = queries::hans_of(conn, id)?;
    let in_audience = reaches(&check, &hans, &principal.audience_keys());
    let view = status_view(conn, &principal, &check, &hans)?;
    let started = principal.member_id == check.started_by;
    require_visible(in_audience || view.is_some() || started, "safety check")?;
    Ok(Seen {
        principal,
        check,
        hans,
        view,
        in_audience,
    })
}

/// One check, with the caller's household's answer.
pub async fn get(
    services: &Services,
    caller: &MemberId,
    id: SafetyCheckId,
) -> Result<CheckView, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let seen = seen_check(conn, &caller, &id)?;
            let answer = match (&seen.principal.household_id, seen.in_audience) {
                (Some(h), true) => queries::answer_of(conn, &id, h)?,
                _ => None,
            };
            let names_shown = seen.in_audience
                || seen.principal.member_id == seen.check.started_by
                || matches!(
                    seen.view,
                    Some(StatusView::Hans(_) | StatusView::Association(_))
                );
            let starter_name = if names_shown {
                Some(queries::display_name(conn, &seen.check.started_by)?)
            } else {
                None
            };
            Ok(CheckView {
                check: seen.check,
                hans: seen.hans,
                starter_name,
                answer,
                for_household: seen.in_audience && seen.principal.household_id.is_some(),
                status_visible: seen.view.is_some(),
            })
        })
        .await
}

/// Answers a check for the caller's household, or as an officer or 班長 for a household they
/// visited. A later answer replaces the earlier one; every answer is kept in the history.
/// Returns once the answer is durably stored. Idempotent: the same answer again changes only
/// its time.
pub async fn answer(
    services: &Services,
    caller: &MemberId,
    id: SafetyCheckId,
    new: NewAnswer,
) -> Result<(), ApiError> {
    let (caller, new_repeat) = (caller.clone(), new.repeat_is_noop);
    let places = services.inbox_cache.clone();
    // Reads and checks on the pool, concurrently; only the write goes to the group commit.
    // The member's place comes from memory when it is there (D83), as a confirmation's does.
    let answer = services
        .db
        .run(move |conn| {
            let m = places.membership(conn, &caller)?;
            let check =
                queries::find_check(conn, &id)?.ok_or(ApiError::NotFound("safety check"))?;
            let hans = match check.tier {
                Tier::Association => queries::hans_of(conn, &id)?,
                _ => Vec::new(),
            };
            let own = new.household.is_none() || new.household == m.household_id;
            let household = if own && reaches(&check, &hans, &m.audience_keys()) {
                m.household_id
                    .clone()
                    .ok_or(ApiError::NotFound("safety check"))?
            } else {
                household_answered_for(conn, &caller, &check, &hans, new.household.as_ref())?
            };
            if check.closed_at.is_some() {
                return Err(queries::closed());
            }
            let answer = SafetyAnswer {
                safety_check_id: id,
                household_id: household,
                status: new.status,
                note: new.note,
                answered_by: m.member_id.clone(),
                on_behalf: !own,
                answered_at: now(),
            };
            Ok(answer)
        })
        .await?;
    services
        .group_commit
        .record_answer(queries::AnswerWrite {
            answer,
            repeat_is_noop: new_repeat,
        })
        .await
}

/// The household an officer or 班長 answers for. A check the caller may not see, a
/// household they may not act for: 404. Their own association's household outside the
/// check's audience: 422.
fn household_answered_for(
    conn: &mut AnyConnection,
    caller: &MemberId,
    check: &SafetyCheck,
    hans: &[HanId],
    household: Option<&HouseholdId>,
) -> Result<HouseholdId, ApiError> {
    let p = Principal::load(conn, caller)?;
    let visible = status_view(conn, &p, check, hans)?.is_some() || p.member_id == check.started_by;
    require_visible(visible, "safety check")?;
    let household = household.ok_or(ApiError::NotFound("safety check"))?;
    let (found, reached) = audience_household(conn, check.audience(hans), household)?
        .ok_or(ApiError::NotFound("household"))?;
    require_visible(
        authz::may_answer_for(&p, &found.association_id, found.han_id.as_ref()),
        "household",
    )?;
    if !reached {
        return Err(ApiError::Validation(
            ErrorCode::HouseholdNotInAudience,
            "this safety check does not reach that household".into(),
        ));
    }
    Ok(found.id)
}

/// The households a view covers, as a query scope over the check's audience, and how they
/// are grouped.
fn scoped<'a>(
    view: &'a StatusView,
    check: &'a SafetyCheck,
    hans: &'a [HanId],
) -> (Audience<'a>, ReceiptScope, Grouping) {
    let audience = check.audience(hans);
    match view {
        StatusView::Hans(led) => (audience, ReceiptScope::Hans(led.clone()), Grouping::Han),
        StatusView::Association(a) => (
            audience,
            ReceiptScope::Association(a.clone()),
            Grouping::Han,
        ),
        // A city-wide check narrowed to the officer's district; narrower checks are in it.
        StatusView::District(_) if check.tier != Tier::City => {
            (audience, ReceiptScope::Audience, Grouping::Association)
        }
        StatusView::District(d) => (
            Audience {
                tier: Tier::District,
                scope_id: Some(d.as_str()),
                hans: &[],
            },
            ReceiptScope::Audience,
            Grouping::Association,
        ),
        StatusView::City => (audience, ReceiptScope::Audience, Grouping::District),
    }
}

/// The status of a check as `view` allows; a read that lists households is audited.
fn follow(
    conn: &mut AnyConnection,
    p: &Principal,
    check: &SafetyCheck,
    hans: &[HanId],
    view: &StatusView,
) -> Result<SafetyStatusResponse, ApiError> {
    let (audience, scope, grouping) = scoped(view, check, hans);
    let rows = queries::status_rows(conn, &check.id, audience, &scope)?;
    let names = if grouping == Grouping::District {
        let mut ids: Vec<DistrictId> = rows.iter().map(|r| r.district_id.clone()).collect();
        ids.sort();
        ids.dedup();
        queries::district_names(conn, ids)?
    } else {
        BTreeMap::new()
    };
    let response = group_status(&rows, grouping, check.closed_at.is_some(), &names);
    if grouping == Grouping::Han {
        let detail = serde_json::json!({
            "safety_check_id": check.id.as_str(),
            "rows": response.listed(),
        });
        write_transaction(conn, |conn| {
            audit::record(
                conn,
                p,
                AuditAction::SafetyStatusRead,
                "safety_check",
                Some(check.id.as_str()),
                p.association_id.as_ref(),
                detail,
            )
        })?;
    }
    Ok(response)
}

/// Live status of a check. Officers and 班長 see their households per han, with those
/// needing help and those not yet answered listed (an audited read); district officers
/// counts per association; city staff counts per district, never a household.
pub async fn status(
    services: &Services,
    caller: &MemberId,
    id: SafetyCheckId,
) -> Result<SafetyStatusResponse, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let seen = seen_check(conn, &caller, &id)?;
            let view = seen.view.ok_or(ApiError::NotFound("safety check"))?;
            follow(conn, &seen.principal, &seen.check, &seen.hans, &view)
        })
        .await
}

/// The open checks reaching a district with their status, for its district officers (and
/// the city): those the caller may follow, as `status` shows them.
pub async fn open_in_district(
    services: &Services,
    caller: &MemberId,
    district: DistrictId,
) -> Result<Vec<(SafetyCheck, SafetyStatusResponse)>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            require(authz::may_see_district_stats(&p, &district))?;
            let mut followed = Vec::new();
            for check in queries::open_checks_reaching(conn, &district)? {
                let hans = queries::hans_of(conn, &check.id)?;
                if let Some(view) = status_view(conn, &p, &check, &hans)? {
                    let status = follow(conn, &p, &check, &hans, &view)?;
                    followed.push((check, status));
                }
            }
            Ok(followed)
        })
        .await
}

/// The open checks reaching an association's district whose status the caller may follow,
/// newest first: what the officer's desk lists. Reads no household, so nothing to audit.
pub async fn open_followed(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
) -> Result<Vec<SafetyCheck>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let p = Principal::load(conn, &caller)?;
            let Some(district) = queries::district_of(conn, &association)? else {
                return Ok(Vec::new());
            };
            let mut followed = Vec::new();
            for check in queries::open_checks_reaching(conn, &district)? {
                let hans = queries::hans_of(conn, &check.id)?;
                if status_view(conn, &p, &check, &hans)?.is_some() {
                    followed.push(check);
                }
            }
            Ok(followed)
        })
        .await
}

/// One answer in a household's history.
pub struct HistoryEntry {
    pub answer: crate::db::models::SafetyAnswerRecord,
    pub answered_by: String,
}

/// Every answer of one household, oldest first (its officers and 班長). Audited.
pub async fn history(
    services: &Services,
    caller: &MemberId,
    id: SafetyCheckId,
    household: HouseholdId,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let seen = seen_check(conn, &caller, &id)?;
            let (found, reached) =
                audience_household(conn, seen.check.audience(&seen.hans), &household)?
                    .ok_or(ApiError::NotFound("household"))?;
            require_visible(
                reached
                    && authz::may_answer_for(
                        &seen.principal,
                        &found.association_id,
                        found.han_id.as_ref(),
                    ),
                "household",
            )?;
            let items = queries::history(conn, &id, &household)?
                .into_iter()
                .map(|(answer, answered_by)| HistoryEntry {
                    answer,
                    answered_by,
                })
                .collect();
            let detail = serde_json::json!({"safety_check_id": id.as_str()});
            write_transaction(conn, |conn| {
                audit::record(
                    conn,
                    &seen.principal,
                    AuditAction::SafetyHistoryRead,
                    "household",
                    Some(household.as_str()),
                    Some(&found.association_id),
                    detail,
                )
            })?;
            Ok(items)
        })
        .await
}

/// Reminds the households not yet answered, within what the caller may follow (an urgent
/// push to their members only). Returns the households reminded and the notifications
/// queued.
pub async fn remind(
    services: &Services,
    caller: &MemberId,
    id: SafetyCheckId,
) -> Result<(usize, usize), ApiError> {
    let caller = caller.clone();
    let reminded = services
        .db
        .run(move |conn| {
            let seen = seen_check(conn, &caller, &id)?;
            let view = seen.view.ok_or(ApiError::NotFound("safety check"))?;
            if seen.check.closed_at.is_some() {
                return Err(queries::closed());
            }
            let (audience, scope, _) = scoped(&view, &seen.check, &seen.hans);
            let households: Vec<HouseholdId> = queries::status_rows(conn, &id, audience, &scope)?
                .into_iter()
                .filter(|row| row.status.is_none())
                .map(|row| row.household_id)
                .collect();
            let job = queries::check_job(&seen.check, "safety_reminder");
            let deliveries = write_transaction(conn, |conn| {
                reminder_cool_down(
                    conn,
                    &caller,
                    AuditAction::SafetyReminderSent,
                    id.as_str(),
                    SAFETY_REMINDER_COOL_DOWN,
                )?;
                let deliveries =
                    push_queries::enqueue(conn, &job, Recipients::Households(&households), None)?;
                let detail = serde_json::json!({
                    "safety_check_id": id.as_str(),
                    "households": households.len(),
                });
                audit::record(
                    conn,
                    &seen.principal,
                    AuditAction::SafetyReminderSent,
                    "safety_check",
                    Some(id.as_str()),
                    seen.principal.association_id.as_ref(),
                    detail,
                )?;
                Ok::<_, ApiError>(deliveries)
            })?;
            Ok((households.len(), deliveries))
        })
        .await?;
    services.wake_push.notify_one();
    Ok(reminded)
}

/// Closes a check (whoever started it, or an admin). Its record and answers stay; later
/// answers are refused. Audited.
pub async fn close(
    services: &Services,
    caller: &MemberId,
    id: SafetyCheckId,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let seen = seen_check(conn, &caller, &id)?;
            require(authz::may_close_safety_check(
                &seen.principal,
                &seen.check.started_by,
            ))?;
            write_transaction(conn, |conn| {
                if !queries::close_check(conn, &id, &seen.principal.member_id)? {
                    return Err(queries::closed());
                }
                let detail = serde_json::json!({"safety_check_id": id.as_str()});
                audit::record(
                    conn,
                    &seen.principal,
                    AuditAction::SafetyCheckClosed,
                    "safety_check",
                    Some(id.as_str()),
                    seen.principal.association_id.as_ref(),
                    detail,
                )?;
                Ok(())
            })
        })
        .await
}
