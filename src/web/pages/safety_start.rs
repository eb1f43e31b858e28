//! `/officer/safety/new`: an officer, 班長, district officer or city staff starts a safety
//! check (安否確認) for an audience they may post to, through the same action as
//! `POST /api/v1/safety-checks`, then follows its status. Works without JavaScript.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::posts;
use crate::actions::safety::{self, NewCheck};
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::form_errors::FieldErrors;
use crate::web::page::{Page, redirect};
use crate::web::pages::compose::{AudienceOption, audience_options, value_of};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/safety/new", web::get().to(show))
        .route("/officer/safety/new", web::post().to(start));
}

/// The form's fields: element id and label.
const AUDIENCE: &str = "safety-audience";
const MESSAGE: (&str, &str) = ("safety-message", "safety_start.message_label");

#[derive(Default, Deserialize)]
struct StartForm {
    #[serde(default)]
    audience: String,
    #[serde(default)]
    message: String,
}

#[derive(Template)]
#[template(path = "safety_start.html")]
struct StartPage<'a> {
    page: &'a Page,
    audiences: Vec<AudienceOption>,
    form: StartForm,
    errors: FieldErrors,
}

/// The form, with the audiences the caller may reach (403 for those who may reach none).
async fn draw(
    page: &Page,
    services: &Services,
    member: &PageMember,
    form: StartForm,
    errors: FieldErrors,
) -> Result<HttpResponse, ApiError> {
    let choices = posts::audiences(services, &member.0.principal.member_id).await?;
    if choices.is_empty() {
        return Err(ApiError::Forbidden);
    }
    let audiences = audience_options(page, &choices, &form.audience);
    let status = errors.status();
    let template = StartPage {
        page,
        audiences,
        form,
        errors,
    };
    page.render_with(status, &template)
}

async fn show(
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (form, errors) = (StartForm::default(), FieldErrors::default());
    draw(&page, &services, &member, form, errors).await
}

async fn start(
    form: CsrfForm<StartForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (form, caller) = (form.0, &member.0.principal.member_id);
    let choices = posts::audiences(&services, caller).await?;
    if choices.is_empty() {
        return Err(ApiError::Forbidden);
    }
    // Both mistakes at once: the audience among those offered, the message by its rule.
    let mut errors = FieldErrors::default();
    let choice = choices.into_iter().find(|c| value_of(c) == form.audience);
    if choice.is_none() {
        let label = page.t("safety_start.audience");
        errors.add(AUDIENCE, label, page.t("post_edit.choose_audience"));
    }
    let message = safety::parse_message(&form.message)
        .map_err(|e| errors.refused(&page, MESSAGE, &e))
        .ok();
    let (Some(choice), Some(message)) = (choice, message) else {
        return draw(&page, &services, &member, form, errors).await;
    };
    let new = NewCheck {
        scope: choice.scope,
        hans: choice.hans,
        message,
    };
    let (view, _) = safety::start(&services, caller, new).await?;
    Ok(redirect(
        &format!("/safety/{}/status", view.check.id),
        Vec::new(),
    ))
}
