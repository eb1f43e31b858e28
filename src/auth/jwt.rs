//! Access tokens: short-lived JWTs, HS256 pinned, signed with the active key of a key ring
//! (`kid` in the header) so keys can rotate without signing everyone out.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::configuration::AuthSettings;
use crate::domain::MemberId;
use crate::error::ApiError;

const MIN_SECRET_BYTES: usize = 32;
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// The member's token generation when issued (`auth::generations`).
    #[serde(default, rename = "gen")]
    pub generation: i64,
}

/// The key ring file kept in the data folder when no keys are configured.
#[derive(Serialize, Deserialize)]
struct KeyRingFile {
    active_kid: String,
    keys: Vec<KeyFileEntry>,
}

#[derive(Serialize, Deserialize)]
struct KeyFileEntry {
    kid: String,
    secret: String,
}

pub struct JwtKeys {
    active_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_secs: u64,
}

impl JwtKeys {
    /// From configuration, or from the data folder's key ring (made on first start).
    pub fn load(settings: &AuthSettings, data_dir: &Path) -> anyhow::Result<Self> {
        // Exactly one crypto backend, whatever feature unification enabled.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let (active_kid, secrets) = if settings.keys.is_empty() {
            load_or_create_key_file(&data_dir.join("jwt-keys.json"))?
        } else {
            let secrets = settings
                .keys
                .iter()
                .map(|k| (k.kid.clone(), k.secret.expose_secret().to_string()))
                .collect();
            (settings.active_kid.clone(), secrets)
        };
        let mut decoding = HashMap::new();
        let mut encoding = None;
        for (kid, secret) in secrets {
            let bytes = URL_SAFE_NO_PAD
                .decode(secret.trim_end_matches('='))
                .map_err(|_| anyhow::anyhow!("JWT key '{kid}' is not base64url"))?;
            if bytes.len() < MIN_SECRET_BYTES {
                anyhow::bail!("JWT key '{kid}' is shorter than {MIN_SECRET_BYTES} bytes");
            }
            let key_error =
                |e: jsonwebtoken::errors::Error| anyhow::anyhow!("JWT key '{kid}': {e}");
            if kid == active_kid {
                encoding = Some(EncodingKey::from_secret(&bytes).map_err(key_error)?);
            }
            let decoding_key = DecodingKey::from_secret(&bytes).map_err(key_error)?;
            decoding.insert(kid, decoding_key);
        }
        let encoding = encoding
            .ok_or_else(|| anyhow::anyhow!("the active JWT key '{active_kid}' is missing"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        Ok(Self {
            active_kid,
            encoding,
            decoding,
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            access_ttl_secs: settings.access_ttl_secs,
        })
    }

    /// An access token for the member at their current token generation.
    pub fn issue(&self, member: &MemberId, generation: i64) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(self.access_ttl_secs).unwrap_or(900);
        let claims = Claims {
            sub: member.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl,
            generation,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.active_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("signing a token: {e}")))
    }

    /// The member a valid token names, and the generation it was issued under. Every
    /// failure is the same 401, so a caller learns nothing about why.
    pub fn verify(&self, token: &str) -> Result<(MemberId, i64), ApiError> {
        let invalid = ApiError::invalid_token;
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::HS256 {
            return Err(invalid());
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or_else(invalid)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|_| invalid())?;
        if data.claims.sub.is_empty() {
            return Err(invalid());
        }
        Ok((MemberId(data.claims.sub), data.claims.generation))
    }
}

fn load_or_create_key_file(path: &Path) -> anyhow::Result<(String, Vec<(String, String)>)> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!(crate::files::explain(path, "read", &e)))?;
        let ring: KeyRingFile = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a valid key ring: {e}", path.display()))?;
        let keys = ring.keys.into_iter().map(|k| (k.kid, k.secret)).collect();
        return Ok((ring.active_kid, keys));
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let kid = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let ring = KeyRingFile {
        active_kid: kid.clone(),
        keys: vec![KeyFileEntry {
            kid: kid.clone(),
            secret: URL_SAFE_NO_PAD.encode(secret),
        }],
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!(crate::files::explain(parent, "create the folder", &e)))?;
    }
    write_private_file(path, &serde_json::to_string_pretty(&ring)?)
        .map_err(|e| anyhow::anyhow!(crate::files::explain(path, "write", &e)))?;
    tracing::info!(path = %path.display(), "created a new JWT key ring");
    Ok((
        kid,
        ring.keys.into_iter().map(|k| (k.kid, k.secret)).collect(),
    ))
}

/// Written readable by the owner only.
pub fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// A fresh opaque token (refresh tokens, invitation codes): 32 random bytes, base64url.
pub fn random_token() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

/// What we store instead of a bearer secret.
pub fn sha256_hex(value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
