//! Access tokens: short-lived JWTs, HS256 pinned, signed with the active key of a key ring
//! (`kid` in the header) so keys can rotate without signing everyone out.

use std::path::Path;
use std::sync::{Arc, RwLock};

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

/// One key of the ring as stored or configured: when it starts signing (none: never) and
/// until when it verifies (none: no end yet), in Unix seconds.
pub struct KeySpec {
    pub kid: String,
    pub secret: String,
    pub signs_from: Option<i64>,
    pub verifies_until: Option<i64>,
}

struct RingKey {
    kid: String,
    signs_from: Option<i64>,
    verifies_until: Option<i64>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The key ring can be replaced while the server runs (instances sharing a PostgreSQL
/// database reload it), so a rotation reaches every instance without a restart.
pub struct JwtKeys {
    ring: RwLock<Arc<[RingKey]>>,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_secs: u64,
}

impl JwtKeys {
    /// From configuration, or from the data folder's key ring (made on first start).
    pub fn load(settings: &AuthSettings, data_dir: &Path) -> anyhow::Result<Self> {
        let specs = match configured_keys(settings) {
            Some(specs) => specs,
            None => load_or_create_key_file(&data_dir.join("jwt-keys.json"))?,
        };
        Self::new(settings, specs)
    }

    pub fn new(settings: &AuthSettings, specs: Vec<KeySpec>) -> anyhow::Result<Self> {
        // Exactly one crypto backend, whatever feature unification enabled.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        Ok(Self {
            ring: RwLock::new(build_ring(specs)?),
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            access_ttl_secs: settings.access_ttl_secs,
        })
    }

    /// Takes a new ring (a rotation seen in the database); a bad one leaves the old in place.
    pub fn replace(&self, specs: Vec<KeySpec>) -> anyhow::Result<()> {
        let ring = build_ring(specs)?;
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
        Ok(())
    }

    fn current_ring(&self) -> Arc<[RingKey]> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// An access token for the member at their current token generation.
    pub fn issue(&self, member: &MemberId, generation: i64) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let ring = self.current_ring();
        // The newest key whose time to sign has come.
        let signer = ring
            .iter()
            .filter(|key| key.signs_from.is_some_and(|from| from <= now))
            .max_by_key(|key| key.signs_from)
            .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("no JWT key may sign yet")))?;
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
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, &claims, &signer.encoding)
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
        let now = chrono::Utc::now().timestamp();
        let ring = self.current_ring();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.iter().find(|key| key.kid == kid))
            .filter(|key| key.verifies_until.is_none_or(|until| now < until))
            .ok_or_else(invalid)?;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)
            .map_err(|_| invalid())?;
        if data.claims.sub.is_empty() {
            return Err(invalid());
        }
        Ok((MemberId(data.claims.sub), data.claims.generation))
    }
}

/// The keys configured in `auth.keys`, the active one signing; none when none are set.
pub fn configured_keys(settings: &AuthSettings) -> Option<Vec<KeySpec>> {
    if settings.keys.is_empty() {
        return None;
    }
    let specs = settings
        .keys
        .iter()
        .map(|k| KeySpec {
            signs_from: (k.kid == settings.active_kid).then_some(i64::MIN),
            kid: k.kid.clone(),
            secret: k.secret.expose_secret().to_string(),
            verifies_until: None,
        })
        .collect();
    Some(specs)
}

fn build_ring(specs: Vec<KeySpec>) -> anyhow::Result<Arc<[RingKey]>> {
    let mut ring = Vec::with_capacity(specs.len());
    for spec in specs {
        let kid = spec.kid;
        let bytes = URL_SAFE_NO_PAD
            .decode(spec.secret.trim_end_matches('='))
            .map_err(|_| anyhow::anyhow!("JWT key '{kid}' is not base64url"))?;
        if bytes.len() < MIN_SECRET_BYTES {
            anyhow::bail!("JWT key '{kid}' is shorter than {MIN_SECRET_BYTES} bytes");
        }
        let key_error = |e: jsonwebtoken::errors::Error| anyhow::anyhow!("JWT key '{kid}': {e}");
        ring.push(RingKey {
            encoding: EncodingKey::from_secret(&bytes).map_err(key_error)?,
            decoding: DecodingKey::from_secret(&bytes).map_err(key_error)?,
            signs_from: spec.signs_from,
            verifies_until: spec.verifies_until,
            kid,
        });
    }
    if !ring.iter().any(|key| key.signs_from.is_some()) {
        anyhow::bail!("the key ring has no key that signs (is the active JWT key missing?)");
    }
    Ok(ring.into())
}

/// A new random key's secret, base64url.
pub fn new_key_secret() -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    URL_SAFE_NO_PAD.encode(secret)
}

/// The data folder's key ring, made on first start.
pub fn load_key_file(path: &Path) -> anyhow::Result<Option<Vec<KeySpec>>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!(crate::files::explain(path, "read", &e)))?;
    let ring: KeyRingFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a valid key ring: {e}", path.display()))?;
    let specs = ring
        .keys
        .into_iter()
        .map(|k| KeySpec {
            signs_from: (k.kid == ring.active_kid).then_some(i64::MIN),
            kid: k.kid,
            secret: k.secret,
            verifies_until: None,
        })
        .collect();
    Ok(Some(specs))
}

fn load_or_create_key_file(path: &Path) -> anyhow::Result<Vec<KeySpec>> {
    if let Some(specs) = load_key_file(path)? {
        return Ok(specs);
    }
    let secret = new_key_secret();
    let kid = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let ring = KeyRingFile {
        active_kid: kid.clone(),
        keys: vec![KeyFileEntry {
            kid: kid.clone(),
            secret: secret.clone(),
        }],
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!(crate::files::explain(parent, "create the folder", &e)))?;
    }
    write_private_file(path, &serde_json::to_string_pretty(&ring)?)
        .map_err(|e| anyhow::anyhow!(crate::files::explain(path, "write", &e)))?;
    tracing::info!(path = %path.display(), "created a new JWT key ring");
    Ok(vec![KeySpec {
        kid,
        secret,
        signs_from: Some(i64::MIN),
        verifies_until: None,
    }])
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AuthSettings {
        crate::configuration::load(
            crate::configuration::AppEnvironment::Test,
            Path::new("config"),
            false,
        )
        .unwrap()
        .auth
    }

    fn spec(kid: &str, signs_from: Option<i64>, verifies_until: Option<i64>) -> KeySpec {
        KeySpec {
            kid: kid.into(),
            secret: new_key_secret(),
            signs_from,
            verifies_until,
        }
    }

    fn kid_of(token: &str) -> String {
        jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
    }

    #[test]
    fn the_newest_key_whose_time_has_come_signs_and_older_ones_verify_until_their_end() {
        let now = chrono::Utc::now().timestamp();
        let member = MemberId("m".into());
        let old = spec("old", Some(now - 100), Some(now + 100));
        let old_secret = old.secret.clone();
        let ring = vec![old, spec("new", Some(now - 1), None)];
        let keys = JwtKeys::new(&settings(), ring).unwrap();
        let signed_new = keys.issue(&member, 0).unwrap();
        assert_eq!(kid_of(&signed_new), "new");

        // A token the old key signed before the rotation still verifies…
        let before = JwtKeys::new(
            &settings(),
            vec![KeySpec {
                kid: "old".into(),
                secret: old_secret.clone(),
                signs_from: Some(now - 100),
                verifies_until: None,
            }],
        )
        .unwrap();
        let signed_old = before.issue(&member, 0).unwrap();
        assert_eq!(keys.verify(&signed_old).unwrap(), (member, 0));
        // …until the old key's end.
        let ended = vec![
            KeySpec {
                kid: "old".into(),
                secret: old_secret,
                signs_from: Some(now - 100),
                verifies_until: Some(now - 1),
            },
            spec("new", Some(now - 1), None),
        ];
        keys.replace(ended).unwrap();
        assert!(keys.verify(&signed_old).is_err());
    }

    #[test]
    fn a_key_that_signs_later_verifies_now_but_does_not_sign_yet() {
        let now = chrono::Utc::now().timestamp();
        let ring = vec![
            spec("current", Some(now - 10), None),
            spec("next", Some(now + 60), None),
        ];
        let keys = JwtKeys::new(&settings(), ring).unwrap();
        assert_eq!(
            kid_of(&keys.issue(&MemberId("m".into()), 0).unwrap()),
            "current"
        );
    }

    #[test]
    fn a_ring_without_a_signer_is_refused() {
        assert!(JwtKeys::new(&settings(), vec![spec("only", None, None)]).is_err());
    }
}
