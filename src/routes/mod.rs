//! HTTP handlers, thin: parse, authorise, one `Db::run`, map to a response.

pub mod account;
pub mod admin;
pub mod associations;
pub mod attachments;
pub mod auth;
pub mod calendar;
pub mod channels;
pub mod districts;
pub mod health;
pub mod inbox;
pub mod invitations;
pub mod line;
pub mod posts;
pub mod projects;
pub mod push;
pub mod receipts;
pub mod roles;
pub mod roster;
pub mod safety;
pub mod sign_in_codes;
pub mod stats;
pub mod surveys;

use actix_web::web;
use futures_util::StreamExt;
use serde::{Deserialize, Deserializer};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::domain::{Scope, Tier};
use crate::error::{ApiError, ErrorCode};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeRequest {
    /// city, district or association.
    pub kind: Tier,
    /// The district or association; none for the city.
    pub id: Option<String>,
}

impl ScopeRequest {
    /// Parsed at the edge: a city has no id, a district or association needs one.
    pub fn parse(self) -> Result<Scope, ApiError> {
        Scope::parse(self.kind, self.id).map_err(ApiError::validation)
    }
}

/// Every route, for the server and for the OpenAPI document alike.
pub fn all(cfg: &mut ServiceConfig) {
    cfg.service(health::livez)
        .service(health::readyz)
        .service(utoipa_actix_web::scope("/api/v1").configure(api_v1));
}

/// Everything under `/api/v1`. The router tries each route in turn, a pattern with an id
/// by regular expression, so what members ask for most comes first: in an emergency the
/// routes tried before theirs cost more than the answer.
fn api_v1(cfg: &mut ServiceConfig) {
    inbox::config(cfg);
    posts::config(cfg);
    receipts::config(cfg);
    safety::config(cfg);
    auth::config(cfg);
    districts::config(cfg);
    associations::config(cfg);
    roster::config(cfg);
    invitations::config(cfg);
    roles::config(cfg);
    admin::config(cfg);
    calendar::config(cfg);
    push::config(cfg);
    channels::config(cfg);
    line::config(cfg);
    surveys::config(cfg);
    attachments::config(cfg);
    stats::config(cfg);
    projects::config(cfg);
    sign_in_codes::config(cfg);
    account::config(cfg);
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
            ApiError::BadRequest(
                ErrorCode::BadRequest,
                format!("reading the body failed: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A JSON body that may be left out: none for an empty body, else the same checks and errors
/// as the `Json` extractor (content type, syntax, fields).
pub fn optional_json<T: serde::de::DeserializeOwned>(
    req: &actix_web::HttpRequest,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            ErrorCode::UnsupportedMediaType,
            "the body must be JSON with Content-Type: application/json".into(),
        ));
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        if e.is_data() {
            ApiError::Validation(ErrorCode::InvalidField, e.to_string())
        } else {
            ApiError::BadRequest(
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {e}"),
            )
        }
    })
}

/// A CSV download: the file as `Csv::to_bytes` writes it (every cell spreadsheet-safe).
pub fn csv_response(csv: crate::domain::Csv) -> Result<actix_web::HttpResponse, ApiError> {
    let body = csv
        .to_bytes()
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))?;
    Ok(actix_web::HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", csv.file_name),
        ))
        .body(body))
}

/// Largest JSON body for a circular: 20,000 characters of Japanese, \u-escaped, fit.
pub const LONG_JSON_LIMIT: usize = 256 * 1024;

/// `web::Json` with the circular-sized limit; everything else keeps the global 64 KiB.
pub struct LongJson<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for LongJson<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let body =
            actix_web::dev::JsonBody::<T>::new(req, payload, None, true).limit(LONG_JSON_LIMIT);
        let req = req.clone();
        Box::pin(async move {
            body.await
                .map(LongJson)
                .map_err(|e| crate::error::json_error_handler(e, &req))
        })
    }
}
