//! Web Push (RFC 8030, aes128gcm RFC 8291, VAPID RFC 8292): the server's key, the sender and
//! what it sends through the outbox (`crate::outbox`).

pub mod sender;
pub mod sending;

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use web_push::{PartialVapidSignatureBuilder, VapidSignatureBuilder};

use crate::auth::jwt::write_private_file;
use crate::configuration::PushSettings;

/// The server's VAPID key pair.
#[derive(Clone)]
pub struct VapidKey {
    pub signer: PartialVapidSignatureBuilder,
    /// Uncompressed P-256 point, base64url: what browsers pass as applicationServerKey.
    pub public_key: String,
}

impl VapidKey {
    /// From configuration, or from the data folder (made on first start).
    pub fn load(settings: &PushSettings, data_dir: &Path) -> anyhow::Result<Self> {
        let private_key = match configured_private_key(settings) {
            Some(key) => key,
            None => load_or_create(&key_file(data_dir))?,
        };
        Self::from_private_key(&private_key)
    }

    pub fn from_private_key(private_key: &SecretString) -> anyhow::Result<Self> {
        let signer = VapidSignatureBuilder::from_base64_no_sub(private_key.expose_secret().trim())
            .map_err(|e| {
                anyhow::anyhow!("the VAPID private key is not a base64url P-256 key: {e}")
            })?;
        let public_key = URL_SAFE_NO_PAD.encode(signer.get_public_key());
        Ok(Self { signer, public_key })
    }
}

/// `push.vapid_private_key`, when set.
pub fn configured_private_key(settings: &PushSettings) -> Option<SecretString> {
    let configured = settings.vapid_private_key.expose_secret().trim();
    (!configured.is_empty()).then(|| SecretString::from(configured.to_string()))
}

/// Where a data folder keeps the VAPID key.
pub fn key_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("vapid-private-key")
}

fn load_or_create(path: &Path) -> anyhow::Result<SecretString> {
    if let Some(key) = read_key_file(path)? {
        return Ok(key);
    }
    let encoded = new_private_key()?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!(crate::files::explain(parent, "create the folder", &e)))?;
    }
    write_private_file(path, encoded.expose_secret())
        .map_err(|e| anyhow::anyhow!(crate::files::explain(path, "write", &e)))?;
    tracing::info!(path = %path.display(), "created a new VAPID key");
    Ok(encoded)
}

/// The data folder's VAPID key, if one was made there.
pub fn read_key_file(path: &Path) -> anyhow::Result<Option<SecretString>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!(crate::files::explain(path, "read", &e)))?;
    Ok(Some(SecretString::from(text.trim().to_string())))
}

/// A new VAPID private key, base64url.
pub fn new_private_key() -> anyhow::Result<SecretString> {
    // Almost every 32 random bytes are a valid P-256 scalar; try again on the rare miss.
    for _ in 0..16 {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let encoded = URL_SAFE_NO_PAD.encode(bytes);
        if VapidSignatureBuilder::from_base64_no_sub(&encoded).is_ok() {
            return Ok(SecretString::from(encoded));
        }
    }
    anyhow::bail!("could not make a VAPID key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_key_is_kept_and_derives_the_same_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid-private-key");
        let first = VapidKey::from_private_key(&load_or_create(&path).unwrap()).unwrap();
        let again = VapidKey::from_private_key(&load_or_create(&path).unwrap()).unwrap();
        assert_eq!(first.public_key, again.public_key);
        assert_eq!(URL_SAFE_NO_PAD.decode(&first.public_key).unwrap().len(), 65);
    }

    #[test]
    fn a_malformed_private_key_is_refused() {
        assert!(VapidKey::from_private_key(&SecretString::from("not a key")).is_err());
        assert!(
            VapidKey::from_private_key(&SecretString::from(URL_SAFE_NO_PAD.encode([0u8; 32])))
                .is_err()
        );
    }
}
