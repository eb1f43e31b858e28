//! The key signing the links in mails (confirm, answer, verify, unsubscribe), kept like the
//! VAPID key (data folder on SQLite, database on PostgreSQL), and the links themselves.

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
    /// From the key as stored (base64url), and where links point.
    pub fn new(encoded_key: &str, base_url: &str, ttl_days: i64) -> anyhow::Result<Self> {
        let key = URL_SAFE_NO_PAD
            .decode(encoded_key.trim())
            .map_err(|_| anyhow::anyhow!("the link key is not base64url"))?;
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

/// `<data_dir>/link-key`, if it is there.
pub fn read_key_file(data_dir: &Path) -> anyhow::Result<Option<String>> {
    let path = data_dir.join("link-key");
    if !path.exists() {
        return Ok(None);
    }
    std::fs::read_to_string(&path)
        .map(Some)
        .map_err(|e| anyhow::anyhow!(crate::files::explain(&path, "read", &e)))
}

/// A new random key, base64url.
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The data folder's key, made on first start (one server per SQLite file).
pub fn key_from_data_dir(data_dir: &Path) -> anyhow::Result<String> {
    if let Some(key) = read_key_file(data_dir)? {
        return Ok(key);
    }
    let path = data_dir.join("link-key");
    let key = new_key();
    write_private_file(&path, &key)
        .map_err(|e| anyhow::anyhow!(crate::files::explain(&path, "write", &e)))?;
    Ok(key)
}
