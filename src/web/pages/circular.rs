//! `/posts/{id}`: one circular as the officer wrote it, its attachments, its survey (回答する)
//! and the `確認しました` button; opening it records the read. Kept for reading offline.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::attachments;
use crate::actions::posts::{self, PostView};
use crate::actions::receipts::{self, Receipt};
use crate::actions::surveys::{self, AnswerItem, AnswersResponse};
use crate::attachments::AttachmentStore;
use crate::db::models::{Attachment, SurveyQuestion};
use crate::db::now;
use crate::domain::{AttachmentId, MemberId, PostId, PostStatus, Priority, QuestionKind, Tier};
use crate::error::{ApiError, FieldError, Problem};
use crate::web::CsrfForm;
use crate::web::form_errors::{FieldErrors, problem_text};
use crate::web::page::{Page, redirect};
use crate::web::pages::calendar::{EventFacts, event_facts};
use crate::web::pages::inbox::{keep_offline, local_date};
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/posts/{id}", web::get().to(show))
        .route("/posts/{id}/confirm", web::post().to(confirm))
        .route("/posts/{id}/answers", web::post().to(answer))
        .route(
            "/posts/{id}/attachments/{attachment_id}",
            web::get().to(download),
        );
}

pub struct OptionField {
    pub index: usize,
    pub label: String,
    pub checked: bool,
}

/// One survey question as a form field, with the household's current answer filled in.
pub struct QuestionField {
    pub name: String,
    /// The element a message about the question is tied to (its field, or first option).
    pub target: String,
    pub prompt: String,
    pub required: bool,
    /// "radio" or "checkbox" for choices; "number" or "text" otherwise.
    pub input: &'static str,
    pub options: Vec<OptionField>,
    pub value: String,
}

pub struct AttachmentLink {
    pub href: String,
    pub file_name: String,
}

#[derive(Template)]
#[template(path = "circular.html")]
struct CircularPage<'a> {
    page: &'a Page,
    id: String,
    title: String,
    body_lines: Vec<String>,
    author: String,
    from_key: &'static str,
    date: String,
    urgent: bool,
    /// The member is among its readers (not only a manager looking at it).
    reader: bool,
    requires_confirmation: bool,
    confirmed: bool,
    attachments: Vec<AttachmentLink>,
    questions: Vec<QuestionField>,
    answers_open: bool,
    answered: bool,
    /// A refused answer's mistakes, beside its question and in the summary.
    errors: FieldErrors,
    /// When and where its 行事 takes place.
    event: Option<EventFacts>,
    /// Not sent yet (only its managers see it): where it is finished.
    unsent: bool,
}

fn field_name(q: &SurveyQuestion) -> String {
    format!("q-{}", q.id)
}

/// The element id of a question's field, or of its first option.
fn target_of(q: &SurveyQuestion) -> String {
    match q.kind {
        QuestionKind::SingleChoice | QuestionKind::MultipleChoice => format!("{}-0", field_name(q)),
        QuestionKind::Number | QuestionKind::ShortText => field_name(q),
    }
}

/// The questions as form fields, filled from `filled` (form fields: what was typed, or
/// the household's stored answers as the form would send them).
fn question_fields(
    questions: &[SurveyQuestion],
    filled: &[(String, String)],
) -> Vec<QuestionField> {
    questions
        .iter()
        .map(|q| {
            let name = field_name(q);
            let values: Vec<&str> = filled
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            let chosen = |index: usize| values.iter().any(|v| v.trim() == index.to_string());
            QuestionField {
                target: target_of(q),
                prompt: q.prompt.clone(),
                required: q.required,
                input: match q.kind {
                    QuestionKind::SingleChoice => "radio",
                    QuestionKind::MultipleChoice => "checkbox",
                    QuestionKind::Number => "number",
                    QuestionKind::ShortText => "text",
                },
                options: q
                    .options
                    .0
                    .iter()
                    .enumerate()
                    .map(|(index, label)| OptionField {
                        checked: chosen(index),
                        index,
                        label: label.clone(),
                    })
                    .collect(),
                value: match q.kind {
                    QuestionKind::Number | QuestionKind::ShortText => {
                        values.first().map(|v| v.to_string()).unwrap_or_default()
                    }
                    _ => String::new(),
                },
                name,
            }
        })
        .collect()
}

/// The household's stored answers as the form's fields.
fn stored_fields(
    questions: &[SurveyQuestion],
    mine: Option<&AnswersResponse>,
) -> Vec<(String, String)> {
    let Some(mine) = mine else {
        return Vec::new();
    };
    questions
        .iter()
        .filter_map(|q| Some((q, mine.answers.iter().find(|a| a.question_id == q.id)?)))
        .flat_map(|(q, a)| {
            let values: Vec<String> = a
                .choices
                .clone()
                .unwrap_or_default()
                .into_iter()
                .chain(a.choice)
                .chain(a.number)
                .map(|n| n.to_string())
                .chain(a.text.clone())
                .collect();
            values.into_iter().map(move |v| (field_name(q), v))
        })
        .collect()
}

/// A refused answer beside the question the use case names (`answers.<question id>`).
fn survey_errors(page: &Page, questions: &[SurveyQuestion], error: &FieldError) -> FieldErrors {
    let question = questions
        .iter()
        .find(|q| surveys::answer_field(&q.id) == error.field)
        .or(questions.first());
    match question {
        Some(q) => {
            let mut errors = FieldErrors::default();
            errors.add(
                &target_of(q),
                &q.prompt,
                problem_text(page, &q.prompt, error),
            );
            errors
        }
        None => FieldErrors::default(),
    }
}

/// What the survey form shows: the stored answers, or a refused answer as it was typed.
enum Survey {
    Stored {
        answered: bool,
    },
    Refused {
        typed: Vec<(String, String)>,
        error: FieldError,
    },
}

#[derive(Deserialize)]
struct ShowQuery {
    answered: Option<String>,
}

/// Records the read; `false` when the member is not among the post's readers (a manager
/// looking at it from outside its audience), who then gets no forms.
async fn record_read(services: &Services, caller: &MemberId, id: PostId) -> Result<bool, ApiError> {
    match receipts::record(services, caller, id, Receipt::Read).await {
        Ok(()) => Ok(true),
        Err(ApiError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn render(
    page: &Page,
    services: &Services,
    caller: &MemberId,
    id: PostId,
    survey: Survey,
) -> Result<HttpResponse, ApiError> {
    let view: PostView = posts::get(services, caller, id.clone()).await?;
    let reader = record_read(services, caller, id.clone()).await?;
    let files: Vec<Attachment> = attachments::list(services, caller, id.clone()).await?;
    let (detail, post) = (&view.detail, &view.detail.post);
    let questions = &detail.questions;
    let asked = reader && !questions.is_empty();
    let state = survey_state(page, services, caller, &view, asked, survey).await;
    let (filled, errors, answered) = state;
    let response = page.render_with(
        errors.status(),
        &CircularPage {
            page,
            id: id.to_string(),
            title: post.title.clone(),
            body_lines: post.body.split('\n').map(str::to_string).collect(),
            author: detail.author_name.clone(),
            from_key: from_key(post.tier),
            date: post.published_at.map(local_date).unwrap_or_default(),
            urgent: post.priority == Priority::Urgent,
            reader,
            requires_confirmation: post.requires_confirmation,
            confirmed: view.confirmed,
            attachments: attachment_links(&id, files),
            questions: question_fields(questions, &filled),
            answers_open: surveys::answers_open(post, now()),
            answered,
            errors,
            event: detail.event.as_ref().map(|e| event_facts(page, e)),
            unsent: matches!(post.status, PostStatus::Draft | PostStatus::Scheduled),
        },
    )?;
    Ok(keep_offline(response))
}

/// The survey form's values, mistakes and whether it was just answered.
async fn survey_state(
    page: &Page,
    services: &Services,
    caller: &MemberId,
    view: &PostView,
    asked: bool,
    survey: Survey,
) -> (Vec<(String, String)>, FieldErrors, bool) {
    let questions = &view.detail.questions;
    match survey {
        Survey::Stored { answered } => {
            let mine = my_answers(services, caller, &view.detail.post.id, asked).await;
            let stored = stored_fields(questions, mine.as_ref());
            (stored, FieldErrors::default(), answered)
        }
        Survey::Refused { typed, error } => (typed, survey_errors(page, questions, &error), false),
    }
}

/// The household's answers, when the member is asked the survey.
async fn my_answers(
    services: &Services,
    caller: &MemberId,
    id: &PostId,
    asked: bool,
) -> Option<AnswersResponse> {
    if !asked {
        return None;
    }
    surveys::mine(services, caller, id.clone()).await.ok()
}

/// Who sent the circular, as the text key of its tier.
fn from_key(tier: Tier) -> &'static str {
    match tier {
        Tier::City => "post.from_city",
        Tier::District => "post.from_district",
        Tier::Association => "post.from_association",
    }
}

/// Attachments download through the page route, under the same rules as the API.
fn attachment_links(id: &PostId, files: Vec<Attachment>) -> Vec<AttachmentLink> {
    files
        .into_iter()
        .map(|a| AttachmentLink {
            href: format!("/posts/{id}/attachments/{}", a.id),
            file_name: a.file_name,
        })
        .collect()
}

async fn show(
    member: PageMember,
    page: Page,
    path: web::Path<PostId>,
    query: web::Query<ShowQuery>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let survey = Survey::Stored {
        answered: query.answered.is_some(),
    };
    render(&page, &services, caller, path.into_inner(), survey).await
}

#[derive(Deserialize)]
struct NoFields {}

async fn confirm(
    _form: CsrfForm<NoFields>,
    member: PageMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let caller = &member.0.principal.member_id;
    receipts::record(&services, caller, id.clone(), Receipt::Confirm).await?;
    Ok(redirect(&format!("/posts/{id}"), Vec::new()))
}

/// The form's fields as answers: a field per question, several for checkboxes; empty
/// fields are left unanswered. A value that cannot be read (a number that is none) is
/// refused as its question's.
fn answers_from(
    questions: &[SurveyQuestion],
    fields: &[(String, String)],
) -> Result<Vec<AnswerItem>, FieldError> {
    let mut items = Vec::new();
    for q in questions {
        let name = field_name(q);
        let values: Vec<&str> = fields
            .iter()
            .filter(|(n, v)| *n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect();
        if values.is_empty() {
            continue;
        }
        let mut item = AnswerItem {
            question_id: q.id.clone(),
            choice: None,
            choices: None,
            number: None,
            text: None,
        };
        let unreadable = |_| {
            let field = surveys::answer_field(&q.id);
            FieldError::new(field, Problem::Invalid, "not a number")
        };
        match q.kind {
            QuestionKind::SingleChoice => {
                item.choice = Some(values[0].parse().map_err(unreadable)?)
            }
            QuestionKind::MultipleChoice => {
                item.choices = Some(
                    values
                        .iter()
                        .map(|v| v.parse().map_err(unreadable))
                        .collect::<Result<_, _>>()?,
                )
            }
            QuestionKind::Number => item.number = Some(values[0].parse().map_err(unreadable)?),
            QuestionKind::ShortText => item.text = Some(values[0].to_string()),
        }
        items.push(item);
    }
    Ok(items)
}

async fn answer(
    form: CsrfForm<Vec<(String, String)>>,
    page: Page,
    member: PageMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let caller = &member.0.principal.member_id;
    let view = posts::get(&services, caller, id.clone()).await?;
    let submitted = match answers_from(&view.detail.questions, &form.0) {
        Ok(items) => surveys::submit(&services, caller, id.clone(), items).await,
        Err(e) => Err(e.into()),
    };
    let error = match submitted {
        Ok(_) => {
            return Ok(redirect(
                &format!("/posts/{id}?answered=1#survey"),
                Vec::new(),
            ));
        }
        Err(ApiError::Field(_, error)) => *error,
        Err(e) => return Err(e),
    };
    let survey = Survey::Refused {
        typed: form.0,
        error,
    };
    render(&page, &services, caller, id, survey).await
}

async fn download(
    _req: HttpRequest,
    member: PageMember,
    path: web::Path<(PostId, AttachmentId)>,
    services: web::Data<Services>,
    store: web::Data<AttachmentStore>,
) -> Result<HttpResponse, ApiError> {
    let (id, attachment_id) = path.into_inner();
    let caller = &member.0.principal.member_id;
    let attachment = attachments::find(&services, caller, id, attachment_id).await?;
    crate::routes::attachments::file_response(&store, attachment).await
}
