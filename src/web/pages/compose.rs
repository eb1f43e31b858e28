//! `/officer/posts/new`: an officer, chair or 班長 writes a circular (title, body, audience,
//! confirmation, priority, an optional one-question survey) and sends it (`回覧を送る`)
//! through the same action as `POST /api/v1/posts`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::posts::{self, AudienceChoice, NewPost};
use crate::domain::draft::{PostDraft, QuestionDraft};
use crate::domain::{Priority, QuestionKind, Scope};
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/posts/new", web::get().to(show))
        .route("/officer/posts/new", web::post().to(send));
}

pub struct AudienceOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Default, Deserialize)]
struct ComposeForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    audience: String,
    requires_confirmation: Option<String>,
    urgent: Option<String>,
    #[serde(default)]
    question: String,
    #[serde(default)]
    options: String,
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage<'a> {
    page: &'a Page,
    audiences: Vec<AudienceOption>,
    form: ComposeForm,
    error: bool,
}

/// The form's value for an audience: `association`, `han:<id>`, `district` or `city`.
fn value_of(choice: &AudienceChoice) -> String {
    match (&choice.scope, choice.hans.first()) {
        (Scope::Association(_), Some(han)) => format!("han:{han}"),
        (Scope::Association(_), None) => "association".into(),
        (Scope::District(_), _) => "district".into(),
        (Scope::City, _) => "city".into(),
    }
}

fn label_of(page: &Page, choice: &AudienceChoice) -> String {
    let name = choice.name.as_deref().unwrap_or_default();
    match (&choice.scope, choice.hans.is_empty()) {
        (Scope::Association(_), true) => page.tf("compose.to_association", "name", name),
        (Scope::Association(_), false) => page.tf("compose.to_han", "name", name),
        (Scope::District(_), _) => page.t("compose.to_district").to_string(),
        (Scope::City, _) => page.t("compose.to_city").to_string(),
    }
}

async fn draw(
    page: &Page,
    services: &Services,
    member: &PageMember,
    form: ComposeForm,
    error: bool,
) -> Result<HttpResponse, ApiError> {
    let choices = posts::audiences(services, &member.0.principal.member_id).await?;
    if choices.is_empty() {
        return Err(ApiError::Forbidden);
    }
    let audiences = choices
        .iter()
        .map(|choice| {
            let value = value_of(choice);
            AudienceOption {
                selected: value == form.audience,
                label: label_of(page, choice),
                value,
            }
        })
        .collect();
    let status = if error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page.render_with(
        status,
        &ComposePage {
            page,
            audiences,
            form,
            error,
        },
    )
}

async fn show(
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    draw(&page, &services, &member, ComposeForm::default(), false).await
}

/// The post the form describes, to the audience it names among those offered.
fn new_post(form: &ComposeForm, choices: Vec<AudienceChoice>) -> Option<NewPost> {
    let choice = choices.into_iter().find(|c| value_of(c) == form.audience)?;
    let options: Vec<String> = form
        .options
        .lines()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    let questions = if form.question.trim().is_empty() {
        Vec::new()
    } else {
        vec![QuestionDraft {
            kind: QuestionKind::SingleChoice,
            prompt: form.question.clone(),
            options,
            required: true,
        }]
    };
    Some(NewPost {
        scope: choice.scope,
        category: None,
        priority: form.urgent.as_ref().map(|_| Priority::Urgent),
        draft: PostDraft {
            han_ids: choice.hans.into_iter().map(|h| h.0).collect(),
            title: form.title.clone(),
            body: form.body.clone(),
            requires_confirmation: form.requires_confirmation.is_some(),
            publish_at: None,
            expires_at: None,
            draft: false,
            questions,
            answers_until: None,
            event: None,
        },
    })
}

async fn send(
    form: CsrfForm<ComposeForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let form = form.0;
    let caller = &member.0.principal.member_id;
    let choices = posts::audiences(&services, caller).await?;
    let sent = match new_post(&form, choices) {
        Some(input) => posts::create(&services, caller, input).await,
        None => Err(ApiError::validation("choose an audience")),
    };
    match sent {
        Ok(view) => Ok(redirect(
            &format!("/posts/{}", view.detail.post.id),
            Vec::new(),
        )),
        Err(ApiError::Validation(..)) => draw(&page, &services, &member, form, true).await,
        Err(e) => Err(e),
    }
}
