//! The push outbox: subscriptions, jobs and their deliveries, claimed by the worker.

use crate::domain::new_id;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamp};

use crate::db::changes::{Change, announce};
use crate::db::models::{Post, PushJob, PushSubscription};
use crate::db::schema::{
    associations, households, members, muted_categories, push_deliveries, push_jobs,
    push_subscriptions,
};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::Audience;
use crate::domain::{
    AssociationId, Category, DistrictId, HouseholdId, MemberId, PostId, PushSubscriptionId, Tier,
};

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
/// The subscription was gone (404/410) and has been deleted.
pub const GONE: &str = "gone";

/// Adds a subscription, or moves an existing endpoint to this member (a shared browser);
/// then keeps only the member's newest `keep`, so nobody piles up endpoints for every post
/// to fan out to.
pub fn subscribe(
    conn: &mut AnyConnection,
    subscription: &PushSubscription,
    keep: i64,
) -> QueryResult<PushSubscription> {
    write_transaction(conn, |conn| {
        let stored = upsert_subscription(conn, subscription)?;
        let others: Vec<PushSubscriptionId> = push_subscriptions::table
            .filter(push_subscriptions::member_id.eq(&subscription.member_id))
            .filter(push_subscriptions::id.ne(&stored.id))
            .order((
                push_subscriptions::created_at.desc(),
                push_subscriptions::id.desc(),
            ))
            .select(push_subscriptions::id)
            .load(conn)?;
        let others_kept = usize::try_from(keep - 1).unwrap_or(0);
        let at = now();
        for id in others.iter().skip(others_kept) {
            remove_subscription(conn, id, at)?;
        }
        Ok(stored)
    })
}

fn upsert_subscription(
    conn: &mut AnyConnection,
    subscription: &PushSubscription,
) -> QueryResult<PushSubscription> {
    let existing = push_subscriptions::table
        .filter(push_subscriptions::endpoint.eq(&subscription.endpoint))
        .select(PushSubscription::as_select())
        .first(conn)
        .optional()?;
    match existing {
        Some(found) => {
            diesel::update(push_subscriptions::table.find(&found.id))
                .set((
                    push_subscriptions::member_id.eq(&subscription.member_id),
                    push_subscriptions::p256dh.eq(&subscription.p256dh),
                    push_subscriptions::auth.eq(&subscription.auth),
                ))
                .execute(conn)?;
            push_subscriptions::table
                .find(&found.id)
                .select(PushSubscription::as_select())
                .first(conn)
        }
        None => {
            diesel::insert_into(push_subscriptions::table)
                .values(subscription)
                .execute(conn)?;
            Ok(subscription.clone())
        }
    }
}

pub fn list_subscriptions(
    conn: &mut AnyConnection,
    member: &MemberId,
) -> QueryResult<Vec<PushSubscription>> {
    push_subscriptions::table
        .filter(push_subscriptions::member_id.eq(member))
        .select(PushSubscription::as_select())
        .order(push_subscriptions::created_at.asc())
        .load(conn)
}

/// Deletes one of the member's own subscriptions; false when there was none.
pub fn unsubscribe(
    conn: &mut AnyConnection,
    member: &MemberId,
    id: &PushSubscriptionId,
) -> QueryResult<bool> {
    let deleted = diesel::delete(
        push_subscriptions::table
            .filter(push_subscriptions::id.eq(id))
            .filter(push_subscriptions::member_id.eq(member)),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

pub fn muted(conn: &mut AnyConnection, member: &MemberId) -> QueryResult<Vec<Category>> {
    muted_categories::table
        .filter(muted_categories::member_id.eq(member))
        .select(muted_categories::category)
        .order(muted_categories::category.asc())
        .load::<String>(conn)
        .map(|rows| rows.iter().filter_map(|c| c.parse().ok()).collect())
}

pub fn set_muted(
    conn: &mut AnyConnection,
    member: &MemberId,
    categories: &[Category],
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        diesel::delete(muted_categories::table.filter(muted_categories::member_id.eq(member)))
            .execute(conn)?;
        for category in categories {
            diesel::insert_into(muted_categories::table)
                .values((
                    muted_categories::member_id.eq(member),
                    muted_categories::category.eq(category.as_str()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Who a notification goes to.
pub enum Recipients<'a> {
    /// Everyone an audience reaches, less those who muted the category (unless urgent).
    Audience(Audience<'a>),
    /// These households' members (a reminder to the unconfirmed).
    Households(&'a [HouseholdId]),
}

/// Writes a job and one pending delivery per recipient subscription, in the caller's
/// transaction. Returns the number of deliveries.
pub fn enqueue(
    conn: &mut AnyConnection,
    job: &PushJob,
    recipients: Recipients<'_>,
    category: Option<Category>,
) -> QueryResult<usize> {
    diesel::insert_into(push_jobs::table)
        .values(job)
        .execute(conn)?;
    // Wakes the workers of every instance when this commits.
    announce(conn, &[Change::Push])?;
    match recipients {
        // A list as long as a city's households is more than one statement may bind.
        Recipients::Households(list) => {
            list.chunks(HOUSEHOLDS_PER_STATEMENT)
                .try_fold(0, |sum, chunk| {
                    Ok(
                        sum + insert_deliveries(
                            conn,
                            job,
                            Recipients::Households(chunk),
                            category,
                        )?,
                    )
                })
        }
        audience => insert_deliveries(conn, job, audience, category),
    }
}

const HOUSEHOLDS_PER_STATEMENT: usize = 5_000;

fn insert_deliveries(
    conn: &mut AnyConnection,
    job: &PushJob,
    recipients: Recipients<'_>,
    category: Option<Category>,
) -> QueryResult<usize> {
    let at = now();
    let mut targets = push_subscriptions::table
        // Flat joins: SQLite materializes a parenthesized (nested) join in full.
        .inner_join(members::table)
        .inner_join(households::table.on(households::id.nullable().eq(members::household_id)))
        .inner_join(associations::table.on(associations::id.eq(households::association_id)))
        .filter(members::disabled.eq(false))
        .into_boxed();
    match recipients {
        Recipients::Audience(Audience {
            tier,
            scope_id,
            hans,
        }) => {
            let scope = scope_id.unwrap_or_default().to_string();
            targets = match tier {
                Tier::City => targets,
                Tier::District => targets.filter(associations::district_id.eq(DistrictId(scope))),
                Tier::Association => {
                    targets.filter(households::association_id.eq(AssociationId(scope)))
                }
            };
            if !hans.is_empty() {
                targets = targets.filter(households::han_id.eq_any(hans.to_vec()));
            }
        }
        Recipients::Households(list) => {
            targets = targets.filter(households::id.eq_any(list.to_vec()));
        }
    }
    if let (Some(category), false) = (category, job.urgent) {
        targets = targets.filter(diesel::dsl::not(diesel::dsl::exists(
            muted_categories::table
                .filter(muted_categories::member_id.eq(members::id))
                .filter(muted_categories::category.eq(category.as_str())),
        )));
    }
    let rows = targets.select((
        job.id.clone().into_sql::<Text>(),
        push_subscriptions::id,
        PENDING.into_sql::<Text>(),
        0.into_sql::<Integer>(),
        at.into_sql::<Timestamp>(),
    ));
    let columns = (
        push_deliveries::job_id,
        push_deliveries::subscription_id,
        push_deliveries::status,
        push_deliveries::attempts,
        push_deliveries::next_attempt_at,
    );
    diesel::insert_into(push_deliveries::table)
        .values(rows)
        .into_columns(columns)
        .execute(conn)
}

/// The notification for a published post.
pub fn post_job(post: &Post, kind: &str) -> PushJob {
    let payload = serde_json::json!({
        "type": kind,
        "post_id": post.id,
        "title": post.title,
        "tier": post.tier,
        "scope_id": post.scope_id,
        "priority": post.priority,
    });
    PushJob {
        id: new_id(),
        kind: kind.to_string(),
        post_id: Some(post.id.clone()),
        topic: topic_for(post.id.as_str()),
        payload: payload.to_string(),
        urgent: post.priority == crate::domain::Priority::Urgent,
        created_at: now(),
    }
}

/// A Topic header value (≤ 32 URL-safe characters) for everything about one thing.
pub fn topic_for(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect()
}

/// A post's title changed: notifications still queued here carry the new one.
pub fn retitle_queued(conn: &mut AnyConnection, post: &Post) -> QueryResult<()> {
    let jobs: Vec<PushJob> = push_jobs::table
        .filter(push_jobs::post_id.eq(&post.id))
        .filter(diesel::dsl::exists(
            push_deliveries::table
                .filter(push_deliveries::job_id.eq(push_jobs::id))
                .filter(push_deliveries::status.eq(PENDING)),
        ))
        .select(PushJob::as_select())
        .load(conn)?;
    for job in jobs {
        let mut payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or_default();
        payload["title"] = serde_json::Value::String(post.title.clone());
        diesel::update(push_jobs::table.find(&job.id))
            .set(push_jobs::payload.eq(payload.to_string()))
            .execute(conn)?;
    }
    Ok(())
}

/// Claims up to `limit` due deliveries for this worker until `until`. PostgreSQL skips rows
/// other workers hold; SQLite has a single worker.
fn claim(
    conn: &mut AnyConnection,
    worker: &str,
    at: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    const PICK: &str = "SELECT job_id, subscription_id FROM push_deliveries \
         WHERE status = 'pending' AND next_attempt_at <= {at} AND (claimed_until IS NULL OR claimed_until < {at}) \
         ORDER BY next_attempt_at LIMIT {limit}";
    crate::with_backend!(conn,
        pg(c) => diesel::sql_query(format!(
            "UPDATE push_deliveries SET claimed_by = $1, claimed_until = $2 WHERE (job_id, subscription_id) IN ({} FOR UPDATE SKIP LOCKED)",
            PICK.replace("{at}", "$3").replace("{limit}", "$4")
        ))
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(at)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .execute(c),
        sqlite(c) => diesel::sql_query(format!(
            "UPDATE push_deliveries SET claimed_by = ?1, claimed_until = ?2 WHERE (job_id, subscription_id) IN ({})",
            // Numbered: {at} appears twice, and a bare `?` would take the next value.
            PICK.replace("{at}", "?3").replace("{limit}", "?4")
        ))
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(at)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .execute(c),
    )
}

/// Everything the sender needs for one delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub job_id: String,
    pub subscription_id: PushSubscriptionId,
    pub attempts: i32,
    /// None when the subscription was deleted meanwhile.
    pub endpoint: Option<String>,
    pub p256dh: String,
    pub auth: String,
    pub payload: String,
    pub topic: String,
    pub urgent: bool,
}

/// Claims a batch and loads it.
pub fn claim_batch(
    conn: &mut AnyConnection,
    worker: &str,
    limit: i64,
    claim_secs: i64,
) -> QueryResult<Vec<Delivery>> {
    let at = now();
    let claimed = write_transaction(conn, |conn| {
        claim(conn, worker, at, at + Duration::seconds(claim_secs), limit)
    })?;
    if claimed == 0 {
        return Ok(Vec::new());
    }
    type Row = (
        String,
        PushSubscriptionId,
        i32,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
        bool,
    );
    let rows: Vec<Row> = push_deliveries::table
        .inner_join(push_jobs::table)
        .left_join(
            push_subscriptions::table
                .on(push_subscriptions::id.eq(push_deliveries::subscription_id)),
        )
        .filter(push_deliveries::claimed_by.eq(worker))
        .filter(push_deliveries::status.eq(PENDING))
        .select((
            push_deliveries::job_id,
            push_deliveries::subscription_id,
            push_deliveries::attempts,
            push_subscriptions::endpoint.nullable(),
            push_subscriptions::p256dh.nullable(),
            push_subscriptions::auth.nullable(),
            push_jobs::payload,
            push_jobs::topic,
            push_jobs::urgent,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                job_id,
                subscription_id,
                attempts,
                endpoint,
                p256dh,
                auth,
                payload,
                topic,
                urgent,
            )| Delivery {
                job_id,
                subscription_id,
                attempts,
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
            for chunk in subscriptions.chunks(500) {
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
                    remove_subscription(conn, &delivery.subscription_id, at)?;
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
            }
        }
        Ok(())
    })
}

/// Deletes a subscription; what was still to be sent to it is marked gone.
fn remove_subscription(
    conn: &mut AnyConnection,
    id: &PushSubscriptionId,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(push_subscriptions::table.find(id)).execute(conn)?;
    diesel::update(
        push_deliveries::table
            .filter(push_deliveries::subscription_id.eq(id))
            .filter(push_deliveries::status.eq(PENDING)),
    )
    .set((
        push_deliveries::status.eq(GONE),
        push_deliveries::finished_at.eq(at),
    ))
    .execute(conn)
    .map(drop)
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

/// Releases a worker's claims without sending (shutdown), so another worker takes them at once.
pub fn release_claims(conn: &mut AnyConnection, worker: &str) -> QueryResult<usize> {
    diesel::update(
        push_deliveries::table
            .filter(push_deliveries::claimed_by.eq(worker))
            .filter(push_deliveries::status.eq(PENDING)),
    )
    .set((
        push_deliveries::claimed_by.eq(None::<String>),
        push_deliveries::claimed_until.eq(None::<NaiveDateTime>),
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
}

/// Delivery figures for everything sent about a post.
pub fn post_delivery_counts(
    conn: &mut AnyConnection,
    post: &PostId,
) -> QueryResult<DeliveryCounts> {
    let rows: Vec<(String, i64)> = push_deliveries::table
        .inner_join(push_jobs::table)
        .filter(push_jobs::post_id.eq(post))
        .group_by(push_deliveries::status)
        .select((push_deliveries::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut counts = DeliveryCounts::default();
    for (status, n) in rows {
        match status.as_str() {
            DONE => counts.sent += n,
            FAILED => counts.failed += n,
            GONE => counts.gone += n,
            _ => counts.pending += n,
        }
    }
    Ok(counts)
}
