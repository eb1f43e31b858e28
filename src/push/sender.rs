//! Sends one notification: aes128gcm payload, a VAPID signature reused per push-service
//! origin, bounded concurrency per host, a time-out on every send. Only to endpoints the
//! policy allows, and only to the addresses checked when their names were resolved.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Semaphore;
use web_push::{ContentEncoding, SubscriptionInfo, Urgency, VapidSignature, WebPushMessageBuilder};

use crate::configuration::PushSettings;
use crate::db::queries::outbox::{Delivery, Outcome};
use crate::domain::push_endpoint::EndpointPolicy;
use crate::push::VapidKey;

/// web-push signs tokens valid for 12 h; sign again well before that.
const SIGNATURE_REUSE: Duration = Duration::from_secs(11 * 3600);
/// Back-off after the first failure, doubled per attempt, with jitter; capped.
const FIRST_RETRY_SECS: u64 = 5;
const MAX_RETRY_SECS: u64 = 3600;

/// A name that resolved to an address the policy does not allow.
#[derive(Debug, thiserror::Error)]
#[error("a push service's name resolved to an address inside a private network")]
struct RefusedAddress;

/// Resolves push services' names and hands the connection only addresses the policy allows:
/// one address that is not refuses the whole name, so a name pointing both outside and
/// inside the network cannot be used to reach inside.
struct CheckedResolver {
    policy: Arc<EndpointPolicy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !addresses.iter().all(|a| policy.may_connect(a.ip())) {
                return Err(RefusedAddress.into());
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Whether a send failed because the resolver refused the name's addresses.
fn refused_address(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<RefusedAddress>() {
            return true;
        }
        cause = e.source();
    }
    false
}

pub struct WebPushSender {
    client: reqwest::Client,
    policy: Arc<EndpointPolicy>,
    key: VapidKey,
    subject: String,
    per_host: usize,
    ttl_normal_secs: u32,
    ttl_urgent_secs: u32,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    signatures: Mutex<HashMap<String, (VapidSignature, Instant)>>,
}

impl WebPushSender {
    pub fn new(key: VapidKey, settings: &PushSettings) -> anyhow::Result<Self> {
        let policy = Arc::new(settings.endpoint_policy());
        let client = reqwest::Client::builder()
            // Straight to the checked addresses: a proxy would connect wherever it is told.
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: policy.clone(),
            }))
            .timeout(Duration::from_secs(settings.send_timeout_secs))
            .connect_timeout(Duration::from_secs(settings.send_timeout_secs))
            .pool_max_idle_per_host(settings.concurrency_per_host)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            policy,
            key,
            subject: settings.vapid_subject.clone(),
            per_host: settings.concurrency_per_host,
            ttl_normal_secs: u32::try_from(settings.ttl_normal_secs).unwrap_or(86_400),
            ttl_urgent_secs: u32::try_from(settings.ttl_urgent_secs).unwrap_or(21_600),
            hosts: Mutex::new(HashMap::new()),
            signatures: Mutex::new(HashMap::new()),
        })
    }

    fn host_permits(&self, origin: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(origin.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }

    /// One signature per origin (the JWT's audience), reused until near expiry.
    fn signature(
        &self,
        origin: &str,
        info: &SubscriptionInfo,
    ) -> Result<VapidSignature, web_push::WebPushError> {
        if let Some((signature, made)) = self
            .signatures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(origin)
            && made.elapsed() < SIGNATURE_REUSE
        {
            return Ok(signature.clone());
        }
        let mut builder = self.key.signer.clone().add_sub_info(info);
        builder.add_claim("sub", self.subject.as_str());
        // RFC 8292: aud is the endpoint's origin; web-push leaves out a non-default port.
        builder.add_claim("aud", origin);
        let signature = builder.build()?;
        self.signatures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(origin.to_string(), (signature.clone(), Instant::now()));
        Ok(signature)
    }

    /// Encrypts and signs: the CPU part of a send.
    pub fn build(
        &self,
        delivery: &Delivery,
    ) -> Result<(String, web_push::WebPushMessage), Outcome> {
        let endpoint = delivery.endpoint.as_deref().ok_or(Outcome::Gone(410))?;
        // Checked again: the subscription may predate the policy or its settings.
        self.policy.check(endpoint).map_err(|_| Outcome::Refused)?;
        let origin = origin_of(endpoint).ok_or(Outcome::Rejected(400))?;
        let info =
            SubscriptionInfo::new(endpoint, delivery.p256dh.as_str(), delivery.auth.as_str());
        let signature = self.signature(&origin, &info).map_err(|e| {
            tracing::error!(error = %e, "VAPID signing failed");
            Outcome::Rejected(500)
        })?;
        let mut message = WebPushMessageBuilder::new(&info);
        message.set_payload(ContentEncoding::Aes128Gcm, delivery.payload.as_bytes());
        message.set_ttl(if delivery.urgent {
            self.ttl_urgent_secs
        } else {
            self.ttl_normal_secs
        });
        message.set_urgency(if delivery.urgent {
            Urgency::High
        } else {
            Urgency::Normal
        });
        message.set_topic(delivery.topic.clone());
        message.set_vapid_signature(signature);
        let built = message.build().map_err(|e| {
            // Bad subscriber keys: the subscription can never be delivered to.
            tracing::warn!(error = %e, "a push message could not be built");
            Outcome::Gone(400)
        })?;
        Ok((origin, built))
    }

    pub async fn send(&self, delivery: &Delivery) -> Outcome {
        let (origin, message) = match self.build(delivery) {
            Ok(built) => built,
            Err(outcome) => return outcome,
        };
        let permits = self.host_permits(&origin);
        let Ok(_permit) = permits.acquire_owned().await else {
            return retry(delivery, None, None);
        };
        let request = web_push::request_builder::build_request::<Vec<u8>>(message);
        let mut outgoing = self.client.post(request.uri().to_string());
        for (name, value) in request.headers() {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
        match outgoing.body(request.into_body()).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                classify(delivery, status, retry_after)
            }
            Err(e) if refused_address(&e) => {
                tracing::warn!(
                    "a push endpoint's name resolved inside a private network; not sent"
                );
                Outcome::Refused
            }
            Err(e) => {
                tracing::debug!(error = %e.without_url(), "push send failed; will retry");
                retry(delivery, None, None)
            }
        }
    }
}

fn classify(delivery: &Delivery, status: u16, retry_after: Option<u64>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered(status),
        404 | 410 => Outcome::Gone(status),
        429 | 500..=599 => retry(delivery, Some(status), retry_after),
        _ => {
            tracing::error!(status, "a push service refused a notification; not retried");
            Outcome::Rejected(status)
        }
    }
}

/// Exponential back-off with jitter; a push service's Retry-After wins when longer.
pub fn retry(delivery: &Delivery, status: Option<u16>, retry_after: Option<u64>) -> Outcome {
    let exponent = u32::try_from(delivery.attempts.clamp(0, 12)).unwrap_or(12);
    let backoff = FIRST_RETRY_SECS
        .saturating_mul(1 << exponent)
        .min(MAX_RETRY_SECS);
    let jitter = rand::random_range(0..=backoff / 2);
    let after_secs = retry_after
        .unwrap_or(0)
        .max(backoff + jitter)
        .min(24 * 3600);
    Outcome::Retry { status, after_secs }
}

/// Seconds from a Retry-After header: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<u64> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    u64::try_from(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .num_seconds()
            .max(0),
    )
    .ok()
}

/// scheme://host[:port] of an endpoint.
fn origin_of(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    let authority = match scheme {
        "https" => authority.strip_suffix(":443").unwrap_or(authority),
        "http" => authority.strip_suffix(":80").unwrap_or(authority),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: i32) -> Delivery {
        Delivery {
            job_id: "j".into(),
            subscription_id: crate::domain::PushSubscriptionId("s".into()),
            attempts,
            kind: "post".into(),
            post_id: None,
            endpoint: Some("https://push.example/x".into()),
            p256dh: String::new(),
            auth: String::new(),
            payload: String::new(),
            topic: String::new(),
            urgent: false,
        }
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(classify(&delivery(0), 201, None), Outcome::Delivered(201));
        assert_eq!(classify(&delivery(0), 410, None), Outcome::Gone(410));
        assert_eq!(classify(&delivery(0), 401, None), Outcome::Rejected(401));
        assert!(matches!(
            classify(&delivery(0), 503, None),
            Outcome::Retry {
                status: Some(503),
                ..
            }
        ));
    }

    #[test]
    fn retry_after_is_honoured_and_backoff_grows() {
        let Outcome::Retry { after_secs, .. } = retry(&delivery(0), Some(429), Some(120)) else {
            panic!()
        };
        assert_eq!(after_secs, 120);
        let Outcome::Retry {
            after_secs: early, ..
        } = retry(&delivery(0), None, None)
        else {
            panic!()
        };
        let Outcome::Retry {
            after_secs: late, ..
        } = retry(&delivery(5), None, None)
        else {
            panic!()
        };
        assert!((5..=7).contains(&early) && late >= 160, "{early} {late}");
    }

    #[test]
    fn origins_and_retry_dates_parse() {
        assert_eq!(
            origin_of("https://fcm.googleapis.com/fcm/send/abc").as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9/p").as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(
            origin_of("https://push.example:443/p").as_deref(),
            Some("https://push.example")
        );
        assert_eq!(parse_retry_after(" 30 "), Some(30));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
    }
}
