//! Sign-in, tokens, registration and the signed-in member (`/me`).

use crate::domain::new_id;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::{Services, account, sessions};
use crate::auth::generations::TokenGenerations;
use crate::auth::jwt::{random_token, sha256_hex};
use crate::auth::limiter::RegistrationLimiter;
use crate::auth::{AuthMember, JwtKeys, PasswordService, client_address};
use crate::authz::{Principal, RoleGrant};
use crate::configuration::AuthSettings;
use crate::db::Db;
use crate::db::queries::accounts::{self, RefreshOutcome};
use crate::domain::{AssociationId, DistrictId, HanId, HouseholdId, Login, MemberId, OneLine};
use crate::error::{ApiError, ErrorCode};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(sign_in)
        .service(refresh)
        .service(sign_out)
        .service(register)
        .service(me);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address or phone number.
    #[schema(example = "taro@example.jp")]
    pub login: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Opaque; spent on use, so keep only the newest.
    pub refresh_token: String,
    /// Seconds the access token stays valid.
    pub expires_in: u64,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
}

/// Signs a member in and stores a refresh token of a new family.
pub async fn issue_pair(
    db: &Db,
    keys: &JwtKeys,
    settings: &AuthSettings,
    generations: &TokenGenerations,
    member: MemberId,
) -> Result<TokenPair, ApiError> {
    let refresh_token = random_token();
    let hash = sha256_hex(refresh_token.expose_secret());
    let ttl = settings.refresh_ttl_secs;
    let family = new_id();
    let owner = member.clone();
    db.run(move |conn| {
        Ok(accounts::store_refresh_token(
            conn, &owner, &family, hash, ttl,
        )?)
    })
    .await?;
    let generation = generations.current(&member).await?;
    pair(keys, &member, generation, refresh_token)
}

fn pair(
    keys: &JwtKeys,
    member: &MemberId,
    generation: i64,
    refresh_token: SecretString,
) -> Result<TokenPair, ApiError> {
    Ok(TokenPair {
        access_token: keys.issue(member, generation)?,
        refresh_token: refresh_token.expose_secret().to_string(),
        expires_in: keys.access_ttl_secs,
        token_type: "Bearer",
    })
}

/// Sign in with a login id and password.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "Wrong login or password", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = crate::error::ErrorBody),
        (status = 503, description = "Too many sign-ins at once; see Retry-After", body = crate::error::ErrorBody),
    )
)]
#[post("/auth/login")]
pub async fn sign_in(
    req: HttpRequest,
    body: web::Json<LoginRequest>,
    db: web::Data<Db>,
    keys: web::Data<JwtKeys>,
    passwords: web::Data<PasswordService>,
    settings: web::Data<AuthSettings>,
    generations: web::Data<TokenGenerations>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { login, password } = body.into_inner();
    let credentials = sessions::Credentials {
        login,
        password,
        client_address: client_address(&req, &settings.trusted_proxies),
    };
    let member = sessions::sign_in(&db, &passwords, &settings, credentials).await?;
    let pair = issue_pair(&db, &keys, &settings, &generations, member).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(pair))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(value_type = String)]
    pub refresh_token: SecretString,
}

/// Trade a refresh token for a new pair; the old token is spent.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "Unknown, expired or reused token (reuse revokes the whole sign-in)", body = crate::error::ErrorBody),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    body: web::Json<RefreshRequest>,
    db: web::Data<Db>,
    keys: web::Data<JwtKeys>,
    settings: web::Data<AuthSettings>,
    generations: web::Data<TokenGenerations>,
) -> Result<HttpResponse, ApiError> {
    let presented = sha256_hex(body.refresh_token.expose_secret());
    let successor = random_token();
    let successor_hash = sha256_hex(successor.expose_secret());
    let ttl = settings.refresh_ttl_secs;
    let rotate = move |conn: &mut _| {
        accounts::rotate_refresh_token(conn, &presented, successor_hash, ttl).map_err(Into::into)
    };
    let outcome = db.run(rotate).await?;
    match outcome {
        RefreshOutcome::Rotated(member) => {
            let generation = generations.current(&member).await?;
            Ok(HttpResponse::Ok()
                .insert_header(no_store())
                .json(pair(&keys, &member, generation, successor)?))
        }
        RefreshOutcome::Invalid => Err(ApiError::Unauthorized(
            ErrorCode::InvalidRefreshToken,
            "the refresh token is not valid",
        )),
        RefreshOutcome::Reused => {
            tracing::warn!("a spent refresh token was presented again; its sign-in is revoked");
            Err(ApiError::Unauthorized(
                ErrorCode::RefreshTokenReused,
                "this refresh token was already used; sign in again",
            ))
        }
    }
}

/// Sign out: the refresh token's sign-in is revoked, and the member's access tokens stop at
/// once (their other sign-ins get new ones with their refresh tokens).
#[utoipa::path(tag = "auth", responses((status = 204), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/auth/logout")]
pub async fn sign_out(
    auth: AuthMember,
    body: web::Json<RefreshRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let hash = sha256_hex(body.refresh_token.expose_secret());
    account::sign_out(&services, &auth.0, hash).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// From an officer's invitation (QR or printed). Without one, the account has no
    /// household until a join request is approved.
    #[schema(example = "K7QM-2HX9-PD4T")]
    pub invitation_code: Option<String>,
    #[schema(example = "hanako@example.jp")]
    pub login: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    #[schema(example = "金沢花子")]
    pub display_name: String,
}

/// Create an account, with an invitation to join its association at once.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 201, body = TokenPair),
        (status = 409, description = "login_taken", body = crate::error::ErrorBody),
        (status = 422, description = "weak_password, invitation_invalid, invitation_expired, invitation_used_up, invalid_input", body = crate::error::ErrorBody),
        (status = 429, description = "too_many_requests: registrations from this address over the hourly limit", body = crate::error::ErrorBody),
    )
)]
#[post("/auth/register")]
pub async fn register(
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
    limiter: web::Data<RegistrationLimiter>,
    services: web::Data<Services>,
    keys: web::Data<JwtKeys>,
    passwords: web::Data<PasswordService>,
    settings: web::Data<AuthSettings>,
) -> Result<HttpResponse, ApiError> {
    let RegisterRequest {
        invitation_code,
        login,
        password,
        display_name,
    } = body.into_inner();
    let login = Login::parse(&login).map_err(ApiError::validation)?;
    let display_name = OneLine::<100>::parse("display_name", &display_name)
        .map_err(ApiError::validation)?
        .into_inner();
    let account = sessions::NewAccount {
        invitation_code,
        display_name,
        credentials: Some((login, password)),
        client_address: client_address(&req, &settings.trusted_proxies),
    };
    let (db, generations) = (&services.db, &services.token_generations);
    let member = sessions::register(db, &passwords, &limiter, account).await?;
    let pair = issue_pair(db, &keys, &settings, generations, member).await?;
    Ok(HttpResponse::Created().insert_header(no_store()).json(pair))
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub id: MemberId,
    pub login: String,
    pub display_name: String,
    pub household_id: Option<HouseholdId>,
    pub han_id: Option<HanId>,
    pub association_id: Option<AssociationId>,
    pub district_id: Option<DistrictId>,
    pub roles: Vec<RoleGrant>,
}

/// The signed-in member, where they belong, and their roles now.
#[utoipa::path(tag = "auth", responses((status = 200, body = MeResponse), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/me")]
pub async fn me(auth: AuthMember, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let p = db.run(move |conn| Principal::load(conn, &auth.0)).await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        id: p.place.member_id,
        login: p.login,
        display_name: p.display_name,
        household_id: p.place.household_id,
        han_id: p.place.han_id,
        association_id: p.place.association_id,
        district_id: p.place.district_id,
        roles: p.roles,
    }))
}

/// Token answers must not be cached (RFC 6749 5.1), nor kept for an Idempotency-Key replay.
pub fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}
