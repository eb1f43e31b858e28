//! One-time sign-in QR codes that an officer prints for a household member.

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::sessions;
use crate::auth::AuthMember;
use crate::authz::Principal;
use crate::configuration::WebSettings;
use crate::db::Db;
use crate::domain::MemberId;
use crate::error::ApiError;
use crate::web::{public_base_url, qr};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(issue_sign_in_code);
}

#[derive(Serialize, ToSchema)]
pub struct SignInCodeResponse {
    /// Opening it on a phone signs that phone in as the member, once.
    #[schema(example = "https://kairan.example.jp/signin/3q2-…")]
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// The URL as a QR code, an SVG image to print.
    pub qr_svg: String,
}

/// Print a one-time sign-in QR code for a member of your association: it signs one phone
/// in once, and ends the member's other sign-ins (a lost phone) and earlier codes. Audited.
#[utoipa::path(
    tag = "membership",
    params(("id" = String, Path, description = "The member")),
    responses(
        (status = 201, body = SignInCodeResponse),
        (status = 404, description = "No such member in an association you keep", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/members/{id}/sign-in-codes")]
pub async fn issue_sign_in_code(
    req: HttpRequest,
    auth: AuthMember,
    path: web::Path<MemberId>,
    db: web::Data<Db>,
    settings: web::Data<WebSettings>,
) -> Result<HttpResponse, ApiError> {
    let member = path.into_inner();
    let ttl = settings.sign_in_code_ttl_secs();
    let issued = db
        .run(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            sessions::issue_sign_in_code(conn, &p, &member, ttl)
        })
        .await?;
    let url = format!(
        "{}/signin/{}",
        public_base_url(&req, &settings),
        issued.token.expose_secret()
    );
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(SignInCodeResponse {
            qr_svg: qr::svg(&url)?,
            url,
            expires_at: issued.expires_at.and_utc(),
        }))
}
