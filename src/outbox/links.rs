//! The key signing the links in mails (confirm, answer, verify, unsubscribe), kept in the
//! data folder like the VAPID key, and the links themselves.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::auth::jwt::write_private_file;
use crate::domain::signed_link::{LinkPurpose, SignedLink};

/// What signs links, and the public address they point to.
#[derive(Clone)]
pub struct Links {
    key: Arc<Vec<u8>>,
    base_url: String,
    ttl_secs: i64,
}

impl Links {
    /// The key from `<data_dir>/link-key` (made on first start).
    pub fn load(data_dir: &Path, base_url: &str, ttl_days: i64) -> anyhow::Result<Self> {
        let path = data_dir.join("link-key");
        let encoded = if path.exists() {
            std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!(crate::files::explain(&path, "read", &e)))?
        } else {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let encoded = URL_SAFE_NO_PAD.encode(bytes);
            write_private_file(&path, &encoded)
                .map_err(|e| anyhow::anyhow!(crate::files::explain(&path, "write", &e)))?;
            encoded
        };
        let key = URL_SAFE_NO_PAD
            .decode(encoded.trim())
            .map_err(|_| anyhow::anyhow!("{} is not a base64url key", path.display()))?;
        Ok(Self {
            key: Arc::new(key),
            base_url: base_url.trim_end_matches('/').to_string(),
            ttl_secs: ttl_days.saturating_mul(86_400),
        })
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// An absolute address on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `/links/<token>`, valid for `email.link_ttl_days`.
    pub fn signed(&self, purpose: LinkPurpose, subject: &str, member: &str) -> String {
        let link = SignedLink {
            purpose,
            subject: subject.to_string(),
            member: member.to_string(),
            expires: chrono::Utc::now().timestamp() + self.ttl_secs,
        };
        self.url(&format!("/links/{}", link.sign(&self.key)))
    }
}
