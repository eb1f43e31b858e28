//! `/officer/posts/new`: an officer, chair or 班長 writes a circular (title, body, audience,
//! confirmation, priority, an optional one-question survey, an optional attachment) and
//! sends it (`回覧を送る`) through the same actions as `POST /api/v1/posts` and its
//! attachments. A refused file is found before anything is stored.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::attachments::{self, Upload};
use crate::actions::posts::{self, AudienceChoice, NewPost};
use crate::attachments::{AttachmentStore, AttachmentType, clean_file_name};
use crate::configuration::PostSettings;
use crate::domain::draft::{PostDraft, QuestionDraft};
use crate::domain::{MemberId, PostId, Priority, QuestionKind, Scope};
use crate::error::ApiError;
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;
use crate::web::upload::{Attached, CsrfMultipart};

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
    /// Why the chosen file was refused.
    file_error: Option<String>,
    /// The largest file accepted, as people read it (`10 MB`).
    max_size: String,
}

/// What went wrong with a sent form, to draw it again.
enum Problem {
    None,
    Form,
    File(StatusCode, String),
}

/// A size in bytes as people read it: `10 MB`, `2 KB`.
pub fn human_size(bytes: usize) -> String {
    const MB: usize = 1024 * 1024;
    if bytes >= MB {
        format!("{} MB", bytes / MB)
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// The form's value for an audience: `association`, `han:<id>`, `district` or `city`.
pub fn value_of(choice: &AudienceChoice) -> String {
    match (&choice.scope, choice.hans.first()) {
        (Scope::Association(_), Some(han)) => format!("han:{han}"),
        (Scope::Association(_), None) => "association".into(),
        (Scope::District(_), _) => "district".into(),
        (Scope::City, _) => "city".into(),
    }
}

/// The audiences as a `<select>`'s options, `selected` chosen.
pub fn audience_options(
    page: &Page,
    choices: &[AudienceChoice],
    selected: &str,
) -> Vec<AudienceOption> {
    choices
        .iter()
        .map(|choice| {
            let value = value_of(choice);
            AudienceOption {
                selected: value == selected,
                label: label_of(page, choice),
                value,
            }
        })
        .collect()
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
    settings: &PostSettings,
    form: ComposeForm,
    problem: Problem,
) -> Result<HttpResponse, ApiError> {
    let choices = posts::audiences(services, &member.0.principal.member_id).await?;
    if choices.is_empty() {
        return Err(ApiError::Forbidden);
    }
    let audiences = audience_options(page, &choices, &form.audience);
    let (status, error, file_error) = match problem {
        Problem::None => (StatusCode::OK, false, None),
        Problem::Form => (StatusCode::UNPROCESSABLE_ENTITY, true, None),
        Problem::File(status, message) => (status, false, Some(message)),
    };
    let max_size = human_size(settings.attachment_max_bytes);
    let template = ComposePage {
        page,
        audiences,
        form,
        error,
        file_error,
        max_size,
    };
    page.render_with(status, &template)
}

#[derive(Deserialize)]
struct Preselect {
    /// An audience chosen for the writer (`district` from `/district`).
    audience: Option<String>,
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<Preselect>,
    services: web::Data<Services>,
    settings: web::Data<PostSettings>,
) -> Result<HttpResponse, ApiError> {
    let form = ComposeForm {
        audience: query.into_inner().audience.unwrap_or_default(),
        ..ComposeForm::default()
    };
    draw(&page, &services, &member, &settings, form, Problem::None).await
}

/// The chosen file as an upload the attachments action takes, or why it is refused; asked
/// before the circular is created, so a refused file changes nothing.
fn upload_of(
    page: &Page,
    settings: &PostSettings,
    file: Attached,
) -> Result<Option<Upload>, Problem> {
    let refused = || {
        let message = page.t("attach.refused").to_string();
        Problem::File(StatusCode::UNPROCESSABLE_ENTITY, message)
    };
    let part = match file {
        Attached::Nothing => return Ok(None),
        Attached::TooLarge => {
            let size = human_size(settings.attachment_max_bytes);
            let message = page.tf("attach.too_large", "size", &size);
            return Err(Problem::File(StatusCode::PAYLOAD_TOO_LARGE, message));
        }
        Attached::File(part) => part,
    };
    let upload = Upload {
        file_name: clean_file_name(&part.file_name).map_err(|_| refused())?,
        declared: AttachmentType::from_content_type(&part.content_type).ok_or_else(refused)?,
        body: part.body,
    };
    attachments::check_content(&upload).map_err(|_| refused())?;
    Ok(Some(upload))
}

/// Sends the circular; with a file, as a draft published once the file is on it, so no
/// reader sees it without its attachment.
async fn create_with(
    services: &Services,
    store: &AttachmentStore,
    caller: &MemberId,
    mut input: NewPost,
    upload: Option<Upload>,
) -> Result<PostId, ApiError> {
    input.draft.draft = upload.is_some();
    let created = posts::create(services, caller, input).await?;
    let id = created.detail.post.id.clone();
    if let Some(upload) = upload {
        attachments::upload(services, store, caller, id.clone(), upload).await?;
        posts::publish(services, caller, id.clone()).await?;
    }
    Ok(id)
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
    sent: CsrfMultipart<ComposeForm>,
    member: PageMember,
    page: Page,
    services: web::Data<Services>,
    store: web::Data<AttachmentStore>,
    settings: web::Data<PostSettings>,
) -> Result<HttpResponse, ApiError> {
    let CsrfMultipart { form, file } = sent;
    let caller = &member.0.principal.member_id;
    let upload = match upload_of(&page, &settings, file) {
        Ok(upload) => upload,
        Err(problem) => return draw(&page, &services, &member, &settings, form, problem).await,
    };
    let choices = posts::audiences(&services, caller).await?;
    let sent = match new_post(&form, choices) {
        Some(input) => create_with(&services, &store, caller, input, upload).await,
        None => Err(ApiError::validation("choose an audience")),
    };
    match sent {
        Ok(id) => Ok(redirect(&format!("/posts/{id}"), Vec::new())),
        Err(ApiError::Validation(..)) => {
            draw(&page, &services, &member, &settings, form, Problem::Form).await
        }
        Err(e) => Err(e),
    }
}
