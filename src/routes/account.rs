//! A member's own account (a new password, sign out everywhere) and an officer's hold on a
//! member's access (disable, enable, remove someone who moved away).

use actix_web::{HttpRequest, HttpResponse, delete, post, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::account::{self, MemberAccess, PasswordChange};
use crate::auth::{AuthMember, JwtKeys, PasswordService, client_address};
use crate::configuration::AuthSettings;
use crate::domain::{AssociationId, MemberId};
use crate::error::ApiError;
use crate::routes::auth::{TokenPair, issue_pair, no_store};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(change_password)
        .service(sign_out_everywhere)
        .service(disable_member)
        .service(enable_member)
        .service(remove_member);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretString,
}

/// Set a new password. Every other sign-in ends (refresh tokens, browser sessions, access
/// tokens, this one's included); the answer is a fresh pair for this client.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = TokenPair),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, description = "wrong_password, weak_password", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong passwords; see Retry-After", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/me/password")]
pub async fn change_password(
    req: HttpRequest,
    auth: AuthMember,
    body: web::Json<ChangePasswordRequest>,
    services: web::Data<Services>,
    keys: web::Data<JwtKeys>,
    passwords: web::Data<PasswordService>,
    settings: web::Data<AuthSettings>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let change = PasswordChange {
        current: body.current_password,
        new: body.new_password,
        client_address: client_address(&req, &settings.trusted_proxies),
        keep_session: None,
    };
    account::change_password(&services, &passwords, &settings, &auth.0, change).await?;
    let generations = &services.token_generations;
    let pair = issue_pair(&services.db, &keys, &settings, generations, auth.0).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(pair))
}

/// Sign out everywhere: every refresh token, browser session, unused sign-in code and
/// access token of the caller stops at once.
#[utoipa::path(tag = "auth", responses((status = 204), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/me/sign-out-everywhere")]
pub async fn sign_out_everywhere(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    account::sign_out_everywhere(&services, &auth.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct MemberAccessResponse {
    pub id: MemberId,
    pub display_name: String,
    pub association_id: AssociationId,
    /// A disabled member cannot sign in; their sessions and tokens ended when disabled.
    pub disabled: bool,
}

impl From<MemberAccess> for MemberAccessResponse {
    fn from(a: MemberAccess) -> Self {
        Self {
            id: a.member_id,
            display_name: a.display_name,
            association_id: a.association_id,
            disabled: a.disabled,
        }
    }
}

/// Disable a member of an association whose roster you keep: they cannot sign in, and
/// every session and token of theirs stops at once. Not yourself, nor someone holding a role
/// you could not end (404).
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, body = MemberAccessResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/members/{id}/disable")]
pub async fn disable_member(
    auth: AuthMember,
    path: web::Path<MemberId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let access = account::set_disabled(&services, &auth.0, path.into_inner(), true).await?;
    Ok(HttpResponse::Ok().json(MemberAccessResponse::from(access)))
}

/// Enable a disabled member again (they sign in anew).
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 200, body = MemberAccessResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/members/{id}/enable")]
pub async fn enable_member(
    auth: AuthMember,
    path: web::Path<MemberId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let access = account::set_disabled(&services, &auth.0, path.into_inner(), false).await?;
    Ok(HttpResponse::Ok().json(MemberAccessResponse::from(access)))
}

/// Remove a member who moved away: out of their household, their roles ended, every
/// sign-in ended. Their account, what they did and the audit log stay.
#[utoipa::path(tag = "roster", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/members/{id}")]
pub async fn remove_member(
    auth: AuthMember,
    path: web::Path<MemberId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    account::remove(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
