//! CSRF protection for every form and page script: the token is the session's (stored with
//! it), or for a visitor the random value of their `kairan_visitor` cookie (double submit).
//! It is checked before anything else; a request without it changes nothing.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use crate::auth::jwt::random_token;
use crate::error::{ApiError, ErrorCode};
use crate::web::session::{self, SignedIn};

pub const VISITOR_COOKIE: &str = "kairan_visitor";
/// The form field every page form carries (`{% include "csrf.html" %}`).
pub const FIELD: &str = "csrf";
/// The header page scripts send instead (`X-CSRF-Token`).
pub const HEADER: &str = "x-csrf-token";
/// Largest form body a page accepts (uploads use their own extractor).
pub const FORM_LIMIT: usize = 64 * 1024;

/// The token a form on this request's page must carry, and the visitor cookie to set when
/// a visitor has none yet.
pub fn token_for_page(
    req: &HttpRequest,
    signed_in: Option<&SignedIn>,
) -> (String, Option<actix_web::cookie::Cookie<'static>>) {
    if let Some(signed_in) = signed_in {
        return (signed_in.csrf.clone(), None);
    }
    if let Some(visitor) = req.cookie(VISITOR_COOKIE) {
        return (visitor.value().to_string(), None);
    }
    let value = random_token().expose_secret().to_string();
    let cookie = session::cookie(req, VISITOR_COOKIE, value.clone(), 365 * 86_400);
    (value, Some(cookie))
}

/// Refuses unless `presented` is this request's token.
pub async fn verify(req: &HttpRequest, presented: Option<&str>) -> Result<(), ApiError> {
    let expected = match session::current(req).await? {
        Some(signed_in) => Some(signed_in.csrf.clone()),
        None => req.cookie(VISITOR_COOKIE).map(|c| c.value().to_string()),
    };
    match (expected, presented) {
        (Some(expected), Some(presented))
            if !expected.is_empty() && same(expected.as_bytes(), presented.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::BadRequest(
            ErrorCode::CsrfTokenInvalid,
            "the form's security token is missing or stale; nothing was changed".into(),
        )),
    }
}

/// Constant-time comparison, so the token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A urlencoded form whose `csrf` field is checked before the rest is read; then the
/// fields are deserialized into `T` (which ignores `csrf`).
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|_| ApiError::PayloadTooLarge(FORM_LIMIT))?;
            if body.len() > FORM_LIMIT {
                return Err(ApiError::PayloadTooLarge(FORM_LIMIT).into());
            }
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).unwrap_or_default();
            let presented = fields
                .iter()
                .find(|(name, _)| name == FIELD)
                .map(|(_, value)| value.as_str());
            verify(&req, presented).await?;
            let form = serde_urlencoded::from_bytes::<T>(&body).map_err(|e| {
                ApiError::BadRequest(
                    ErrorCode::InvalidInput,
                    format!("the form is not valid: {e}"),
                )
            })?;
            Ok(CsrfForm(form))
        })
    }
}

/// A page script's request carrying the token in `X-CSRF-Token`.
pub struct CsrfHeader;

impl FromRequest for CsrfHeader {
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let presented = req
                .headers()
                .get(HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            verify(&req, presented.as_deref()).await?;
            Ok(CsrfHeader)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
