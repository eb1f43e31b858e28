//! `/safety/{id}`: a resident answers a safety check (`無事です` / `支援が必要です`, with an
//! optional note) and sees their household's answer; works without JavaScript and, with it,
//! offline (the answer is queued). `/safety/{id}/status`: the live status for those who may
//! follow it (officers and 班長 house by house, district officers and city staff counts).

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpResponse, http::StatusCode};
use askama::Template;
use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::safety::{self, CheckView, NewAnswer};
use crate::domain::{SafetyCheckId, SafetyStatus, SafetyStatusResponse};
use crate::error::{ApiError, FieldError, Problem};
use crate::web::CsrfForm;
use crate::web::form_errors::{FieldErrors, problem_text};
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/safety/{id}", web::get().to(show))
        .route("/safety/{id}", web::post().to(answer))
        .route("/safety/{id}/status", web::get().to(status));
}

/// A UTC time as people in Japan read it: `2026-12-03 09:30`.
pub fn jst(utc: NaiveDateTime) -> String {
    (utc + Duration::hours(9))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A status as the page names it.
pub(super) fn status_key(status: SafetyStatus) -> &'static str {
    match status {
        SafetyStatus::Safe => "safety.status_safe",
        SafetyStatus::NeedsHelp => "safety.status_needs_help",
    }
}

#[derive(Template)]
#[template(path = "safety.html")]
struct SafetyPage<'a> {
    page: &'a Page,
    view: &'a CheckView,
    closed: bool,
    answered: bool,
    note: &'a str,
    /// A refused note, beside the field and in the summary.
    errors: FieldErrors,
}

impl SafetyPage<'_> {
    fn sent_at(&self) -> String {
        self.page
            .tf("safety.sent_at", "time", &jst(self.view.check.started_at))
    }

    /// The household's answer: what, when, and whether someone answered for it.
    fn answer(&self) -> Option<(&'static str, String, bool, Option<&str>)> {
        self.view.answer.as_ref().map(|a| {
            (
                self.page.t(status_key(a.status)),
                self.page
                    .tf("safety.answered_at", "time", &jst(a.answered_at)),
                a.on_behalf,
                a.note.as_deref(),
            )
        })
    }
}

fn render(
    page: &Page,
    view: &CheckView,
    status: StatusCode,
    answered: bool,
    note: &str,
    errors: FieldErrors,
) -> Result<HttpResponse, ApiError> {
    let closed = view.check.closed_at.is_some();
    let template = SafetyPage {
        page,
        view,
        closed,
        answered,
        note,
        errors,
    };
    let mut response = page.render_with(status, &template)?;
    // An open check stays readable offline; a closed one is dropped from the phone.
    let keep = if closed { "drop" } else { "keep" };
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-kairan-offline"),
        actix_web::http::header::HeaderValue::from_static(keep),
    );
    Ok(response)
}

#[derive(Deserialize)]
struct ShownQuery {
    answered: Option<String>,
}

async fn show(
    member: PageMember,
    page: Page,
    path: web::Path<SafetyCheckId>,
    query: web::Query<ShownQuery>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let view = safety::get(&services, caller, path.into_inner()).await?;
    let answered = query.answered.is_some();
    render(
        &page,
        &view,
        StatusCode::OK,
        answered,
        "",
        FieldErrors::default(),
    )
}

#[derive(Deserialize)]
struct AnswerForm {
    status: String,
    note: Option<String>,
}

/// The note's rule's refusal, beside the note: its length in the page's words, anything
/// else as the text rule says it.
fn note_error(page: &Page, error: &FieldError) -> FieldErrors {
    let label = page.t("safety.note_label");
    let message = match error.problem {
        Problem::TooLong { .. } => page.t("safety.note_too_long").to_string(),
        _ => problem_text(page, label, error),
    };
    FieldErrors::one("note", label, message)
}

/// Idempotent, as the offline queue needs: the same answer again stores nothing.
async fn answer(
    form: CsrfForm<AnswerForm>,
    member: PageMember,
    page: Page,
    path: web::Path<SafetyCheckId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (id, form, caller) = (path.into_inner(), form.0, &member.0.principal.member_id);
    let status = safety::parse_status(&form.status)?;
    let note = match safety::parse_note(form.note.as_deref()) {
        Ok(note) => note,
        Err(ApiError::Field(_, e)) => {
            let view = safety::get(&services, caller, id).await?;
            let note = form.note.as_deref().unwrap_or_default();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(&page, &view, status, false, note, note_error(&page, &e));
        }
        Err(e) => return Err(e),
    };
    let new = NewAnswer {
        status,
        note,
        household: None,
        repeat_is_noop: true,
    };
    safety::answer(&services, caller, id.clone(), new).await?;
    Ok(redirect(&format!("/safety/{id}?answered=1"), Vec::new()))
}

#[derive(Template)]
#[template(path = "safety_status.html")]
struct StatusPage<'a> {
    page: &'a Page,
    view: &'a CheckView,
    status: &'a SafetyStatusResponse,
}

impl StatusPage<'_> {
    fn when(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        jst(t.naive_utc())
    }
}

async fn status(
    member: PageMember,
    page: Page,
    path: web::Path<SafetyCheckId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (path.into_inner(), &member.0.principal.member_id);
    let view = safety::get(&services, caller, id.clone()).await?;
    let status = safety::status(&services, caller, id).await?;
    page.render(&StatusPage {
        page: &page,
        view: &view,
        status: &status,
    })
}
