//! The LINE Messaging API as kairan uses it (D66): multicast and reply messages over HTTPS
//! (reqwest), and the sealing of accounts' channel access tokens and secrets at rest
//! (AES-256-GCM, key derived from the server's link key, so it lives where that key lives:
//! the data folder on SQLite, the database on PostgreSQL).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use sha2::Sha256;

use crate::configuration::LineSettings;

/// How LINE answered a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Sent,
    /// 429 or 5xx, a time-out or a broken connection: try again (after Retry-After if given).
    Later {
        status: Option<u16>,
        retry_after: Option<u64>,
    },
    /// 401: the channel access token was revoked or is wrong.
    TokenRefused,
    /// Any other 4xx: retrying will not help.
    Refused(u16),
}

pub struct LineApi {
    client: reqwest::Client,
    base_url: String,
    seal_key: [u8; 32],
    postback_key: [u8; 32],
    pub multicast_size: usize,
    pub default_monthly_quota: i32,
    pub link_code_ttl_mins: i64,
}

fn derive(key: &[u8], label: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) {
        mac.update(label.as_bytes());
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

impl LineApi {
    pub fn new(
        settings: &LineSettings,
        link_key: &[u8],
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            base_url: settings
                .api_base_url
                .trim()
                .trim_end_matches('/')
                .to_string(),
            seal_key: derive(link_key, "kairan line credentials v1"),
            postback_key: derive(link_key, "kairan line postback v1"),
            multicast_size: settings.multicast_size,
            default_monthly_quota: settings.default_monthly_quota,
            link_code_ttl_mins: settings.link_code_ttl_mins,
        })
    }

    /// The key signing the safety check's postback data.
    pub fn postback_key(&self) -> &[u8] {
        &self.postback_key
    }

    /// `v1.<nonce>.<ciphertext and tag>`, base64url; a fresh nonce each time.
    pub fn seal(&self, plain: &str) -> anyhow::Result<String> {
        let nonce: [u8; 12] = rand::random();
        let mut tag = [0u8; 16];
        let mut sealed = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.seal_key,
            Some(&nonce),
            b"kairan-line",
            plain.as_bytes(),
            &mut tag,
        )?;
        sealed.extend_from_slice(&tag);
        Ok(format!(
            "v1.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// The plain text of a sealed value; None when it was not sealed with this server's key.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let mut parts = sealed.split('.');
        let (version, nonce, body) = (parts.next()?, parts.next()?, parts.next()?);
        if version != "v1" || parts.next().is_some() {
            return None;
        }
        let nonce = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        let body = URL_SAFE_NO_PAD.decode(body).ok()?;
        let (ciphertext, tag) = body.split_at_checked(body.len().checked_sub(16)?)?;
        let plain = decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.seal_key,
            Some(&nonce),
            b"kairan-line",
            ciphertext,
            tag,
        )
        .ok()?;
        String::from_utf8(plain).ok()
    }

    /// `POST /v2/bot/message/multicast` to at most 500 users.
    pub async fn multicast(
        &self,
        token: &str,
        to: &[String],
        messages: &serde_json::Value,
        retry_key: &str,
    ) -> Answer {
        let body = serde_json::json!({"to": to, "messages": messages});
        self.post("/v2/bot/message/multicast", token, &body, Some(retry_key))
            .await
    }

    /// `POST /v2/bot/message/reply` (free of charge; the token works once, for a minute).
    pub async fn reply(
        &self,
        token: &str,
        reply_token: &str,
        messages: &serde_json::Value,
    ) -> Answer {
        let body = serde_json::json!({"replyToken": reply_token, "messages": messages});
        self.post("/v2/bot/message/reply", token, &body, None).await
    }

    async fn post(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
        retry_key: Option<&str>,
    ) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = retry_key {
            // LINE sends a request with the same key only once (24 hours), so a retry after a
            // time-out whose request did arrive sends nothing twice.
            request = request.header("X-Line-Retry-Key", key);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(crate::push::sender::parse_retry_after);
                classify(status, retry_after)
            }
            Err(e) => {
                tracing::debug!(error = %e.without_url(), "LINE request failed; will retry");
                Answer::Later {
                    status: None,
                    retry_after: None,
                }
            }
        }
    }
}

fn classify(status: u16, retry_after: Option<u64>) -> Answer {
    match status {
        200..=299 => Answer::Sent,
        // 409: a retry key LINE has already accepted, so the messages went out.
        409 => Answer::Sent,
        401 => Answer::TokenRefused,
        429 | 500..=599 => Answer::Later {
            status: Some(status),
            retry_after,
        },
        _ => Answer::Refused(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> LineApi {
        let settings = LineSettings {
            api_base_url: "http://127.0.0.1:9".into(),
            default_monthly_quota: 200,
            multicast_size: 500,
            link_code_ttl_mins: 30,
        };
        LineApi::new(&settings, b"link key", Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn sealed_values_open_only_unaltered() {
        let api = api();
        let sealed = api.seal("channel-token").unwrap();
        assert!(!sealed.contains("channel-token"));
        assert_ne!(sealed, api.seal("channel-token").unwrap(), "a fresh nonce");
        assert_eq!(api.open(&sealed).as_deref(), Some("channel-token"));
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(api.open(&altered), None);
        assert_eq!(api.open("channel-token"), None);
    }
}
