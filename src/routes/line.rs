//! LINE (D66): an association's or the city's official account (officers), a member's link
//! to their LINE user, and the webhook LINE calls.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::line::{self, AccountInput, AccountView, LineOwner, LinkView};
use crate::auth::AuthMember;
use crate::domain::AssociationId;
use crate::error::ApiError;
use crate::routes::read_body;

/// LINE's webhook bodies are small; anything larger is not LINE.
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(get_association_account)
        .service(put_association_account)
        .service(delete_association_account)
        .service(get_city_account)
        .service(put_city_account)
        .service(delete_city_account)
        .service(get_link)
        .service(new_link_code)
        .service(delete_link)
        .service(webhook);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineAccountRequest {
    /// The Messaging API channel's id (LINE Developers console, digits).
    #[schema(example = "1656789012")]
    pub channel_id: String,
    /// A long-lived channel access token. Stored sealed; never returned.
    pub channel_access_token: String,
    /// The channel secret, which signs the webhook. Stored sealed; never returned.
    pub channel_secret: String,
    /// Messages a month the account's plan allows (`line.default_monthly_quota` if absent).
    pub monthly_quota: Option<i32>,
    /// The add-friend link (https://lin.ee/…) shown to members on /settings.
    pub friend_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LineAccountResponse {
    pub channel_id: String,
    /// Always true: the token is stored, and never shown again.
    pub channel_access_token_set: bool,
    /// Always true: the secret is stored, and never shown again.
    pub channel_secret_set: bool,
    /// The webhook URL's path to enter in the LINE Developers console.
    pub webhook_path: String,
    pub friend_url: Option<String>,
    pub quota: LineQuota,
    pub linked_members: i64,
    /// Set when LINE refused the token (401): nothing is sent until a new one is registered.
    pub refused_at: Option<DateTime<Utc>>,
    pub refusal: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct LineQuota {
    /// The JST month, YYYY-MM.
    pub month: String,
    /// Messages sent this month (a multicast to n members counts n).
    pub used: i32,
    pub limit: i32,
}

impl From<AccountView> for LineAccountResponse {
    fn from(v: AccountView) -> Self {
        Self {
            channel_id: v.channel_id,
            channel_access_token_set: true,
            channel_secret_set: true,
            webhook_path: v.webhook_path,
            friend_url: v.friend_url,
            quota: LineQuota {
                month: v.month,
                used: v.used_this_month,
                limit: v.monthly_quota,
            },
            linked_members: v.linked_members,
            refused_at: v.refused_at.map(|at| at.and_utc()),
            refusal: v.refusal,
            updated_at: v.updated_at.and_utc(),
        }
    }
}

impl From<LineAccountRequest> for AccountInput {
    fn from(r: LineAccountRequest) -> Self {
        Self {
            channel_id: r.channel_id,
            channel_access_token: r.channel_access_token,
            channel_secret: r.channel_secret,
            monthly_quota: r.monthly_quota,
            friend_url: r.friend_url,
        }
    }
}

/// The association's LINE official account: channel, quota this month, whether LINE refused
/// its token. Never the token or secret.
#[utoipa::path(tag = "line", params(("id" = String, Path)), responses((status = 200, body = LineAccountResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/associations/{id}/line-account")]
pub async fn get_association_account(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let owner = LineOwner::Association(path.into_inner());
    let view = line::account(&services, &auth.0, owner).await?;
    Ok(HttpResponse::Ok().json(LineAccountResponse::from(view)))
}

/// Register the association's LINE official account, or replace its token and secret
/// (its officers).
#[utoipa::path(tag = "line", params(("id" = String, Path)), request_body = LineAccountRequest, responses((status = 200, body = LineAccountResponse), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[put("/associations/{id}/line-account")]
pub async fn put_association_account(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    body: web::Json<LineAccountRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let owner = LineOwner::Association(path.into_inner());
    let view = line::save_account(&services, &auth.0, owner, body.into_inner().into()).await?;
    Ok(HttpResponse::Ok().json(LineAccountResponse::from(view)))
}

/// Remove the association's LINE official account; members' links end with it.
#[utoipa::path(tag = "line", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/associations/{id}/line-account")]
pub async fn delete_association_account(
    auth: AuthMember,
    path: web::Path<AssociationId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let owner = LineOwner::Association(path.into_inner());
    line::remove_account(&services, &auth.0, owner).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The city's LINE official account (city staff).
#[utoipa::path(tag = "line", responses((status = 200, body = LineAccountResponse), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/city/line-account")]
pub async fn get_city_account(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = line::account(&services, &auth.0, LineOwner::City).await?;
    Ok(HttpResponse::Ok().json(LineAccountResponse::from(view)))
}

/// Register or replace the city's LINE official account (city staff).
#[utoipa::path(tag = "line", request_body = LineAccountRequest, responses((status = 200, body = LineAccountResponse), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[put("/city/line-account")]
pub async fn put_city_account(
    auth: AuthMember,
    body: web::Json<LineAccountRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = line::save_account(
        &services,
        &auth.0,
        LineOwner::City,
        body.into_inner().into(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(LineAccountResponse::from(view)))
}

/// Remove the city's LINE official account.
#[utoipa::path(tag = "line", responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/city/line-account")]
pub async fn delete_city_account(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    line::remove_account(&services, &auth.0, LineOwner::City).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct LineLinkResponse {
    pub linked: bool,
    pub linked_at: Option<DateTime<Utc>>,
    /// Send this to the official account on LINE to link it (one use, until `code_expires_at`).
    pub code: Option<String>,
    pub code_expires_at: Option<DateTime<Utc>>,
    /// The official account to add as a friend first.
    pub friend_url: Option<String>,
    /// Whether your association or the city has a LINE official account at all.
    pub available: bool,
}

impl From<LinkView> for LineLinkResponse {
    fn from(v: LinkView) -> Self {
        Self {
            linked: v.linked,
            linked_at: v.linked_at.map(|at| at.and_utc()),
            code: v.code,
            code_expires_at: v.code_expires_at.map(|at| at.and_utc()),
            friend_url: v.friend_url,
            available: v.available,
        }
    }
}

/// Whether your LINE is linked, and the one-time code while one is open.
#[utoipa::path(tag = "line", responses((status = 200, body = LineLinkResponse), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/me/line-link")]
pub async fn get_link(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = line::link_status(&services, &auth.0).await?;
    Ok(HttpResponse::Ok().json(LineLinkResponse::from(view)))
}

/// A new one-time code to send to the official account on LINE (replaces an open one).
#[utoipa::path(tag = "line", responses((status = 200, body = LineLinkResponse), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/me/line-link/code")]
pub async fn new_link_code(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = line::new_code(&services, &auth.0).await?;
    Ok(HttpResponse::Ok().json(LineLinkResponse::from(view)))
}

/// Unlink your LINE: no more LINE messages.
#[utoipa::path(tag = "line", responses((status = 200, body = LineLinkResponse)), security(("bearer" = [])))]
#[delete("/me/line-link")]
pub async fn delete_link(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = line::unlink(&services, &auth.0).await?;
    Ok(HttpResponse::Ok().json(LineLinkResponse::from(view)))
}

#[derive(Serialize, ToSchema)]
pub struct WebhookAccepted {
    pub ok: bool,
}

/// LINE's webhook for a channel. The raw body must carry `X-Line-Signature` (base64
/// HMAC-SHA256 under the channel secret); otherwise 401 and nothing changes.
#[utoipa::path(tag = "line", params(("channel_id" = String, Path), ("X-Line-Signature" = String, Header)), responses((status = 200, body = WebhookAccepted), (status = 401, body = crate::error::ErrorBody)))]
#[post("/line/webhook/{channel_id}")]
pub async fn webhook(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, MAX_WEBHOOK_BYTES).await?;
    let signature = req
        .headers()
        .get("x-line-signature")
        .and_then(|v| v.to_str().ok());
    line::webhook(&services, path.into_inner(), &body, signature).await?;
    Ok(HttpResponse::Ok().json(WebhookAccepted { ok: true }))
}
