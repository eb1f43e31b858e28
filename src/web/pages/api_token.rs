//! `POST /session/api-token`: a short-lived API access token for the session's member, so
//! page scripts can use the JSON API (push subscriptions) under the same rules.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::auth::JwtKeys;
use crate::auth::generations::TokenGenerations;
use crate::error::ApiError;
use crate::web::csrf::CsrfHeader;
use crate::web::session::current;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/session/api-token", web::post().to(api_token));
}

#[derive(Serialize)]
struct ApiToken {
    access_token: String,
    expires_in: u64,
}

/// Needs the session's CSRF header.
async fn api_token(
    _csrf: CsrfHeader,
    req: HttpRequest,
    keys: web::Data<JwtKeys>,
    generations: web::Data<TokenGenerations>,
) -> Result<HttpResponse, ApiError> {
    let signed_in = current(&req).await?.ok_or_else(ApiError::invalid_token)?;
    let member = &signed_in.principal.member_id;
    let generation = generations.current(member).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(ApiToken {
            access_token: keys.issue(member, generation)?,
            expires_in: keys.access_ttl_secs,
        }))
}
