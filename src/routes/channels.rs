//! The channels beside push: a member's email address (verified by a mailed link).

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::channels::{self, EmailView};
use crate::auth::AuthMember;
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(get_email).service(set_email);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailResponse {
    pub email: String,
    /// Mail goes only to a verified address.
    pub verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
}

impl From<EmailView> for EmailResponse {
    fn from(view: EmailView) -> Self {
        Self {
            email: view.address,
            verified: view.verified_at.is_some(),
            verified_at: view.verified_at.map(|at| at.and_utc()),
        }
    }
}

/// Your email address and whether it is verified.
#[utoipa::path(tag = "channels", responses((status = 200, body = EmailResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/me/email")]
pub async fn get_email(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = channels::email(&services, &auth.0)
        .await?
        .ok_or(ApiError::NotFound("email address"))?;
    Ok(HttpResponse::Ok().json(EmailResponse::from(view)))
}

/// Set your email address: 202, and a mail whose link verifies it. Until then no mail goes
/// there; a new address replaces the old one (unverified again).
#[utoipa::path(tag = "channels", request_body = EmailRequest, responses((status = 202, body = EmailResponse), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[put("/me/email")]
pub async fn set_email(
    auth: AuthMember,
    body: web::Json<EmailRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = channels::set_email(&services, &auth.0, &body.email).await?;
    Ok(HttpResponse::Accepted().json(EmailResponse::from(view)))
}
