//! A member's push subscriptions and notification preferences, and a post's delivery
//! figures for its managers. Reminders to the unconfirmed are in `receipts.rs`.

use crate::actions::Services;
use crate::actions::access::managed_post;
use crate::authz::Principal;
use crate::db::models::PushSubscription;
use crate::db::queries::digests;
use crate::db::queries::outbox::{DeliveryCounts, post_delivery_counts, post_delivery_failures};
use crate::db::queries::push as queries;
use crate::domain::{Category, MemberId, PostId, PushSubscriptionId};
use crate::domain::{Channel, FailureReason};
use crate::error::ApiError;

/// Registers a browser or device (already checked at the edge); the same endpoint again
/// updates it. A member keeps at most `keep`: the oldest beyond it are replaced.
pub async fn subscribe(
    services: &Services,
    caller: &MemberId,
    subscription: PushSubscription,
    keep: i64,
) -> Result<PushSubscription, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(queries::subscribe(conn, &subscription, keep)?)
        })
        .await
}

pub async fn subscriptions(
    services: &Services,
    caller: &MemberId,
) -> Result<Vec<PushSubscription>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(queries::list_subscriptions(conn, &caller)?)
        })
        .await
}

/// Stops notifications to one of the caller's own subscriptions; 404 for anyone else's.
pub async fn unsubscribe(
    services: &Services,
    caller: &MemberId,
    id: PushSubscriptionId,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    let deleted = services
        .db
        .run(move |conn| Ok(queries::unsubscribe(conn, &caller, &id)?))
        .await?;
    if deleted {
        Ok(())
    } else {
        Err(ApiError::NotFound("subscription"))
    }
}

/// The categories that do not notify the caller.
pub async fn muted(services: &Services, caller: &MemberId) -> Result<Vec<Category>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(queries::muted(conn, &caller)?)
        })
        .await
}

/// Sets the categories that do not notify the caller; returns them sorted, each once.
pub async fn set_muted(
    services: &Services,
    caller: &MemberId,
    mut muted: Vec<Category>,
) -> Result<Vec<Category>, ApiError> {
    muted.sort_by_key(|c| c.as_str());
    muted.dedup();
    let (caller, stored) = (caller.clone(), muted.clone());
    services
        .db
        .run(move |conn| {
            Principal::load(conn, &caller)?;
            Ok(queries::set_muted(conn, &caller, &muted)?)
        })
        .await?;
    Ok(stored)
}

/// A post's notification figures: in all, per channel, and why deliveries failed.
pub struct Deliveries {
    pub total: DeliveryCounts,
    /// Every channel, in `Channel::ALL` order, with zeros where nothing was sent.
    pub per_channel: Vec<(Channel, DeliveryCounts)>,
    /// Failed deliveries per channel and reason, most first.
    pub failures: Vec<(Channel, FailureReason, i64)>,
    /// Members whose mail about it waits for their daily digest (D70).
    pub digest_waiting: i64,
}

impl Deliveries {
    pub fn of(&self, channel: Channel) -> DeliveryCounts {
        self.per_channel
            .iter()
            .find(|(c, _)| *c == channel)
            .map(|(_, counts)| *counts)
            .unwrap_or_default()
    }
}

/// Notification figures for a post (its managers): in all, per channel, and failures.
pub async fn deliveries(
    services: &Services,
    caller: &MemberId,
    id: PostId,
) -> Result<Deliveries, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            managed_post(conn, &caller, &id)?;
            let (total, per_channel) = post_delivery_counts(conn, &id)?;
            let failures = post_delivery_failures(conn, &id)?;
            let digest_waiting = digests::waiting_for_post(conn, &id)?;
            Ok(Deliveries {
                total,
                per_channel,
                failures,
                digest_waiting,
            })
        })
        .await
}
