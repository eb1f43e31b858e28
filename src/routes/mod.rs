//! HTTP handlers, thin: parse, authorise, one `Db::run`, map to a response.

pub mod associations;
pub mod auth;
pub mod districts;
pub mod health;
pub mod membership;

use actix_web::web;
use futures_util::StreamExt;
use serde::{Deserialize, Deserializer};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

/// Everything under `/api/v1`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    auth::config(cfg);
    districts::config(cfg);
    associations::config(cfg);
    membership::config(cfg);
}

/// For PATCH fields where null (clear) differs from absent (keep).
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Reads a non-JSON body up to `limit` bytes, with the same JSON error as JSON bodies.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::BadRequest("bad_request", format!("reading the body failed: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
