//! `/links/{token}`: the signed links in mails. The GET shows what the link would do with a
//! button (mail scanners and previews follow links; only an address verification is done by
//! opening it); the button's POST does it once, then `/links/done/{purpose}` thanks.

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::links::{self, LinkView, Refusal};
use crate::domain::signed_link::LinkPurpose;
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/links/done/{purpose}", web::get().to(done))
        .route("/links/{token}", web::get().to(show))
        .route("/links/{token}", web::post().to(submit));
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage<'a> {
    page: &'a Page,
    title: &'static str,
    subject: &'a str,
    lead: &'static str,
    button: Option<&'static str>,
    action: &'a str,
}

async fn show(
    req: HttpRequest,
    mut page: Page,
    token: web::Path<String>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = match links::open(&services, &token).await? {
        Ok(view) => view,
        Err(refusal) => return refused(&page, refusal),
    };
    if page.member.is_none() {
        page.language = view.language;
    }
    let (title, lead, button) = texts(&page, &view);
    page.render(&LinkPage {
        page: &page,
        title,
        subject: &view.subject,
        lead,
        button,
        action: req.path(),
    })
}

fn texts(page: &Page, view: &LinkView) -> (&'static str, &'static str, Option<&'static str>) {
    match view.purpose {
        LinkPurpose::Confirm => (
            page.t("links.confirm_title"),
            page.t("links.confirm_lead"),
            Some(page.t("post.confirm")),
        ),
        LinkPurpose::Safe | LinkPurpose::NeedsHelp => (
            page.t("links.safety_title"),
            page.t(if view.purpose == LinkPurpose::Safe {
                "mail.safe"
            } else {
                "mail.needs_help"
            }),
            Some(page.t("links.safety_send")),
        ),
        LinkPurpose::Unsubscribe => (
            page.t("links.unsubscribe_title"),
            page.t("links.unsubscribe_lead"),
            Some(page.t("links.unsubscribe_button")),
        ),
        LinkPurpose::VerifyEmail => (
            page.t("links.verified_title"),
            page.t("links.verified_lead"),
            None,
        ),
    }
}

/// A clear page for a link that does nothing; nothing was recorded.
fn refused(page: &Page, refusal: Refusal) -> Result<HttpResponse, ApiError> {
    let (status, lead) = match refusal {
        Refusal::Invalid => (StatusCode::BAD_REQUEST, "links.invalid"),
        Refusal::Expired => (StatusCode::GONE, "links.expired"),
        Refusal::Spent => (StatusCode::CONFLICT, "links.spent"),
    };
    page.render_with(
        status,
        &LinkPage {
            page,
            title: page.t("links.invalid_title"),
            subject: "",
            lead: page.t(lead),
            button: None,
            action: "",
        },
    )
}

#[derive(Deserialize)]
struct NoFields {}

async fn submit(
    _form: CsrfForm<NoFields>,
    page: Page,
    token: web::Path<String>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    match links::act(&services, &token).await? {
        Ok(purpose) => Ok(redirect(
            &format!("/links/done/{}", purpose.as_str()),
            Vec::new(),
        )),
        Err(refusal) => refused(&page, refusal),
    }
}

async fn done(page: Page, purpose: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let lead = match purpose.parse::<LinkPurpose>() {
        Ok(LinkPurpose::Confirm) => "links.confirmed",
        Ok(LinkPurpose::Safe | LinkPurpose::NeedsHelp) => "links.answered",
        Ok(LinkPurpose::Unsubscribe) => "links.unsubscribed",
        _ => return Err(ApiError::NotFound("page")),
    };
    page.render(&LinkPage {
        page: &page,
        title: page.t("links.done_title"),
        subject: "",
        lead: page.t(lead),
        button: None,
        action: "",
    })
}
