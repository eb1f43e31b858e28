//! The durable outbox every channel shares (push, email, LINE): workers claim due
//! deliveries of their channel, record outcomes, retry with back-off, give claims back on
//! shutdown; a withdrawn circular cancels what is still pending.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use crate::db::schema::{push_deliveries, push_jobs, push_subscriptions};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::{Channel, FailureReason, PostId, PushSubscriptionId};

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
/// The subscription was gone (404/410) and has been deleted.
pub const GONE: &str = "gone";
/// The circular was withdrawn before this was sent.
pub const CANCELLED: &str = "cancelled";

/// Deliveries named by key in one statement (SQLite binds at most 32,766 values).
const KEYS_PER_STATEMENT: usize = 500;

/// A claimed delivery's key.
#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Text)]
    job_id: String,
    #[diesel(sql_type = Text)]
    subscription_id: String,
}

/// Claims up to `limit` due deliveries under `claim` until `until`, and returns their keys.
/// PostgreSQL skips rows other workers hold; SQLite has a single worker.
fn claim_due(
    conn: &mut AnyConnection,
    channel: Channel,
    claim: &str,
    at: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    const PICK: &str = "SELECT job_id, subscription_id FROM push_deliveries \
         WHERE channel = {channel} AND status = 'pending' AND next_attempt_at <= {at} AND (claimed_until IS NULL OR claimed_until < {at}) \
         ORDER BY next_attempt_at LIMIT {limit}";
    crate::with_backend!(conn,
        pg(c) => diesel::sql_query(format!(
            "UPDATE push_deliveries SET claimed_by = $1, claimed_until = $2 WHERE (job_id, subscription_id) IN ({} FOR UPDATE SKIP LOCKED) RETURNING job_id, subscription_id",
            PICK.replace("{at}", "$3").replace("{limit}", "$4").replace("{channel}", "$5")
        ))
        .bind::<Text, _>(claim)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(at)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .bind::<Text, _>(channel.as_str())
        .load(c),
        sqlite(c) => diesel::sql_query(format!(
            "UPDATE push_deliveries SET claimed_by = ?1, claimed_until = ?2 WHERE (job_id, subscription_id) IN ({}) RETURNING job_id, subscription_id",
            // Numbered: {at} appears twice, and a bare `?` would take the next value.
            PICK.replace("{at}", "?3").replace("{limit}", "?4").replace("{channel}", "?5")
        ))
        .bind::<Text, _>(claim)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(at)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .bind::<Text, _>(channel.as_str())
        .load(c),
    )
}

/// Everything the sender needs for one delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub job_id: String,
    /// The member's address on the channel: a push subscription, an email address row.
    pub subscription_id: PushSubscriptionId,
    pub attempts: i32,
    pub kind: String,
    pub post_id: Option<PostId>,
    /// None when the subscription was deleted meanwhile.
    pub endpoint: Option<String>,
    pub p256dh: String,
    pub auth: String,
    pub payload: String,
    pub topic: String,
    pub urgent: bool,
}

/// Claims a batch under `claim` (an id of its own, so a worker may hold several) and loads it.
pub fn claim_batch(
    conn: &mut AnyConnection,
    channel: Channel,
    claim: &str,
    limit: i64,
    claim_secs: i64,
) -> QueryResult<Vec<Delivery>> {
    let at = now();
    let claimed = write_transaction(conn, |conn| {
        claim_due(
            conn,
            channel,
            claim,
            at,
            at + Duration::seconds(claim_secs),
            limit,
        )
    })?;
    // Loaded by primary key, one job at a time: a plan that cannot go wrong whatever the
    // planner believes of the table, which a fan-out changes faster than statistics follow.
    let mut by_job: BTreeMap<String, Vec<PushSubscriptionId>> = BTreeMap::new();
    for Claimed {
        job_id,
        subscription_id,
    } in claimed
    {
        by_job
            .entry(job_id)
            .or_default()
            .push(PushSubscriptionId(subscription_id));
    }
    let mut deliveries = Vec::new();
    for (job, subscriptions) in &by_job {
        for chunk in subscriptions.chunks(KEYS_PER_STATEMENT) {
            deliveries.extend(load_claimed(conn, job, chunk)?);
        }
    }
    Ok(deliveries)
}

/// Claimed deliveries of one job, less those withdrawn, or whose subscription was found
/// gone, since they were claimed.
fn load_claimed(
    conn: &mut AnyConnection,
    job: &str,
    subscriptions: &[PushSubscriptionId],
) -> QueryResult<Vec<Delivery>> {
    type Row = (
        String,
        PushSubscriptionId,
        i32,
        String,
        Option<PostId>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
        bool,
        String,
    );
    let rows: Vec<Row> = push_deliveries::table
        .inner_join(push_jobs::table)
        .left_join(
            push_subscriptions::table
                .on(push_subscriptions::id.eq(push_deliveries::subscription_id)),
        )
        // The status is checked below: in the query, PostgreSQL may intersect the key with
        // every pending row's index entry, 300,000 in a fan-out.
        .filter(push_deliveries::job_id.eq(job))
        .filter(push_deliveries::subscription_id.eq_any(subscriptions))
        .select((
            push_deliveries::job_id,
            push_deliveries::subscription_id,
            push_deliveries::attempts,
            push_jobs::kind,
            push_jobs::post_id,
            push_subscriptions::endpoint.nullable(),
            push_subscriptions::p256dh.nullable(),
            push_subscriptions::auth.nullable(),
            push_jobs::payload,
            push_jobs::topic,
            push_jobs::urgent,
            push_deliveries::status,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|row| row.11 == PENDING)
        .map(
            |(
                job_id,
                subscription_id,
                attempts,
                kind,
                post_id,
                endpoint,
                p256dh,
                auth,
                payload,
                topic,
                urgent,
                _status,
            )| Delivery {
                job_id,
                subscription_id,
                attempts,
                kind,
                post_id,
                endpoint,
                p256dh: p256dh.unwrap_or_default(),
                auth: auth.unwrap_or_default(),
                payload,
                topic,
                urgent,
            },
        )
        .collect())
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(u16),
    /// 404 or 410: the subscription no longer exists.
    Gone(u16),
    /// 429, 5xx, a time-out or a broken connection: try again after the delay.
    Retry {
        status: Option<u16>,
        after_secs: u64,
    },
    /// Refused for a reason retrying will not fix (our bug): logged, not retried.
    Rejected(u16),
    /// Not sent: the endpoint or the addresses its name resolves to are not allowed
    /// (`push.allowed_hosts`, private networks). Failed, not retried; the subscription stays,
    /// so its fate tells its owner nothing about what lies behind the URL.
    Refused,
    /// Nothing left to send (a digest whose circulars were all withdrawn): not sent.
    Cancelled,
}

/// Records a batch's outcomes in one transaction and releases the claims.
pub fn record_outcomes(
    conn: &mut AnyConnection,
    results: &[(Delivery, Outcome)],
    max_attempts: i32,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        let at = now();
        // Most of a batch was delivered: one statement per job, status and attempt count,
        // not one per row.
        let mut delivered: std::collections::HashMap<(&str, i32, u16), Vec<&PushSubscriptionId>> =
            std::collections::HashMap::new();
        for (delivery, outcome) in results {
            if let Outcome::Delivered(status) = outcome {
                delivered
                    .entry((delivery.job_id.as_str(), delivery.attempts + 1, *status))
                    .or_default()
                    .push(&delivery.subscription_id);
            }
        }
        for ((job_id, attempts, status), subscriptions) in delivered {
            for chunk in subscriptions.chunks(KEYS_PER_STATEMENT) {
                diesel::update(
                    push_deliveries::table
                        .filter(push_deliveries::job_id.eq(job_id))
                        .filter(push_deliveries::subscription_id.eq_any(chunk.iter().copied())),
                )
                .set((
                    push_deliveries::status.eq(DONE),
                    push_deliveries::attempts.eq(attempts),
                    push_deliveries::last_status.eq(i32::from(status)),
                    push_deliveries::finished_at.eq(at),
                    push_deliveries::claimed_by.eq(None::<String>),
                ))
                .execute(conn)?;
            }
        }
        for (delivery, outcome) in results {
            let key = push_deliveries::table.find((&delivery.job_id, &delivery.subscription_id));
            let attempts = delivery.attempts + 1;
            match outcome {
                Outcome::Delivered(_) => {}
                Outcome::Gone(status) => {
                    diesel::delete(push_subscriptions::table.find(&delivery.subscription_id))
                        .execute(conn)?;
                    diesel::update(
                        push_deliveries::table
                            .filter(push_deliveries::subscription_id.eq(&delivery.subscription_id))
                            .filter(push_deliveries::status.eq(PENDING)),
                    )
                    .set((
                        push_deliveries::status.eq(GONE),
                        push_deliveries::finished_at.eq(at),
                    ))
                    .execute(conn)?;
                    diesel::update(key)
                        .set((
                            push_deliveries::attempts.eq(attempts),
                            push_deliveries::last_status.eq(i32::from(*status)),
                        ))
                        .execute(conn)?;
                }
                Outcome::Retry { status, after_secs } if attempts < max_attempts => {
                    let delay = Duration::seconds(i64::try_from(*after_secs).unwrap_or(3600));
                    diesel::update(key)
                        .set((
                            push_deliveries::attempts.eq(attempts),
                            push_deliveries::last_status.eq(status.map(i32::from)),
                            push_deliveries::next_attempt_at.eq(at + delay),
                            push_deliveries::claimed_until.eq(None::<NaiveDateTime>),
                            push_deliveries::claimed_by.eq(None::<String>),
                        ))
                        .execute(conn)?;
                }
                Outcome::Retry { status, .. } => fail(conn, delivery, attempts, *status, at)?,
                Outcome::Rejected(status) => fail(conn, delivery, attempts, Some(*status), at)?,
                Outcome::Refused => fail(conn, delivery, attempts, None, at)?,
                Outcome::Cancelled => {
                    diesel::update(key)
                        .set((
                            push_deliveries::status.eq(CANCELLED),
                            push_deliveries::finished_at.eq(at),
                            push_deliveries::claimed_by.eq(None::<String>),
                        ))
                        .execute(conn)?;
                }
            }
        }
        Ok(())
    })
}

fn fail(
    conn: &mut AnyConnection,
    delivery: &Delivery,
    attempts: i32,
    status: Option<u16>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(push_deliveries::table.find((&delivery.job_id, &delivery.subscription_id)))
        .set((
            push_deliveries::status.eq(FAILED),
            push_deliveries::attempts.eq(attempts),
            push_deliveries::last_status.eq(status.map(i32::from)),
            push_deliveries::finished_at.eq(at),
            push_deliveries::claimed_by.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Releases a claim's unsent deliveries (shutdown), so another worker takes them at once.
pub fn release_claims(conn: &mut AnyConnection, claim: &str) -> QueryResult<usize> {
    diesel::update(
        push_deliveries::table
            .filter(push_deliveries::claimed_by.eq(claim))
            .filter(push_deliveries::status.eq(PENDING)),
    )
    .set((
        push_deliveries::claimed_by.eq(None::<String>),
        push_deliveries::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}

/// A withdrawn circular: what is still pending on any channel is not sent.
pub fn cancel_for_post(conn: &mut AnyConnection, post: &PostId) -> QueryResult<usize> {
    diesel::update(
        push_deliveries::table
            .filter(push_deliveries::status.eq(PENDING))
            .filter(
                push_deliveries::job_id.eq_any(
                    push_jobs::table
                        .filter(push_jobs::post_id.eq(post))
                        .select(push_jobs::id),
                ),
            ),
    )
    .set((
        push_deliveries::status.eq(CANCELLED),
        push_deliveries::finished_at.eq(now()),
    ))
    .execute(conn)
}

#[derive(Debug, Default, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryCounts {
    pub sent: i64,
    pub failed: i64,
    pub pending: i64,
    /// Subscriptions found gone (404/410) and removed.
    pub gone: i64,
    /// Not sent because the circular was withdrawn first.
    pub cancelled: i64,
}

impl DeliveryCounts {
    fn add(&mut self, status: &str, n: i64) {
        match status {
            DONE => self.sent += n,
            FAILED => self.failed += n,
            GONE => self.gone += n,
            CANCELLED => self.cancelled += n,
            _ => self.pending += n,
        }
    }
}

/// Delivery figures for everything sent about a post: in all, and per channel.
pub fn post_delivery_counts(
    conn: &mut AnyConnection,
    post: &PostId,
) -> QueryResult<(DeliveryCounts, Vec<(Channel, DeliveryCounts)>)> {
    let rows: Vec<(String, String, i64)> = push_deliveries::table
        .inner_join(push_jobs::table)
        .filter(push_jobs::post_id.eq(post))
        .group_by((push_deliveries::channel, push_deliveries::status))
        .select((
            push_deliveries::channel,
            push_deliveries::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let mut total = DeliveryCounts::default();
    let mut per_channel: Vec<(Channel, DeliveryCounts)> = Channel::ALL
        .iter()
        .map(|c| (*c, DeliveryCounts::default()))
        .collect();
    for (channel, status, n) in rows {
        total.add(&status, n);
        if let Some((_, counts)) = per_channel.iter_mut().find(|(c, _)| c.as_str() == channel) {
            counts.add(&status, n);
        }
    }
    Ok((total, per_channel))
}

/// A post's failed deliveries, counted per channel and reason, most first.
pub fn post_delivery_failures(
    conn: &mut AnyConnection,
    post: &PostId,
) -> QueryResult<Vec<(Channel, FailureReason, i64)>> {
    let rows: Vec<(String, Option<i32>, i64)> = push_deliveries::table
        .inner_join(push_jobs::table)
        .filter(push_jobs::post_id.eq(post))
        .filter(push_deliveries::status.eq(FAILED))
        .group_by((push_deliveries::channel, push_deliveries::last_status))
        .select((
            push_deliveries::channel,
            push_deliveries::last_status,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let mut failures: Vec<(Channel, FailureReason, i64)> = Vec::new();
    for (channel, status, n) in rows {
        let Ok(channel) = channel.parse::<Channel>() else {
            continue;
        };
        let reason = FailureReason::of(channel, status);
        match failures
            .iter_mut()
            .find(|(c, r, _)| *c == channel && *r == reason)
        {
            Some((_, _, count)) => *count += n,
            None => failures.push((channel, reason, n)),
        }
    }
    failures.sort_by_key(|(channel, reason, n)| (-n, channel.as_str(), reason.as_str()));
    Ok(failures)
}
