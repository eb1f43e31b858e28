//! Secrets every instance of a PostgreSQL deployment shares, kept in the database so no one
//! copies files between machines: the access-token key ring, the VAPID key and the key of
//! links in mails (a link mailed by one instance is opened on another). The first
//! instance to start creates them (under the start-up lock); the others find them. A data
//! folder that already holds keys (a deployment that grew from one instance) seeds them, so
//! tokens and push subscriptions stay valid. Configured keys still win over both.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use secrecy::SecretString;

use crate::auth::jwt::{self, KeySpec};
use crate::configuration::{AuthSettings, PushSettings};
use crate::db::models::JwtKeyRow;
use crate::db::queries::secrets;
use crate::db::{AnyConnection, now};
use crate::outbox::links;
use crate::push::{self, VapidKey};

const VAPID_SECRET: &str = "vapid_private_key";
const LINK_SECRET: &str = "link_key";

/// How often instances reread the key ring. A rotated key starts signing two of these after
/// it is added, so every instance can verify its tokens before any instance issues one.
pub const KEY_RING_RELOAD: Duration = Duration::from_secs(30);

/// Tokens are checked with this much leeway (jwt.rs), so an old key verifies that much longer.
const VERIFY_MARGIN_SECS: i64 = 60;

/// The key ring: configured keys, or the database's (made from the data folder's file or
/// new when the database has none).
pub fn jwt_key_ring(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    data_dir: &Path,
) -> anyhow::Result<Vec<KeySpec>> {
    if let Some(configured) = jwt::configured_keys(settings) {
        return Ok(configured);
    }
    let mut rows = secrets::jwt_keys(conn)?;
    if rows.is_empty() {
        let created = now();
        rows = match jwt::load_key_file(&data_dir.join("jwt-keys.json"))? {
            Some(specs) => specs
                .into_iter()
                .map(|spec| key_row(spec, created))
                .collect(),
            None => vec![JwtKeyRow {
                kid: new_kid(created),
                secret: jwt::new_key_secret(),
                signs_from: created,
                verifies_until: None,
                created_at: created,
            }],
        };
        secrets::insert_jwt_keys(conn, &rows)?;
        tracing::info!(keys = rows.len(), "stored the JWT key ring in the database");
    }
    Ok(rows.into_iter().map(key_spec).collect())
}

/// The database's ring as it is now, for instances that reload it.
pub fn stored_jwt_key_ring(conn: &mut AnyConnection) -> anyhow::Result<Vec<KeySpec>> {
    Ok(secrets::jwt_keys(conn)?.into_iter().map(key_spec).collect())
}

/// Adds a new signing key; the keys before it verify until the tokens they signed expire.
/// Returns the new key's id.
pub fn rotate_jwt_key(conn: &mut AnyConnection, access_ttl_secs: u64) -> anyhow::Result<String> {
    let at = now();
    let reload = chrono::Duration::from_std(KEY_RING_RELOAD * 2)?;
    let signs_from = at + reload;
    let ttl = i64::try_from(access_ttl_secs)?;
    let old_until = signs_from + chrono::Duration::seconds(ttl + VERIFY_MARGIN_SECS);
    let row = JwtKeyRow {
        kid: new_kid(at),
        secret: jwt::new_key_secret(),
        signs_from,
        verifies_until: None,
        created_at: at,
    };
    secrets::rotate_jwt_key(conn, &row, old_until, at)?;
    Ok(row.kid)
}

/// The VAPID key: configured, or the database's (made from the data folder's key or new).
pub fn vapid_key(
    conn: &mut AnyConnection,
    settings: &PushSettings,
    data_dir: &Path,
) -> anyhow::Result<VapidKey> {
    if let Some(configured) = push::configured_private_key(settings) {
        return VapidKey::from_private_key(&configured);
    }
    let stored = match secrets::find_secret(conn, VAPID_SECRET)? {
        Some(stored) => stored,
        None => {
            let candidate = match push::read_key_file(&push::key_file(data_dir))? {
                Some(key) => key,
                None => push::new_private_key()?,
            };
            let value = secrecy::ExposeSecret::expose_secret(&candidate).to_string();
            let stored = secrets::insert_secret_if_absent(conn, VAPID_SECRET, &value, now())?;
            tracing::info!("stored the VAPID key in the database");
            stored
        }
    };
    VapidKey::from_private_key(&SecretString::from(stored))
}

/// The key of links in mails: the database's (made from the data folder's key or new).
pub fn link_key(conn: &mut AnyConnection, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(stored) = secrets::find_secret(conn, LINK_SECRET)? {
        return Ok(stored);
    }
    let candidate = match links::read_key_file(data_dir)? {
        Some(key) => key.trim().to_string(),
        None => links::new_key(),
    };
    let stored = secrets::insert_secret_if_absent(conn, LINK_SECRET, &candidate, now())?;
    tracing::info!("stored the mail links' key in the database");
    Ok(stored)
}

/// The time, then random hex: a UUIDv7's first digits are its time too, so they would not
/// tell apart two keys made in one second.
fn new_kid(at: NaiveDateTime) -> String {
    let id = crate::domain::new_id();
    format!("{}-{}", at.format("%Y%m%d%H%M%S"), &id[id.len() - 12..])
}

fn key_row(spec: KeySpec, created: NaiveDateTime) -> JwtKeyRow {
    let at = |secs: i64| {
        DateTime::from_timestamp(secs, 0)
            .map(|t| t.naive_utc())
            .unwrap_or(created)
    };
    JwtKeyRow {
        kid: spec.kid,
        secret: spec.secret,
        // The newest signer signs: the file's active key, not the others it kept.
        signs_from: spec
            .signs_from
            .map_or(created - chrono::Duration::days(1), |_| created),
        verifies_until: spec.verifies_until.map(at),
        created_at: created,
    }
}

fn key_spec(row: JwtKeyRow) -> KeySpec {
    KeySpec {
        kid: row.kid,
        secret: row.secret,
        signs_from: Some(row.signs_from.and_utc().timestamp()),
        verifies_until: row.verifies_until.map(|t| t.and_utc().timestamp()),
    }
}
