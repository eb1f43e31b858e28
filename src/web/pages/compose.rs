//! `/officer/posts/new`: an officer, chair or 班長 writes a circular (title, body, audience,
//! confirmation, priority, an optional one-question survey, an optional 行事, an optional
//! attachment) and sends it (`回覧を送る`) or keeps it as a draft (`下書きに保存`) through the
//! same actions as `POST /api/v1/posts` and its attachments. A refused file or event is
//! found before anything is stored.

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
use crate::db::models::Post;
use crate::domain::draft::{PostDraft, QuestionDraft};
use crate::domain::event::EventDraft;
use crate::domain::{MemberId, PostId, PostStatus, Priority, QuestionKind, Scope};
use crate::error::{ApiError, FieldError};
use crate::web::form_errors::FieldErrors;
use crate::web::page::{Page, redirect};
use crate::web::pages::event_form::{EventField, EventFields, EventMistake};
use crate::web::pages::safety::jst;
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

/// The fields the compose page and a draft's page share (`post_fields.html`): audience,
/// title, body, confirmation and importance.
#[derive(Default, Deserialize)]
pub struct PostFields {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub audience: String,
    pub requires_confirmation: Option<String>,
    pub urgent: Option<String>,
}

impl PostFields {
    pub fn priority(&self) -> Priority {
        if self.urgent.is_some() {
            Priority::Urgent
        } else {
            Priority::Normal
        }
    }
}

#[derive(Default, Deserialize)]
struct ComposeForm {
    #[serde(flatten)]
    post: PostFields,
    #[serde(default)]
    question: String,
    #[serde(default)]
    options: String,
    #[serde(flatten)]
    event: EventFields,
    /// Which button sent the form: `draft` keeps it as a draft.
    save: Option<String>,
    /// The name of a file that was chosen when the form is drawn again: a browser cannot
    /// keep it, so the page asks for it again.
    #[serde(skip)]
    chosen_file: Option<String>,
}

impl ComposeForm {
    fn keep_as_draft(&self) -> bool {
        self.save.as_deref() == Some("draft")
    }
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage<'a> {
    page: &'a Page,
    audiences: Vec<AudienceOption>,
    form: ComposeForm,
    /// The form's mistakes, each beside its field and in the summary.
    errors: FieldErrors,
    /// The largest file accepted, as people read it (`10 MB`).
    max_size: String,
    /// Drafts and scheduled circulars the writer may finish.
    unsent: Vec<Post>,
}

impl ComposePage<'_> {
    fn fields(&self) -> &PostFields {
        &self.form.post
    }

    fn unsent_href(&self, post: &Post) -> String {
        draft_page(&post.id)
    }

    fn unsent_status(&self, post: &Post) -> String {
        unsent_status(self.page, post)
    }

    fn again_text(&self, name: &str) -> String {
        self.page.tf("field.file_again", "name", name)
    }
}

/// What went wrong with a sent form, to draw it again.
enum Problem {
    None,
    /// Refused by the use case, not about one field of the form.
    Form,
    /// None of the audiences offered was chosen.
    Audience,
    File(StatusCode, String),
    Event(EventMistake),
    /// The use case refused one field.
    Field(Box<FieldError>),
}

/// The element id and label key of the form field a use case's field name is drawn in
/// (the compose page and the draft page share them).
pub fn form_field(field: &str) -> (&'static str, &'static str) {
    match field {
        "body" => ("compose-body", "compose.body_label"),
        "questions" | "questions.prompt" => ("compose-question", "compose.question_label"),
        "questions.options" => ("compose-options", "compose.options_label"),
        "event" => ("event-start-date", "event.start_date"),
        "han_ids" | "scope" => ("compose-audience", "compose.audience"),
        _ => ("compose-title", "compose.title_label"),
    }
}

/// A use case's refusal of a field, beside the field it was typed in.
pub fn field_error(page: &Page, error: &FieldError) -> FieldErrors {
    FieldErrors::one_refused(page, form_field(&error.field), error)
}

/// An event mistake beside its field.
pub fn event_error(page: &Page, mistake: EventMistake) -> FieldErrors {
    let (id, label_key) = match mistake.field {
        EventField::StartDate => ("event-start-date", "event.start_date"),
        EventField::StartTime => ("event-start-time", "event.start_time"),
        EventField::End => ("event-end-date", "event.end_date"),
        EventField::Place => ("event-place", "event.place"),
    };
    FieldErrors::one(id, page.t(label_key), page.t(mistake.key))
}

/// The mistakes to show and the status to answer with.
fn errors_of(page: &Page, problem: Problem) -> (StatusCode, FieldErrors) {
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let audience = || page.t("compose.audience");
    match problem {
        Problem::None => (StatusCode::OK, FieldErrors::default()),
        Problem::Form => {
            let (id, label) = ("compose-title", page.t("compose.title_label"));
            (
                invalid,
                FieldErrors::one(id, label, page.t("compose.error")),
            )
        }
        Problem::Audience => {
            let message = page.t("post_edit.choose_audience");
            (
                invalid,
                FieldErrors::one("compose-audience", audience(), message),
            )
        }
        Problem::File(status, message) => {
            let label = page.t("attach.hint");
            (
                status,
                FieldErrors::one("compose-attachment", label, message),
            )
        }
        Problem::Event(mistake) => (invalid, event_error(page, mistake)),
        Problem::Field(error) => (invalid, field_error(page, &error)),
    }
}

/// A draft's or scheduled circular's state, as its lists and page say it.
pub fn unsent_status(page: &Page, post: &Post) -> String {
    match post.published_at {
        Some(at) if post.status == PostStatus::Scheduled => {
            page.tf("post_edit.status_scheduled", "time", &jst(at))
        }
        _ => page.t("post_edit.status_draft").into(),
    }
}

/// Where a draft is finished.
pub fn draft_page(id: &PostId) -> String {
    format!("/officer/posts/{id}/draft")
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

/// The form's value for an audience: `association`, `han:<id>`, `district:<id>` or `city`.
pub fn value_of(choice: &AudienceChoice) -> String {
    match (&choice.scope, choice.hans.first()) {
        (Scope::Association(_), Some(han)) => format!("han:{han}"),
        (Scope::Association(_), None) => "association".into(),
        (Scope::District(district), _) => format!("district:{district}"),
        (Scope::City, _) => "city".into(),
    }
}

/// Whether the writer must choose the audience themselves: nothing was chosen and the first
/// offered is wider than their association, where a default could send to many by mistake.
fn must_choose(choices: &[AudienceChoice], selected: &str) -> bool {
    !choices.iter().any(|c| value_of(c) == selected)
        && choices
            .first()
            .is_some_and(|c| !matches!(c.scope, Scope::Association(_)))
}

/// The audiences as a `<select>`'s options, `selected` chosen; led by an empty "choose"
/// option when the writer must choose themselves.
pub fn audience_options(
    page: &Page,
    choices: &[AudienceChoice],
    selected: &str,
) -> Vec<AudienceOption> {
    let choose = must_choose(choices, selected).then(|| AudienceOption {
        value: String::new(),
        label: page.t("post_edit.choose_audience").into(),
        selected: true,
    });
    choose
        .into_iter()
        .chain(choices.iter().map(|choice| {
            let value = value_of(choice);
            AudienceOption {
                selected: value == selected,
                label: label_of(page, choice),
                value,
            }
        }))
        .collect()
}

fn label_of(page: &Page, choice: &AudienceChoice) -> String {
    let name = choice.name.as_deref().unwrap_or_default();
    match (&choice.scope, choice.hans.is_empty()) {
        (Scope::Association(_), true) => page.tf("compose.to_association", "name", name),
        (Scope::Association(_), false) => page.tf("compose.to_han", "name", name),
        (Scope::District(_), _) => page.tf("post_edit.to_district", "name", name),
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
    let audiences = audience_options(page, &choices, &form.post.audience);
    let unsent = posts::unsent(services, &member.0.principal.member_id).await?;
    let (status, errors) = errors_of(page, problem);
    let max_size = human_size(settings.attachment_max_bytes);
    let template = ComposePage {
        page,
        audiences,
        form,
        errors,
        max_size,
        unsent,
    };
    page.render_with(status, &template)
}

#[derive(Deserialize)]
struct Preselect {
    /// An audience chosen for the writer (`district:<id>` from `/district`, `city` from
    /// `/city`).
    audience: Option<String>,
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<Preselect>,
    services: web::Data<Services>,
    settings: web::Data<PostSettings>,
) -> Result<HttpResponse, ApiError> {
    let mut form = ComposeForm::default();
    form.post.audience = query.into_inner().audience.unwrap_or_default();
    draw(&page, &services, &member, &settings, form, Problem::None).await
}

/// The chosen file as an upload the attachments action takes, or the status and message
/// saying why it is refused; asked before anything is stored, so a refused file changes
/// nothing.
pub fn upload_of(
    page: &Page,
    settings: &PostSettings,
    file: Attached,
) -> Result<Option<Upload>, (StatusCode, String)> {
    let refused = || {
        let message = page.t("attach.refused").to_string();
        (StatusCode::UNPROCESSABLE_ENTITY, message)
    };
    let part = match file {
        Attached::Nothing => return Ok(None),
        Attached::TooLarge => {
            let size = human_size(settings.attachment_max_bytes);
            let message = page.tf("attach.too_large", "size", &size);
            return Err((StatusCode::PAYLOAD_TOO_LARGE, message));
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

/// Sends the circular or keeps it as a draft; with a file, it is created as a draft and
/// published once the file is on it, so no reader sees it without its attachment.
async fn create_with(
    services: &Services,
    store: &AttachmentStore,
    caller: &MemberId,
    mut input: NewPost,
    upload: Option<Upload>,
) -> Result<PostId, ApiError> {
    // A file rides on a draft that is published once the file is on it.
    let publish_after = upload.is_some() && !input.draft.draft;
    input.draft.draft |= upload.is_some();
    let created = posts::create(services, caller, input).await?;
    let id = created.detail.post.id.clone();
    if let Some(upload) = upload {
        attachments::upload(services, store, caller, id.clone(), upload).await?;
    }
    if publish_after {
        posts::publish(services, caller, id.clone()).await?;
    }
    Ok(id)
}

/// The form's one question (`出欠`: one answer among the options, one a line), or none when
/// no question is written (the compose page and the draft page share it).
pub fn survey_of(question: &str, options: &str) -> Vec<QuestionDraft> {
    let options: Vec<String> = options
        .lines()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    if question.trim().is_empty() {
        return Vec::new();
    }
    vec![QuestionDraft {
        kind: QuestionKind::SingleChoice,
        prompt: question.to_string(),
        options,
        required: true,
    }]
}

/// The post the form describes, to the audience it names among those offered.
fn new_post(
    form: &ComposeForm,
    event: Option<EventDraft>,
    choices: Vec<AudienceChoice>,
) -> Option<NewPost> {
    let choice = choices
        .into_iter()
        .find(|c| value_of(c) == form.post.audience)?;
    let questions = survey_of(&form.question, &form.options);
    Some(NewPost {
        scope: choice.scope,
        category: None,
        priority: Some(form.post.priority()),
        draft: PostDraft {
            han_ids: choice.hans.into_iter().map(|h| h.0).collect(),
            title: form.post.title.clone(),
            body: form.post.body.clone(),
            requires_confirmation: form.post.requires_confirmation.is_some(),
            publish_at: None,
            expires_at: None,
            draft: form.keep_as_draft(),
            questions,
            answers_until: None,
            event,
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
    let CsrfMultipart { mut form, file } = sent;
    let caller = &member.0.principal.member_id;
    let upload = upload_of(&page, &settings, file).map_err(|(c, m)| Problem::File(c, m));
    let chosen = upload.as_ref().ok().and_then(Option::as_ref);
    form.chosen_file = chosen.map(|u| u.file_name.clone());
    let (upload, event) = match upload.and_then(|upload| {
        let event = form.event.read().map_err(Problem::Event)?;
        Ok((upload, event))
    }) {
        Ok(read) => read,
        Err(problem) => return draw(&page, &services, &member, &settings, form, problem).await,
    };
    let choices = posts::audiences(&services, caller).await?;
    let Some(input) = new_post(&form, event, choices) else {
        let problem = Problem::Audience;
        return draw(&page, &services, &member, &settings, form, problem).await;
    };
    let sent = create_with(&services, &store, caller, input, upload).await;
    match sent {
        Ok(id) if form.keep_as_draft() => Ok(redirect(&draft_page(&id), Vec::new())),
        Ok(id) => Ok(redirect(&format!("/posts/{id}"), Vec::new())),
        Err(ApiError::Field(_, error)) => {
            let problem = Problem::Field(error);
            draw(&page, &services, &member, &settings, form, problem).await
        }
        Err(ApiError::Validation(..)) => {
            draw(&page, &services, &member, &settings, form, Problem::Form).await
        }
        Err(e) => Err(e),
    }
}
