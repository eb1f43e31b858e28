//! Safety checks (安否確認): starting one (with its urgent push), answers and their history,
//! the live status.

use crate::domain::new_id;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::{
    PushJob, SafetyAnswer, SafetyAnswerRecord, SafetyCheck, SafetyCheckAudience, SafetyCheckHan,
};
use crate::db::queries::posts::within;
use crate::db::queries::push::{self, Recipients};
use crate::db::schema::{
    associations, districts, hans, households, members, safety_answer_history, safety_answers,
    safety_check_audiences, safety_check_hans, safety_checks,
};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{
    AssociationId, DistrictId, HanId, HouseholdId, MemberId, SafetyCheckId, SafetyStatus, StatusRow,
};
use crate::domain::{Audience, AudienceKey, ReceiptScope, Tier};
use crate::error::{ApiError, ErrorCode};

/// The urgent notification of a check (kind `safety_check` or `safety_reminder`).
pub fn check_job(check: &SafetyCheck, kind: &str) -> PushJob {
    // The payload stays small; the client fetches the check for the whole message.
    let title: String = check.message.chars().take(100).collect();
    let payload = serde_json::json!({
        "type": kind,
        "safety_check_id": check.id,
        "title": title,
        "tier": check.tier,
        "scope_id": check.scope_id,
        "priority": "urgent",
    });
    PushJob {
        id: new_id(),
        kind: kind.to_string(),
        post_id: None,
        topic: push::topic_for(check.id.as_str()),
        payload: payload.to_string(),
        urgent: true,
        created_at: now(),
    }
}

/// Stores a check and queues its push to every member of its audience, whatever
/// categories they muted, in one transaction. Returns the number of deliveries queued.
pub fn create_check(
    conn: &mut AnyConnection,
    check: &SafetyCheck,
    hans: &[HanId],
) -> QueryResult<usize> {
    write_transaction(conn, |conn| {
        diesel::insert_into(safety_checks::table)
            .values(check)
            .execute(conn)?;
        for han in hans {
            diesel::insert_into(safety_check_hans::table)
                .values(SafetyCheckHan {
                    safety_check_id: check.id.clone(),
                    han_id: han.clone(),
                })
                .execute(conn)?;
        }
        let audience = check.audience(hans);
        for key in audience.keys() {
            diesel::insert_into(safety_check_audiences::table)
                .values(SafetyCheckAudience {
                    scope_key: key,
                    safety_check_id: check.id.clone(),
                })
                .execute(conn)?;
        }
        let job = check_job(check, "safety_check");
        push::enqueue(conn, &job, Recipients::Audience(audience), None)
    })
}

pub fn find_check(
    conn: &mut AnyConnection,
    id: &SafetyCheckId,
) -> QueryResult<Option<SafetyCheck>> {
    safety_checks::table
        .find(id)
        .select(SafetyCheck::as_select())
        .first(conn)
        .optional()
}

pub fn hans_of(conn: &mut AnyConnection, id: &SafetyCheckId) -> QueryResult<Vec<HanId>> {
    safety_check_hans::table
        .filter(safety_check_hans::safety_check_id.eq(id))
        .select(safety_check_hans::han_id)
        .order(safety_check_hans::han_id.asc())
        .load(conn)
}

/// A household's current answer.
pub fn answer_of(
    conn: &mut AnyConnection,
    id: &SafetyCheckId,
    household: &HouseholdId,
) -> QueryResult<Option<SafetyAnswer>> {
    safety_answers::table
        .find((id, household))
        .select(SafetyAnswer::as_select())
        .first(conn)
        .optional()
}

/// Checks under any of `keys` (the member's audience keys) or started by `member`: open
/// ones first, then newest first, with the household's answer.
pub fn list_checks(
    conn: &mut AnyConnection,
    keys: &[AudienceKey],
    member: &MemberId,
    household: Option<&HouseholdId>,
    limit: i64,
) -> QueryResult<Vec<(SafetyCheck, Option<SafetyAnswer>)>> {
    let household = household.cloned().unwrap_or(HouseholdId(String::new()));
    safety_checks::table
        .left_join(
            safety_answers::table.on(safety_answers::safety_check_id
                .eq(safety_checks::id)
                .and(safety_answers::household_id.eq(household))),
        )
        .filter(
            safety_checks::id
                .eq_any(
                    safety_check_audiences::table
                        .filter(safety_check_audiences::scope_key.eq_any(keys.to_vec()))
                        .select(safety_check_audiences::safety_check_id),
                )
                .or(safety_checks::started_by.eq(member)),
        )
        .select((
            SafetyCheck::as_select(),
            Option::<SafetyAnswer>::as_select(),
        ))
        .order((
            safety_checks::closed_at.is_not_null().asc(),
            safety_checks::started_at.desc(),
            safety_checks::id.desc(),
        ))
        .limit(limit)
        .load(conn)
}

/// An answer waiting in the group commit. With `repeat_is_noop`, an answer the same as the
/// household's current one (status, note, who, on whose behalf) stores nothing: a form sent
/// twice by the offline queue counts once.
#[derive(Debug, Clone)]
pub struct AnswerWrite {
    pub answer: SafetyAnswer,
    pub repeat_is_noop: bool,
}

/// Rows per multi-row statement: 7 columns each, well under PostgreSQL's 65,535 parameters.
const ROWS_PER_STATEMENT: usize = 1_000;

/// A household's answer replaces the one it had.
macro_rules! upsert_answers {
    ($c:expr, $values:expr) => {{
        use diesel::upsert::excluded;
        use safety_answers::dsl::{
            answered_at, answered_by, household_id, note, on_behalf, safety_check_id, status,
        };
        diesel::insert_into(safety_answers::table)
            .values($values)
            .on_conflict((safety_check_id, household_id))
            .do_update()
            .set((
                status.eq(excluded(status)),
                note.eq(excluded(note)),
                answered_by.eq(excluded(answered_by)),
                on_behalf.eq(excluded(on_behalf)),
                answered_at.eq(excluded(answered_at)),
            ))
            .execute($c)
    }};
}
/// Records a batch of answers and returns each one's outcome (a closed or unknown check
/// refuses its answers alone). PostgreSQL takes the batch in a few statements whatever its
/// size: one read of the checks, one of the current answers, one multi-row upsert and one
/// multi-row history insert per thousand answers. SQLite has no round trips to save and
/// Diesel no multi-row upsert for it, so it writes row by row.
pub fn record_answers(
    conn: &mut AnyConnection,
    writes: &[AnswerWrite],
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    let check_ids: Vec<&SafetyCheckId> = writes
        .iter()
        .map(|w| &w.answer.safety_check_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let checks = safety_checks::table
        .filter(safety_checks::id.eq_any(&check_ids))
        .select((safety_checks::id, safety_checks::closed_at));
    // PostgreSQL: a share lock, so a close committing meanwhile is seen (or waits for us).
    // SQLite's single writer already orders the two.
    let open: BTreeMap<SafetyCheckId, bool> = crate::with_backend!(conn,
        pg(c) => checks.for_share().load::<(SafetyCheckId, Option<NaiveDateTime>)>(c),
        sqlite(c) => checks.load::<(SafetyCheckId, Option<NaiveDateTime>)>(c),
    )?
    .into_iter()
    .map(|(id, closed_at)| (id, closed_at.is_none()))
    .collect();

    let mut current: BTreeMap<(SafetyCheckId, HouseholdId), SafetyAnswer> = BTreeMap::new();
    if writes.iter().any(|w| w.repeat_is_noop) {
        let households: HashSet<&HouseholdId> =
            writes.iter().map(|w| &w.answer.household_id).collect();
        current = safety_answers::table
            .filter(safety_answers::safety_check_id.eq_any(&check_ids))
            .filter(safety_answers::household_id.eq_any(households))
            .select(SafetyAnswer::as_select())
            .load(conn)?
            .into_iter()
            .map(|a| ((a.safety_check_id.clone(), a.household_id.clone()), a))
            .collect();
    }

    // In the batch's order, as if each were written alone after the one before.
    let mut outcomes = Vec::with_capacity(writes.len());
    let mut history = Vec::new();
    for write in writes {
        let answer = &write.answer;
        let outcome = match open.get(&answer.safety_check_id) {
            None => Err(ApiError::NotFound("safety check")),
            Some(false) => Err(closed()),
            Some(true) => Ok(()),
        };
        let key = (answer.safety_check_id.clone(), answer.household_id.clone());
        let repeat = write.repeat_is_noop
            && current.get(&key).is_some_and(|a| {
                (a.status, &a.note, &a.answered_by, a.on_behalf)
                    == (
                        answer.status,
                        &answer.note,
                        &answer.answered_by,
                        answer.on_behalf,
                    )
            });
        if outcome.is_ok() && !repeat {
            current.insert(key, answer.clone());
            history.push(answer.record(new_id()));
        }
        outcomes.push(outcome);
    }
    // One row per household, its last answer: an upsert may not touch a row twice.
    let answered: BTreeSet<(SafetyCheckId, HouseholdId)> = history
        .iter()
        .map(|h| (h.safety_check_id.clone(), h.household_id.clone()))
        .collect();
    let latest: Vec<SafetyAnswer> = answered
        .iter()
        .filter_map(|key| current.get(key).cloned())
        .collect();
    match conn {
        AnyConnection::Postgresql(c) => {
            for rows in latest.chunks(ROWS_PER_STATEMENT) {
                upsert_answers!(c, rows)?;
            }
            for rows in history.chunks(ROWS_PER_STATEMENT) {
                diesel::insert_into(safety_answer_history::table)
                    .values(rows)
                    .execute(c)?;
            }
        }
        AnyConnection::Sqlite(c) => {
            for row in &latest {
                upsert_answers!(c, row)?;
            }
            for row in &history {
                diesel::insert_into(safety_answer_history::table)
                    .values(row)
                    .execute(c)?;
            }
        }
    }
    Ok(outcomes)
}

pub fn closed() -> ApiError {
    ApiError::Conflict(
        ErrorCode::SafetyCheckClosed,
        "this safety check is closed and takes no more answers".into(),
    )
}

/// Closes an open check; false when it was already closed.
pub fn close_check(
    conn: &mut AnyConnection,
    id: &SafetyCheckId,
    by: &MemberId,
) -> QueryResult<bool> {
    let changed = diesel::update(
        safety_checks::table
            .find(id)
            .filter(safety_checks::closed_at.is_null()),
    )
    .set((
        safety_checks::closed_at.eq(now()),
        safety_checks::closed_by.eq(by),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// The households of `audience` within `scope`, by han then label, with their answers.
pub fn status_rows(
    conn: &mut AnyConnection,
    id: &SafetyCheckId,
    audience: Audience<'_>,
    scope: &ReceiptScope,
) -> QueryResult<Vec<StatusRow>> {
    let query = households::table
        .inner_join(associations::table)
        .left_join(hans::table)
        .left_join(
            safety_answers::table.on(safety_answers::household_id
                .eq(households::id)
                .and(safety_answers::safety_check_id.eq(id.clone()))),
        )
        .left_join(members::table.on(members::id.eq(safety_answers::answered_by)))
        .select((
            (
                households::id,
                households::label,
                households::paper,
                households::han_id,
                hans::name.nullable(),
            ),
            (
                households::association_id,
                associations::name,
                associations::district_id,
            ),
            (
                safety_answers::status.nullable(),
                safety_answers::note.nullable(),
                safety_answers::answered_at.nullable(),
                safety_answers::on_behalf.nullable(),
                members::display_name.nullable(),
            ),
        ))
        .order((
            // Households without a han last, on both backends (NULLs sort differently).
            hans::name.is_null().asc(),
            hans::name.asc(),
            households::label.asc(),
            households::id.asc(),
        ))
        .into_boxed();
    type Row = (
        (HouseholdId, String, bool, Option<HanId>, Option<String>),
        (AssociationId, String, DistrictId),
        (
            Option<SafetyStatus>,
            Option<String>,
            Option<NaiveDateTime>,
            Option<bool>,
            Option<String>,
        ),
    );
    let rows: Vec<Row> = within(query, audience, scope).load(conn)?;
    let asked: HashSet<HouseholdId> = safety_answer_history::table
        .filter(safety_answer_history::safety_check_id.eq(id))
        .filter(safety_answer_history::status.eq(SafetyStatus::NeedsHelp))
        .select(safety_answer_history::household_id)
        .distinct()
        .load::<HouseholdId>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(
            |(
                (household_id, label, paper, han_id, han),
                (association_id, association, district_id),
                (status, note, answered_at, on_behalf, answered_by),
            )| StatusRow {
                asked_for_help: asked.contains(&household_id),
                household_id,
                label,
                paper,
                han_id,
                han,
                association_id,
                association,
                district_id,
                status,
                note,
                answered_at,
                on_behalf: on_behalf.unwrap_or(false),
                answered_by,
            },
        )
        .collect())
}

/// Every answer a household gave, oldest first, with who gave it.
pub fn history(
    conn: &mut AnyConnection,
    id: &SafetyCheckId,
    household: &HouseholdId,
) -> QueryResult<Vec<(SafetyAnswerRecord, String)>> {
    safety_answer_history::table
        .inner_join(members::table.on(members::id.eq(safety_answer_history::answered_by)))
        .filter(safety_answer_history::safety_check_id.eq(id))
        .filter(safety_answer_history::household_id.eq(household))
        .select((SafetyAnswerRecord::as_select(), members::display_name))
        .order((
            safety_answer_history::answered_at.asc(),
            safety_answer_history::id.asc(),
        ))
        .load(conn)
}

/// A member's display name (the starter of a check).
pub fn display_name(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<String> {
    members::table
        .find(member)
        .select(members::display_name)
        .first(conn)
}

/// The district an association belongs to, if it exists.
pub fn district_of(
    conn: &mut AnyConnection,
    association: &AssociationId,
) -> QueryResult<Option<DistrictId>> {
    associations::table
        .find(association)
        .select(associations::district_id)
        .first(conn)
        .optional()
}

/// The names of these districts (public, unlike anything about their households).
pub fn district_names(
    conn: &mut AnyConnection,
    ids: Vec<DistrictId>,
) -> QueryResult<BTreeMap<DistrictId, String>> {
    Ok(districts::table
        .filter(districts::id.eq_any(ids))
        .select((districts::id, districts::name))
        .load::<(DistrictId, String)>(conn)?
        .into_iter()
        .collect())
}

/// Open checks that reach a district: the city's, the district's, and its associations'
/// (whole or some hans), newest first.
pub fn open_checks_reaching(
    conn: &mut AnyConnection,
    district: &DistrictId,
) -> QueryResult<Vec<SafetyCheck>> {
    let its_associations = associations::table
        .filter(associations::district_id.eq(district.clone()))
        .select(associations::id.nullable());
    safety_checks::table
        .filter(safety_checks::closed_at.is_null())
        .filter(
            safety_checks::tier
                .eq(Tier::City)
                .or(safety_checks::tier
                    .eq(Tier::District)
                    .and(safety_checks::scope_id.eq(Some(district.as_str().to_string()))))
                .or(safety_checks::tier
                    .eq(Tier::Association)
                    .and(safety_checks::scope_id.eq_any(its_associations))),
        )
        .order((safety_checks::started_at.desc(), safety_checks::id.desc()))
        .limit(20)
        .select(SafetyCheck::as_select())
        .load(conn)
}
