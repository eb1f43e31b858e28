//! `Idempotency-Key` on POST requests: a repeat of a request by the same member with the same
//! key and the same body gets the first answer again, and creates nothing.
//!
//! Two parts work together:
//! - `middleware` (around every route) checks the key before the handler runs: an answer on
//!   record is replayed, a different request under the same key is refused, a request still
//!   in flight gets 409. An answer marked `Cache-Control: no-store` (tokens, invitation
//!   codes) is recorded without its body, and a repeat gets 409 instead of the secret.
//! - The claim for the key is inserted by the request's first committed write transaction
//!   (the request's `db::write_hook`, which storage runs in its outermost write transaction),
//!   so the key and what the request created commit together: a concurrent duplicate fails
//!   on the key's primary key and rolls back, and a crash can never leave a creation without
//!   its key. The answer is stored just after.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use diesel::QueryResult;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::auth::AuthMember;
use crate::db::models::IdempotencyKey;
use crate::db::queries::idempotency as queries;
use crate::db::write_hook::{WriteHook, with_write_hook};
use crate::db::{AnyConnection, Db, now};
use crate::domain::MemberId;
use crate::error::{ApiError, ErrorCode};

pub const HEADER: &str = "idempotency-key";
/// Set on an answer that repeats a stored one.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;
/// The body limit of POST /api/v1/posts (20,000 characters of Japanese, \u-escaped).
const CIRCULAR_JSON_BYTES: usize = 256 * 1024;

/// What the middleware needs besides the database.
#[derive(Debug, Clone)]
pub struct IdempotencyConfig {
    pub key_ttl: Duration,
    /// Requests with a key are read whole to hash them, each held to its endpoint's own
    /// limit first (security review, finding 11): JSON bodies to this,
    pub json_limit_bytes: usize,
    /// attachment uploads to this,
    pub attachment_max_bytes: usize,
    /// and roster CSV imports to this.
    pub csv_max_bytes: usize,
}

impl IdempotencyConfig {
    /// The largest body the endpoint at `path` accepts: the raw-body uploads have their own.
    fn body_limit(&self, path: &str) -> usize {
        if path.ends_with("/attachments") {
            self.attachment_max_bytes
        } else if path.ends_with("/roster.csv") {
            self.csv_max_bytes
        } else if path == "/api/v1/posts" {
            // A circular may be long: main's `routes::LONG_JSON_LIMIT` (256 KiB) for its body.
            self.json_limit_bytes.max(CIRCULAR_JSON_BYTES)
        } else {
            self.json_limit_bytes
        }
    }
}

/// One request's claim on its key, shared between the middleware and the write transaction.
#[derive(Debug)]
pub struct ClaimSlot {
    record: IdempotencyKey,
    committed: bool,
    /// Another request inserted the key first.
    lost_race: bool,
}

pub type SharedSlot = Arc<Mutex<ClaimSlot>>;

fn lock(slot: &Mutex<ClaimSlot>) -> MutexGuard<'_, ClaimSlot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The claim is inserted by the request's first committed write transaction.
impl WriteHook for Mutex<ClaimSlot> {
    fn write(&self, conn: &mut AnyConnection) -> QueryResult<bool> {
        let record = {
            let state = lock(self);
            if state.committed {
                return Ok(false);
            }
            state.record.clone()
        };
        match queries::insert_claim(conn, &record) {
            Ok(()) => Ok(true),
            Err(e) => {
                if matches!(
                    e,
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _
                    )
                ) {
                    lock(self).lost_race = true;
                }
                Err(e)
            }
        }
    }

    fn committed(&self) {
        lock(self).committed = true;
    }
}

fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::BadRequest(
            ErrorCode::InvalidIdempotencyKey,
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        )
    };
    let key = value.to_str().map_err(|_| invalid())?.trim();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid());
    }
    Ok(key.to_string())
}

fn request_hash(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(path_and_query.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) async fn read_body(payload: &mut Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::BadRequest(
                ErrorCode::BadRequest,
                format!("the body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn in_use() -> ApiError {
    ApiError::Conflict(
        ErrorCode::IdempotencyKeyInUse,
        "a request with this Idempotency-Key was accepted and has no answer on record yet; \
         it will not be carried out again (retry shortly for its answer)"
            .into(),
    )
}

fn replay(record: &IdempotencyKey, status: i32) -> HttpResponse {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    if let Some(content_type) = &record.response_content_type {
        response.insert_header((header::CONTENT_TYPE, content_type.as_str()));
    }
    response.insert_header((
        HeaderName::from_static(REPLAYED_HEADER),
        HeaderValue::from_static("true"),
    ));
    response.body(record.response_body.clone().unwrap_or_default())
}

/// The middleware: see the module documentation.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(header_value) = req.headers().get(HEADER).cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.method() != Method::POST {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let key = match parse_key(&header_value) {
        Ok(key) => key,
        Err(e) => return Ok(req.error_response(e)),
    };
    // Keys belong to a member; without a valid token the handler answers 401 as usual.
    let Ok(AuthMember(member)) = req.extract::<AuthMember>().await else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let (Some(db), Some(config)) = (
        req.app_data::<web::Data<Db>>().cloned(),
        req.app_data::<web::Data<IdempotencyConfig>>().cloned(),
    ) else {
        let missing = anyhow::anyhow!("idempotency is not configured");
        return Ok(req.error_response(ApiError::Unexpected(missing)));
    };
    let limit = config.body_limit(req.path());
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Ok(req.error_response(ApiError::PayloadTooLarge(limit)));
    }
    let body = match read_body(&mut req.take_payload(), limit).await {
        Ok(body) => body,
        Err(e) => return Ok(req.error_response(e)),
    };
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_string(), |p| p.as_str().to_string());
    let hash = request_hash(req.method(), &path, &body);
    req.set_payload(Payload::from(body));

    let (lookup_member, lookup_key) = (member.clone(), key.clone());
    let existing = db
        .run(move |conn| {
            Ok(queries::find_live(
                conn,
                &lookup_member,
                &lookup_key,
                now(),
            )?)
        })
        .await;
    match existing {
        Err(e) => return Ok(req.error_response(e)),
        Ok(Some(record)) => return Ok(answer_from_record(req, &record, &hash)),
        Ok(None) => {}
    }

    let created_at = now();
    let expires_at = created_at
        + chrono::Duration::from_std(config.key_ttl).unwrap_or(chrono::Duration::days(1));
    let slot: SharedSlot = Arc::new(Mutex::new(ClaimSlot {
        record: IdempotencyKey {
            member_id: member.clone(),
            idempotency_key: key.clone(),
            request_hash: hash,
            response_status: None,
            response_content_type: None,
            response_body: None,
            created_at,
            expires_at,
        },
        committed: false,
        lost_race: false,
    }));
    let response = with_write_hook(slot.clone(), next.call(req)).await?;
    let (committed, lost_race) = {
        let state = lock(&slot);
        (state.committed, state.lost_race)
    };
    if lost_race {
        let (request, _) = response.into_parts();
        return Ok(ServiceResponse::from_err(in_use(), request).map_into_boxed_body());
    }
    if !committed {
        // Nothing was written, so nothing needs guarding: a repeat simply runs again.
        return Ok(response.map_into_boxed_body());
    }
    store_answer(db, member, key, response).await
}

fn answer_from_record(
    req: ServiceRequest,
    record: &IdempotencyKey,
    hash: &str,
) -> ServiceResponse<BoxBody> {
    if record.request_hash != hash {
        return req.error_response(ApiError::Validation(
            ErrorCode::IdempotencyKeyMismatch,
            "this Idempotency-Key was used for a different request; use a new key for a new request"
                .into(),
        ));
    }
    match (record.response_status, &record.response_body) {
        (Some(status), Some(_)) => req.into_response(replay(record, status)),
        (Some(_), None) => req.error_response(ApiError::Conflict(
            ErrorCode::IdempotencyAnswerWithheld,
            "the request with this Idempotency-Key succeeded, but its answer held a secret that \
             is shown only once; it will not be carried out again"
                .into(),
        )),
        (None, _) => req.error_response(in_use()),
    }
}

async fn store_answer(
    db: web::Data<Db>,
    member: MemberId,
    key: String,
    response: ServiceResponse<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let body = match to_bytes(body).await {
        Ok(body) => body,
        Err(e) => {
            let e: Box<dyn std::error::Error> = e.into();
            let error = anyhow::anyhow!("cannot read the answer to store it: {e}");
            return Ok(
                ServiceResponse::from_err(ApiError::Unexpected(error), request)
                    .map_into_boxed_body(),
            );
        }
    };
    let status = i32::from(head.status().as_u16());
    let content_type = head
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Answers that must not be kept (tokens, invitation codes) are recorded without a body.
    let no_store = head
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-store"));
    let stored_body = (!no_store).then(|| body.to_vec());
    let saved = db
        .run(move |conn| {
            Ok(queries::save_response(
                conn,
                &member,
                &key,
                status,
                content_type,
                stored_body,
            )?)
        })
        .await;
    if let Err(e) = saved {
        // The creation is committed with its key, so a repeat is refused (409), never redone.
        tracing::warn!(error = %e, "the answer for an idempotency key could not be stored");
    }
    Ok(ServiceResponse::new(request, head.set_body(body)).map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(parse_key(&HeaderValue::from_static("4f1c-aa_01")).is_ok());
        assert!(parse_key(&HeaderValue::from_static("")).is_err());
        assert!(parse_key(&HeaderValue::from_static("has space")).is_err());
        let long = "k".repeat(MAX_KEY_LEN + 1);
        assert!(parse_key(&HeaderValue::from_str(&long).unwrap()).is_err());
    }

    #[test]
    fn the_hash_covers_method_path_and_body() {
        let a = request_hash(&Method::POST, "/api/v1/posts", b"{}");
        assert_ne!(a, request_hash(&Method::POST, "/api/v1/posts", b"{ }"));
        assert_ne!(a, request_hash(&Method::POST, "/api/v1/hans", b"{}"));
        assert_ne!(a, request_hash(&Method::PUT, "/api/v1/posts", b"{}"));
        assert_eq!(a, request_hash(&Method::POST, "/api/v1/posts", b"{}"));
    }
}
