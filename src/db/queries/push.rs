//! Push subscriptions, muted categories, and writing notification jobs into the outbox: one
//! delivery per recipient address on each channel (push subscriptions, verified email).

use crate::domain::new_id;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamp};

use crate::db::changes::{Change, announce};
use crate::db::models::{Post, PushJob, PushSubscription};
use crate::db::schema::{
    associations, event_reminder_declines, households, line_links, member_emails, members,
    muted_categories, muted_channels, push_deliveries, push_jobs, push_subscriptions,
};
use crate::db::schema_channels::{email_digest_entries, email_digest_members};
use crate::db::{AnyConnection, now, write_transaction};
use crate::domain::Audience;
use crate::domain::{
    AssociationId, Category, Channel, DistrictId, HouseholdId, MemberId, PostId,
    PushSubscriptionId, Tier,
};

use crate::db::queries::district_scope::in_district;
use crate::db::queries::outbox::PENDING;

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
#[derive(Clone, Copy)]
pub enum Recipients<'a> {
    /// Everyone an audience reaches, less those who muted the category (unless urgent).
    Audience(Audience<'a>),
    /// These households' members (a reminder to the unconfirmed).
    Households(&'a [HouseholdId]),
    /// An audience less the households that declined the post's event
    /// (`event_reminder_declines`), an event's reminder.
    AudienceLessDeclines(Audience<'a>, &'a PostId),
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

/// Narrows a boxed query over members, households and associations to the recipients, less
/// those who turned the channel off, or (unless urgent) muted the category.
macro_rules! recipients_filter {
    ($targets:expr, $recipients:expr, $category:expr, $job:expr, $channel:expr) => {{
        let mut targets = $targets
            .filter(members::disabled.eq(false))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                muted_channels::table
                    .filter(muted_channels::member_id.eq(members::id))
                    .filter(muted_channels::channel.eq($channel.as_str())),
            )));
        match $recipients {
            Recipients::Audience(Audience {
                tier,
                scope_id,
                hans,
            })
            | Recipients::AudienceLessDeclines(
                Audience {
                    tier,
                    scope_id,
                    hans,
                },
                _,
            ) => {
                let scope = scope_id.unwrap_or_default().to_string();
                targets = match tier {
                    Tier::City => targets,
                    Tier::District => targets.filter(in_district(DistrictId(scope))),
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
        if let Recipients::AudienceLessDeclines(_, post) = $recipients {
            targets = targets.filter(diesel::dsl::not(diesel::dsl::exists(
                event_reminder_declines::table
                    .filter(event_reminder_declines::post_id.eq(post.clone()))
                    .filter(event_reminder_declines::household_id.eq(households::id)),
            )));
        }
        if let (Some(category), false) = ($category, $job.urgent) {
            targets = targets.filter(diesel::dsl::not(diesel::dsl::exists(
                muted_categories::table
                    .filter(muted_categories::member_id.eq(members::id))
                    .filter(muted_categories::category.eq(category.as_str())),
            )));
        }
        targets
    }};
}

/// Inserts one pending delivery per address in `$table` (its id column `$address`) of the
/// recipients on `$channel`, optionally narrowed by `$only`; evaluates to the row count.
macro_rules! insert_channel_deliveries {
    ($conn:expr, $table:expr, $address:expr, $channel:expr, $job:expr, $recipients:expr, $category:expr, $at:expr $(, only: $only:expr)?) => {{
        let targets = recipients_filter!(
            $table
                // Flat joins: SQLite materializes a parenthesized (nested) join in full.
                .inner_join(members::table)
                .inner_join(households::table.on(households::id.nullable().eq(members::household_id)))
                .inner_join(associations::table.on(associations::id.eq(households::association_id)))
                $(.filter($only))?
                .into_boxed(),
            $recipients,
            $category,
            $job,
            $channel
        );
        diesel::insert_into(push_deliveries::table)
            .values(targets.select((
                $job.id.clone().into_sql::<Text>(),
                $address,
                PENDING.into_sql::<Text>(),
                0.into_sql::<Integer>(),
                $at.into_sql::<Timestamp>(),
                $channel.as_str().into_sql::<Text>(),
            )))
            .into_columns((
                push_deliveries::job_id,
                push_deliveries::subscription_id,
                push_deliveries::status,
                push_deliveries::attempts,
                push_deliveries::next_attempt_at,
                push_deliveries::channel,
            ))
            .execute($conn)?
    }};
}

fn insert_deliveries(
    conn: &mut AnyConnection,
    job: &PushJob,
    recipients: Recipients<'_>,
    category: Option<Category>,
) -> QueryResult<usize> {
    let at = now();
    let pushed = insert_channel_deliveries!(
        conn,
        push_subscriptions::table,
        push_subscriptions::id,
        Channel::Push,
        job,
        recipients,
        category,
        at
    );
    // A new circular that is not urgent waits for the daily members' digest (D70).
    let digested = job.kind == DIGESTED_KIND && !job.urgent;
    let in_digest = || {
        diesel::dsl::exists(
            email_digest_members::table.filter(email_digest_members::member_id.eq(members::id)),
        )
    };
    // Mail only to a verified address, and not now to those who take the digest.
    let mailed = if digested {
        insert_channel_deliveries!(
            conn,
            member_emails::table,
            member_emails::id,
            Channel::Email,
            job,
            recipients,
            category,
            at,
            only: member_emails::verified_at
                .is_not_null()
                .and(diesel::dsl::not(in_digest()))
        )
    } else {
        insert_channel_deliveries!(
            conn,
            member_emails::table,
            member_emails::id,
            Channel::Email,
            job,
            recipients,
            category,
            at,
            only: member_emails::verified_at.is_not_null()
        )
    };
    if let (true, Some(post)) = (digested, &job.post_id) {
        let daily = recipients_filter!(
            member_emails::table
                .inner_join(members::table)
                .inner_join(
                    households::table.on(households::id.nullable().eq(members::household_id))
                )
                .inner_join(associations::table.on(associations::id.eq(households::association_id)))
                .filter(member_emails::verified_at.is_not_null())
                .filter(in_digest())
                .into_boxed(),
            recipients,
            category,
            job,
            Channel::Email
        );
        diesel::insert_into(email_digest_entries::table)
            .values(daily.select((
                members::id,
                post.as_str().to_string().into_sql::<Text>(),
                at.into_sql::<Timestamp>(),
            )))
            .into_columns((
                email_digest_entries::member_id,
                email_digest_entries::post_id,
                email_digest_entries::added_at,
            ))
            .execute(conn)?;
    }
    let lined = insert_channel_deliveries!(
        conn,
        line_links::table,
        line_links::id,
        Channel::Line,
        job,
        recipients,
        category,
        at
    );
    Ok(pushed + mailed + lined)
}

/// The kind of job whose mails daily members take in their digest: a new circular.
pub const DIGESTED_KIND: &str = "post";

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

/// Deletes a subscription; what was still to be sent to it is marked gone.
fn remove_subscription(
    conn: &mut AnyConnection,
    id: &PushSubscriptionId,
    at: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(push_subscriptions::table.find(id)).execute(conn)?;
    diesel::update(
        push_deliveries::table
            .filter(push_deliveries::subscription_id.eq(id))
            .filter(push_deliveries::status.eq(PENDING)),
    )
    .set((
        push_deliveries::status.eq(super::outbox::GONE),
        push_deliveries::finished_at.eq(at),
    ))
    .execute(conn)
    .map(drop)
}
