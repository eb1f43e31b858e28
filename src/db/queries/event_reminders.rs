//! The day-before reminder of events (行事): which are due, the claim that makes each go out
//! once (an `event_reminders` row written in the transaction that queues the outbox job),
//! re-arming after the event moves, and what the senders need to word it.

use std::collections::HashMap;

use chrono::{NaiveDateTime, NaiveTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::models::{Post, PostEvent, PushJob};
use crate::db::queries::outbox::{CANCELLED, PENDING};
use crate::db::queries::posts::post_hans_of;
use crate::db::queries::push::{self, Recipients};
use crate::db::schema::{
    event_reminder_declines, event_reminders, member_preferences, post_events, posts,
    push_deliveries, push_subscriptions, survey_questions, survey_responses,
};
use crate::db::{AnyConnection, Json, write_transaction};
use crate::domain::event::{REMINDER_LOOKAHEAD, reminder_due_at};
use crate::domain::{
    Answers, HouseholdId, MemberId, PostId, PostStatus, PushSubscriptionId, QuestionId, declines,
    new_id,
};

/// The outbox job's kind; its text is written per member when it is sent.
pub const KIND: &str = "event_reminder";

/// Queues every reminder due at `at` (events of published circulars starting after `at`
/// whose day-before `time` has come) that no process has queued yet. Safe to run from
/// several processes at once: the claim row's primary key lets one of them win.
pub fn queue_due(
    conn: &mut AnyConnection,
    at: NaiveDateTime,
    time: NaiveTime,
) -> QueryResult<Vec<PostId>> {
    let candidates: Vec<(PostId, NaiveDateTime)> = post_events::table
        .inner_join(posts::table)
        .filter(posts::status.eq(PostStatus::Published))
        .filter(post_events::starts_at.gt(at))
        .filter(post_events::starts_at.le(at + REMINDER_LOOKAHEAD))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            event_reminders::table.filter(event_reminders::post_id.eq(post_events::post_id)),
        )))
        .select((post_events::post_id, post_events::starts_at))
        .order(post_events::starts_at.asc())
        .load(conn)?;
    let mut queued = Vec::new();
    for (post, starts_at) in candidates {
        if reminder_due_at(starts_at, time) > at {
            continue;
        }
        match write_transaction(conn, |conn| claim_and_queue(conn, &post, at)) {
            Ok(true) => queued.push(post),
            Ok(false) => {}
            // Another process claimed it first.
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}

/// Claims the post's reminder and queues it to its audience less the households that
/// declined; false when the circular is no longer published.
fn claim_and_queue(conn: &mut AnyConnection, id: &PostId, at: NaiveDateTime) -> QueryResult<bool> {
    let post = posts::table
        .find(id)
        .filter(posts::status.eq(PostStatus::Published))
        .select(Post::as_select())
        .first(conn)
        .optional()?;
    let Some(post) = post else {
        return Ok(false);
    };
    let job = PushJob {
        id: new_id(),
        kind: KIND.to_string(),
        post_id: Some(post.id.clone()),
        topic: push::topic_for(post.id.as_str()),
        payload: serde_json::json!({"type": KIND, "post_id": post.id, "title": post.title})
            .to_string(),
        urgent: false,
        created_at: at,
    };
    // The claim first: a second process's insert fails here, before it queues anything.
    diesel::insert_into(event_reminders::table)
        .values((
            event_reminders::post_id.eq(&post.id),
            event_reminders::job_id.eq(&job.id),
            event_reminders::queued_at.eq(at),
        ))
        .execute(conn)?;
    let hans = post_hans_of(conn, &post.id)?;
    // Kept as rows (one statement each, as MultiBackend has no batch insert) so the
    // recipients leave them out by a subquery: a city-wide event's declines would exceed
    // what one statement may bind.
    for household in declined_households(conn, &post.id)? {
        diesel::insert_into(event_reminder_declines::table)
            .values((
                event_reminder_declines::post_id.eq(&post.id),
                event_reminder_declines::household_id.eq(household),
            ))
            .execute(conn)?;
    }
    push::enqueue(
        conn,
        &job,
        Recipients::AudienceLessDeclines(post.audience(&hans), &post.id),
        Some(post.category),
    )?;
    Ok(true)
}

/// The households whose answer to the circular's 出欠 declines (`domain::declines`).
fn declined_households(conn: &mut AnyConnection, post: &PostId) -> QueryResult<Vec<HouseholdId>> {
    let options: HashMap<QuestionId, Vec<String>> = survey_questions::table
        .filter(survey_questions::post_id.eq(post))
        .select((survey_questions::id, survey_questions::options))
        .load::<(QuestionId, Json<Vec<String>>)>(conn)?
        .into_iter()
        .map(|(id, options)| (id, options.0))
        .collect();
    if options.is_empty() {
        return Ok(Vec::new());
    }
    let responses: Vec<(HouseholdId, Json<Answers>)> = survey_responses::table
        .filter(survey_responses::post_id.eq(post))
        .select((survey_responses::household_id, survey_responses::answers))
        .load(conn)?;
    Ok(responses
        .into_iter()
        .filter(|(_, answers)| declines(&answers.0, |q| options.get(q).map(Vec::as_slice)))
        .map(|(household, _)| household)
        .collect())
}

/// The event moved or went: its reminder may go out again, for the new time, and a
/// reminder still queued for the old one is not sent.
pub fn rearm(conn: &mut AnyConnection, post: &PostId) -> QueryResult<()> {
    let job: Option<String> = event_reminders::table
        .find(post)
        .select(event_reminders::job_id)
        .first(conn)
        .optional()?;
    let Some(job) = job else {
        return Ok(());
    };
    diesel::delete(event_reminders::table.find(post)).execute(conn)?;
    diesel::delete(
        event_reminder_declines::table.filter(event_reminder_declines::post_id.eq(post)),
    )
    .execute(conn)?;
    diesel::update(
        push_deliveries::table
            .filter(push_deliveries::job_id.eq(&job))
            .filter(push_deliveries::status.eq(PENDING)),
    )
    .set((
        push_deliveries::status.eq(CANCELLED),
        push_deliveries::finished_at.eq(crate::db::now()),
    ))
    .execute(conn)
    .map(drop)
}

/// What a reminder says, loaded when it is sent: the circular's title and its event.
pub fn reminded_events(
    conn: &mut AnyConnection,
    ids: &[PostId],
) -> QueryResult<HashMap<PostId, (String, PostEvent)>> {
    Ok(post_events::table
        .inner_join(posts::table)
        .filter(post_events::post_id.eq_any(ids))
        .select((posts::title, PostEvent::as_select()))
        .load::<(String, PostEvent)>(conn)?
        .into_iter()
        .map(|(title, event)| (event.post_id.clone(), (title, event)))
        .collect())
}

/// The language each push subscription's member reads (none set: Japanese).
pub fn subscription_languages(
    conn: &mut AnyConnection,
    ids: &[PushSubscriptionId],
) -> QueryResult<HashMap<PushSubscriptionId, String>> {
    let members: Vec<(PushSubscriptionId, MemberId)> = push_subscriptions::table
        .filter(push_subscriptions::id.eq_any(ids))
        .select((push_subscriptions::id, push_subscriptions::member_id))
        .load(conn)?;
    let languages: HashMap<MemberId, String> = member_preferences::table
        .filter(member_preferences::member_id.eq_any(members.iter().map(|(_, m)| m)))
        .select((member_preferences::member_id, member_preferences::language))
        .load::<(MemberId, String)>(conn)?
        .into_iter()
        .collect();
    Ok(members
        .into_iter()
        .filter_map(|(subscription, member)| Some((subscription, languages.get(&member)?.clone())))
        .collect())
}
