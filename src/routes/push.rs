//! Web Push: the server's public key, members' subscriptions and preferences, delivery
//! figures and reminders for a post.

use actix_web::{HttpResponse, delete, get, post, put, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::{Services, channels, push, receipts};
use crate::auth::AuthMember;
use crate::configuration::PushSettings;
use crate::db::models::PushSubscription;
use crate::db::now;
use crate::db::queries::outbox::DeliveryCounts;
use crate::domain::push_endpoint::EndpointPolicy;
use crate::domain::{Category, Channel, EmailFrequency, FailureReason, PostId, PushSubscriptionId};
use crate::error::ApiError;
use crate::push::VapidKey;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(vapid_public_key)
        .service(subscribe)
        .service(list_subscriptions)
        .service(unsubscribe)
        .service(get_preferences)
        .service(set_preferences)
        .service(post_deliveries)
        .service(remind);
}

const MAX_ENDPOINT_BYTES: usize = 2048;

#[derive(Serialize, ToSchema)]
pub struct VapidPublicKey {
    /// Uncompressed P-256 point, base64url: the applicationServerKey for PushManager.subscribe.
    pub public_key: String,
}

/// The server's VAPID public key, for browsers to subscribe with.
#[utoipa::path(tag = "push", responses((status = 200, body = VapidPublicKey)))]
#[get("/push/vapid-public-key")]
pub async fn vapid_public_key(key: web::Data<VapidKey>) -> HttpResponse {
    HttpResponse::Ok().json(VapidPublicKey {
        public_key: key.public_key.clone(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key, base64url (65 bytes).
    pub p256dh: String,
    /// The browser's auth secret, base64url (16 bytes).
    pub auth: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// As PushSubscription.toJSON() gives it; expirationTime and other fields are ignored.
    pub endpoint: String,
    pub keys: SubscriptionKeys,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionResponse {
    pub id: PushSubscriptionId,
    pub endpoint: String,
    pub created_at: DateTime<Utc>,
}

impl From<PushSubscription> for SubscriptionResponse {
    fn from(s: PushSubscription) -> Self {
        Self {
            id: s.id,
            endpoint: s.endpoint,
            created_at: s.created_at.and_utc(),
        }
    }
}

fn decoded_len(field: &str, value: &str, expected: usize) -> Result<Vec<u8>, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(value.trim().trim_end_matches('='))
        .map_err(|_| ApiError::validation(format!("keys.{field} is not base64url")))?;
    if bytes.len() != expected {
        return Err(ApiError::validation(format!(
            "keys.{field} must be {expected} bytes"
        )));
    }
    Ok(bytes)
}

/// Checks a subscription from a browser: an endpoint of sane length on a push service the
/// policy allows, and real keys.
pub fn check_subscription(
    request: &SubscribeRequest,
    policy: &EndpointPolicy,
) -> Result<(), ApiError> {
    let endpoint = request.endpoint.trim();
    if endpoint.len() > MAX_ENDPOINT_BYTES {
        return Err(ApiError::validation(format!(
            "endpoint must be at most {MAX_ENDPOINT_BYTES} bytes"
        )));
    }
    policy.check(endpoint).map_err(ApiError::validation)?;
    let point = decoded_len("p256dh", &request.keys.p256dh, 65)?;
    if point.first() != Some(&0x04) {
        return Err(ApiError::validation(
            "keys.p256dh must be an uncompressed P-256 point",
        ));
    }
    decoded_len("auth", &request.keys.auth, 16)?;
    Ok(())
}

/// Register this browser or device for notifications. The same endpoint again updates it.
#[utoipa::path(tag = "push", responses((status = 201, body = SubscriptionResponse), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/push/subscriptions")]
pub async fn subscribe(
    auth: AuthMember,
    body: web::Json<SubscribeRequest>,
    services: web::Data<Services>,
    settings: web::Data<PushSettings>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    check_subscription(&request, &settings.endpoint_policy())?;
    let subscription = PushSubscription {
        id: PushSubscriptionId::generate(),
        member_id: auth.0.clone(),
        endpoint: request.endpoint.trim().to_string(),
        p256dh: request.keys.p256dh.trim().trim_end_matches('=').to_string(),
        auth: request.keys.auth.trim().trim_end_matches('=').to_string(),
        created_at: now(),
    };
    let keep = settings.max_subscriptions_per_member;
    let stored = push::subscribe(&services, &auth.0, subscription, keep).await?;
    Ok(HttpResponse::Created().json(SubscriptionResponse::from(stored)))
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    pub items: Vec<SubscriptionResponse>,
}

/// Your subscriptions.
#[utoipa::path(tag = "push", responses((status = 200, body = SubscriptionList)), security(("bearer" = [])))]
#[get("/push/subscriptions")]
pub async fn list_subscriptions(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let items = push::subscriptions(&services, &auth.0).await?;
    Ok(HttpResponse::Ok().json(SubscriptionList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Stop notifications to one of your browsers or devices.
#[utoipa::path(tag = "push", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/push/subscriptions/{id}")]
pub async fn unsubscribe(
    auth: AuthMember,
    path: web::Path<PushSubscriptionId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    push::unsubscribe(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct NotificationPreferences {
    /// Categories that do not notify you. Urgent posts and safety checks always do.
    pub muted_categories: Vec<Category>,
    /// Where notices go: any of `push`, `email`, `line` (email only to a verified address,
    /// LINE only once linked); empty for none.
    pub channels: Vec<Channel>,
    /// `immediate`: a mail for each circular; `daily`: one digest a day at the configured
    /// JST hour listing the circulars since the last (urgent circulars, safety checks and
    /// reminders still come at once).
    pub email_frequency: EmailFrequency,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferencesUpdate {
    /// Left out: unchanged.
    pub muted_categories: Option<Vec<Category>>,
    /// Left out: unchanged.
    pub channels: Option<Vec<Channel>>,
    /// Left out: unchanged.
    pub email_frequency: Option<EmailFrequency>,
}

/// Which categories notify you, and on which channels.
#[utoipa::path(tag = "push", responses((status = 200, body = NotificationPreferences)), security(("bearer" = [])))]
#[get("/me/notification-preferences")]
pub async fn get_preferences(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(NotificationPreferences {
        muted_categories: push::muted(&services, &auth.0).await?,
        channels: channels::channels(&services, &auth.0).await?,
        email_frequency: channels::email_frequency(&services, &auth.0).await?,
    }))
}

/// Choose which categories notify you, and on which channels.
#[utoipa::path(tag = "push", request_body = NotificationPreferencesUpdate, responses((status = 200, body = NotificationPreferences), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[put("/me/notification-preferences")]
pub async fn set_preferences(
    auth: AuthMember,
    body: web::Json<NotificationPreferencesUpdate>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let update = body.into_inner();
    let muted_categories = match update.muted_categories {
        Some(muted) => push::set_muted(&services, &auth.0, muted).await?,
        None => push::muted(&services, &auth.0).await?,
    };
    let channels = match update.channels {
        Some(chosen) => channels::set_channels(&services, &auth.0, chosen).await?,
        None => channels::channels(&services, &auth.0).await?,
    };
    let email_frequency = match update.email_frequency {
        Some(chosen) => channels::set_email_frequency(&services, &auth.0, chosen).await?,
        None => channels::email_frequency(&services, &auth.0).await?,
    };
    Ok(HttpResponse::Ok().json(NotificationPreferences {
        muted_categories,
        channels,
        email_frequency,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PostDeliveries {
    /// Every channel together.
    #[serde(flatten)]
    pub total: DeliveryCounts,
    pub channels: ChannelDeliveries,
    /// Why deliveries failed, per channel and reason, most first (empty when none failed).
    pub failures: Vec<DeliveryFailure>,
    /// Members whose mail about it waits for their daily digest (not yet in
    /// `channels.email`).
    pub email_digest_waiting: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryFailure {
    pub channel: Channel,
    /// `refused` (for good), `deferred` (asked to retry until the attempts ran out),
    /// `unreachable` (no answer), `invalid` (the address or message was unusable).
    pub reason: FailureReason,
    pub count: i64,
}

impl From<push::Deliveries> for PostDeliveries {
    fn from(figures: push::Deliveries) -> Self {
        Self {
            total: figures.total,
            channels: ChannelDeliveries {
                push: figures.of(Channel::Push),
                email: figures.of(Channel::Email),
                line: figures.of(Channel::Line),
            },
            failures: figures
                .failures
                .into_iter()
                .map(|(channel, reason, count)| DeliveryFailure {
                    channel,
                    reason,
                    count,
                })
                .collect(),
            email_digest_waiting: figures.digest_waiting,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ChannelDeliveries {
    pub push: DeliveryCounts,
    pub email: DeliveryCounts,
    pub line: DeliveryCounts,
}

/// Notification figures for a post (its managers): in all and per channel.
#[utoipa::path(tag = "push", params(("id" = String, Path)), responses((status = 200, body = PostDeliveries), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/deliveries")]
pub async fn post_deliveries(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let figures = push::deliveries(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PostDeliveries::from(figures)))
}

#[derive(Serialize, ToSchema)]
pub struct ReminderResponse {
    /// Households not yet confirmed that were reminded.
    pub households: usize,
    /// Notifications queued to their members' devices.
    pub deliveries: usize,
}

/// Remind the households that have not confirmed (within what you may see of the audience).
#[utoipa::path(tag = "push", params(("id" = String, Path)), responses((status = 202, body = ReminderResponse), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/reminders")]
pub async fn remind(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let reminded = receipts::remind(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(ReminderResponse {
        households: reminded.households,
        deliveries: reminded.deliveries,
    }))
}

/// The stable-toolchain cousin of `tests/fuzz/fuzz_targets/push_subscription.rs`.
#[cfg(test)]
mod random_subscriptions {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    fn random_text(rng: &mut StdRng, alphabet: &[u8], max: usize) -> String {
        (0..rng.random_range(0..max))
            .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
            .collect()
    }

    #[test]
    fn random_subscriptions_never_panic_and_accepted_keys_have_their_sizes() {
        let mut rng = StdRng::seed_from_u64(5);
        let url = b"https://push.example/abc:/?#[]@127.0.0.1localhost \t\r\n%";
        let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ";
        for _ in 0..20_000 {
            let mut point = vec![4u8];
            point.extend((0..64).map(|_| rng.random::<u8>()));
            let auth: Vec<u8> = (0..16).map(|_| rng.random()).collect();
            let request = SubscribeRequest {
                endpoint: if rng.random() {
                    format!("https://push.example/{}", random_text(&mut rng, url, 40))
                } else {
                    random_text(&mut rng, url, 80)
                },
                keys: SubscriptionKeys {
                    p256dh: if rng.random() {
                        URL_SAFE_NO_PAD.encode(&point)
                    } else {
                        random_text(&mut rng, b64, 100)
                    },
                    auth: if rng.random() {
                        URL_SAFE_NO_PAD.encode(&auth)
                    } else {
                        random_text(&mut rng, b64, 30)
                    },
                },
            };
            let policy = EndpointPolicy {
                allowed_hosts: vec!["push.example".into()],
                allow_loopback: rng.random(),
            };
            if check_subscription(&request, &policy).is_ok() {
                let decode = |k: &str| {
                    URL_SAFE_NO_PAD
                        .decode(k.trim().trim_end_matches('='))
                        .map(|b| b.len())
                };
                assert_eq!(decode(&request.keys.p256dh).ok(), Some(65));
                assert_eq!(decode(&request.keys.auth).ok(), Some(16));
                assert!(
                    request.endpoint.trim().starts_with("https://push.example")
                        || policy.allow_loopback
                );
            }
        }
    }
}
