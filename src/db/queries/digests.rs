//! The daily email digest (D70): the members who chose it, the circulars waiting for it
//! (written when a circular is published, `push::enqueue`), queuing a JST day's digest once,
//! and what each digest mail lists when it is sent.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Integer, Text, Timestamp};

use crate::db::changes::{Change, announce};
use crate::db::models::PushJob;
use crate::db::queries::outbox::PENDING;
use crate::db::schema::{
    member_emails, members, muted_channels, posts, push_deliveries, push_jobs,
};
use crate::db::schema_channels::{email_digest_entries, email_digest_members, email_digests};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{Channel, EmailFrequency, MemberId, PostId, PostStatus, new_id};

/// The outbox job's kind; each mail lists its member's circulars when it is sent.
pub const KIND: &str = "email_digest";

pub fn frequency(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<EmailFrequency> {
    let daily = email_digest_members::table
        .find(member)
        .count()
        .get_result::<i64>(conn)?;
    Ok(if daily > 0 {
        EmailFrequency::Daily
    } else {
        EmailFrequency::Immediate
    })
}

/// Sets how often the member's circulars come by mail. Circulars already waiting for a
/// digest stay in it.
pub fn set_frequency(
    conn: &mut AnyConnection,
    member: &MemberId,
    frequency: EmailFrequency,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        diesel::delete(email_digest_members::table.find(member)).execute(conn)?;
        if frequency == EmailFrequency::Daily {
            diesel::insert_into(email_digest_members::table)
                .values((
                    email_digest_members::member_id.eq(member),
                    email_digest_members::chosen_at.eq(now()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The JST day of `at`, when its digest hour has come.
fn due_day(at: NaiveDateTime, hour: u32) -> Option<String> {
    let jst = at + chrono::Duration::hours(9);
    (jst.hour() >= hour).then(|| jst.date().to_string())
}

/// Queues the digest of `at`'s JST day once its `hour` (JST) has come: one outbox job, one
/// delivery per member with circulars waiting and a verified address on a channel they
/// did not turn off. `None` when it is not yet time or the day was already queued (here,
/// or by another process: the day's row is the claim).
pub fn queue_due(
    conn: &mut AnyConnection,
    at: NaiveDateTime,
    hour: u32,
) -> QueryResult<Option<usize>> {
    let Some(day) = due_day(at, hour) else {
        return Ok(None);
    };
    let queued = email_digests::table
        .find(&day)
        .count()
        .get_result::<i64>(conn)?;
    if queued > 0 {
        return Ok(None);
    }
    match write_transaction(conn, |conn| queue(conn, &day, at)) {
        Ok(deliveries) => Ok(Some(deliveries)),
        // Another process queued this day first.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn queue(conn: &mut AnyConnection, day: &str, at: NaiveDateTime) -> QueryResult<usize> {
    let job = PushJob {
        id: new_id(),
        kind: KIND.to_string(),
        post_id: None,
        topic: format!("digest{}", day.replace('-', "")),
        payload: serde_json::json!({"type": KIND, "day": day}).to_string(),
        urgent: false,
        created_at: at,
    };
    // The claim first: a second process's insert fails here, before it queues anything.
    diesel::insert_into(email_digests::table)
        .values((
            email_digests::day.eq(day),
            email_digests::job_id.eq(&job.id),
            email_digests::queued_at.eq(at),
        ))
        .execute(conn)?;
    diesel::insert_into(push_jobs::table)
        .values(&job)
        .execute(conn)?;
    announce(conn, &[Change::Push])?;
    diesel::update(email_digest_entries::table.filter(email_digest_entries::job_id.is_null()))
        .set(email_digest_entries::job_id.eq(&job.id))
        .execute(conn)?;
    let targets = member_emails::table
        .inner_join(members::table)
        .filter(member_emails::verified_at.is_not_null())
        .filter(members::disabled.eq(false))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            muted_channels::table
                .filter(muted_channels::member_id.eq(members::id))
                .filter(muted_channels::channel.eq(Channel::Email.as_str())),
        )))
        .filter(diesel::dsl::exists(
            email_digest_entries::table
                .filter(email_digest_entries::member_id.eq(members::id))
                .filter(email_digest_entries::job_id.eq(&job.id)),
        ));
    diesel::insert_into(push_deliveries::table)
        .values(targets.select((
            job.id.clone().into_sql::<Text>(),
            member_emails::id,
            PENDING.into_sql::<Text>(),
            0.into_sql::<Integer>(),
            // Due at once (`at` is the job's clock, which tests set ahead).
            now().into_sql::<Timestamp>(),
            Channel::Email.as_str().into_sql::<Text>(),
        )))
        .into_columns((
            push_deliveries::job_id,
            push_deliveries::subscription_id,
            push_deliveries::status,
            push_deliveries::attempts,
            push_deliveries::next_attempt_at,
            push_deliveries::channel,
        ))
        .execute(conn)
}

/// One circular of a digest mail: (digest job, member, circular, its title, whether it asks
/// for confirmation).
pub type DigestLine = (Option<String>, MemberId, PostId, String, bool);

/// The circulars the digests `jobs` list for `members`, oldest first; withdrawn ones are
/// left out.
pub fn digest_posts(
    conn: &mut AnyConnection,
    jobs: &[String],
    members: &[MemberId],
) -> QueryResult<Vec<DigestLine>> {
    email_digest_entries::table
        .inner_join(posts::table)
        .filter(email_digest_entries::job_id.eq_any(jobs))
        .filter(email_digest_entries::member_id.eq_any(members))
        .filter(posts::status.eq(PostStatus::Published))
        .order((email_digest_entries::added_at.asc(), posts::id.asc()))
        .select((
            email_digest_entries::job_id,
            email_digest_entries::member_id,
            posts::id,
            posts::title,
            posts::requires_confirmation,
        ))
        .load(conn)
}

/// Members whose mail about `post` waits for their next digest.
pub fn waiting_for_post(conn: &mut AnyConnection, post: &PostId) -> QueryResult<i64> {
    email_digest_entries::table
        .filter(email_digest_entries::post_id.eq(post))
        .filter(email_digest_entries::job_id.is_null())
        .count()
        .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_due_from_its_jst_hour() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // 21:59 UTC is 06:59 JST the next day.
        assert_eq!(due_day(at("2026-12-03 21:59"), 7), None);
        assert_eq!(
            due_day(at("2026-12-03 22:00"), 7).as_deref(),
            Some("2026-12-04")
        );
        assert_eq!(
            due_day(at("2026-12-04 14:59"), 7).as_deref(),
            Some("2026-12-04")
        );
    }
}
