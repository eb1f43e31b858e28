//! The channel part of `/settings`: which channels notify the member (push, email, LINE),
//! how often mail comes (each circular or a daily digest) and their email address (a
//! verification mail is sent), drawn by `section`; its two forms are saved by
//! `settings.rs`, which draws the page again when one is refused. LINE's code and unlinking
//! post here and go back.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use serde::Deserialize;

use crate::actions::line::{self, LinkView};
use crate::actions::{Services, channels};
use crate::domain::{Channel, EmailFrequency};
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/settings/line/code", web::post().to(line_code))
        .route("/settings/line/unlink", web::post().to(line_unlink));
}

/// One checkbox of the channel choice.
pub struct ChannelOption {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// What `/settings` shows of the caller's channels and address.
pub struct ChannelSection {
    pub options: Vec<ChannelOption>,
    pub email: String,
    pub email_state: Option<&'static str>,
    pub email_enabled: bool,
    /// Mail comes as one digest a day.
    pub daily: bool,
    /// The member's LINE link, their open code and where to add the account (D66).
    pub line: LinkView,
    /// The code's instructions, with its minutes filled in.
    pub line_code_lead: String,
}

pub async fn section(
    services: &Services,
    member: &PageMember,
    page: &Page,
) -> Result<ChannelSection, ApiError> {
    let caller = &member.0.principal.member_id;
    let chosen = channels::channels(services, caller).await?;
    let email = channels::email(services, caller).await?;
    let frequency = channels::email_frequency(services, caller).await?;
    let line = line::link_status(services, caller).await?;
    let options = Channel::ALL
        .iter()
        // LINE is a choice once it is linked (below, the code that links it).
        .filter(|c| **c != Channel::Line || line.linked)
        .map(|c| ChannelOption {
            value: c.as_str(),
            label: page.t(&format!("channels.{}", c.as_str())),
            checked: chosen.contains(c),
        })
        .collect();
    Ok(ChannelSection {
        options,
        email_state: email.as_ref().map(|e| {
            page.t(if e.verified_at.is_some() {
                "channels.email_verified"
            } else {
                "channels.email_unverified"
            })
        }),
        email: email.map(|e| e.address).unwrap_or_default(),
        email_enabled: services.email_enabled,
        daily: frequency == EmailFrequency::Daily,
        line,
        line_code_lead: page
            .t("line.code_lead")
            .replace("{minutes}", &services.line.link_code_ttl_mins.to_string()),
    })
}

/// Shows a new one-time code on /settings.
async fn line_code(
    _form: CsrfForm<Empty>,
    member: PageMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    line::new_code(&services, &member.0.principal.member_id).await?;
    Ok(redirect("/settings#line-heading", Vec::new()))
}

async fn line_unlink(
    _form: CsrfForm<Empty>,
    member: PageMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    line::unlink(&services, &member.0.principal.member_id).await?;
    Ok(redirect(
        "/settings?line_unlinked=1#line-heading",
        Vec::new(),
    ))
}

/// A form with only its CSRF token.
#[derive(Deserialize)]
struct Empty {}
