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
use crate::error::ApiError;
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
    #[serde(flatten)]
    event: EventFields,
    /// Which button sent the form: `draft` keeps it as a draft.
    save: Option<String>,
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
    error: bool,
    /// Why the chosen file was refused.
    file_error: Option<String>,
    /// The largest file accepted, as people read it (`10 MB`).
    max_size: String,
    /// Why the event was refused, and beside which field.
    event_error: Option<(EventField, &'static str)>,
    /// No audience offered was chosen.
    audience_error: bool,
    /// Drafts and scheduled circulars the writer may finish.
    unsent: Vec<Post>,
}

impl ComposePage<'_> {
    fn unsent_href(&self, post: &Post) -> String {
        draft_page(&post.id)
    }

    fn unsent_status(&self, post: &Post) -> String {
        unsent_status(self.page, post)
    }

    /// The event mistake's text when it belongs beside `field`.
    fn event_error_at(&self, field: &str) -> Option<&'static str> {
        let (at, text) = self.event_error?;
        let name = match at {
            EventField::StartDate => "start_date",
            EventField::StartTime => "start_time",
            EventField::End => "end",
            EventField::Place => "place",
        };
        (name == field).then_some(text)
    }
}

/// What went wrong with a sent form, to draw it again.
enum Problem {
    None,
    Form,
    /// None of the audiences offered was chosen.
    Audience,
    File(StatusCode, String),
    Event(EventMistake),
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
    let audiences = audience_options(page, &choices, &form.audience);
    let unsent = posts::unsent(services, &member.0.principal.member_id).await?;
    let (mut status, mut error, mut file_error, mut event_error) =
        (StatusCode::UNPROCESSABLE_ENTITY, false, None, None);
    let audience_error = matches!(problem, Problem::Audience);
    match problem {
        Problem::None => status = StatusCode::OK,
        Problem::Form => error = true,
        Problem::Audience => {}
        Problem::File(code, message) => (status, file_error) = (code, Some(message)),
        Problem::Event(m) => event_error = Some((m.field, page.t(m.key))),
    }
    let max_size = human_size(settings.attachment_max_bytes);
    let template = ComposePage {
        page,
        audiences,
        form,
        error,
        file_error,
        max_size,
        event_error,
        audience_error,
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
    let form = ComposeForm {
        audience: query.into_inner().audience.unwrap_or_default(),
        ..ComposeForm::default()
    };
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

/// The post the form describes, to the audience it names among those offered.
fn new_post(
    form: &ComposeForm,
    event: Option<EventDraft>,
    choices: Vec<AudienceChoice>,
) -> Option<NewPost> {
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
    let CsrfMultipart { form, file } = sent;
    let caller = &member.0.principal.member_id;
    let checked = form.event.read().map_err(Problem::Event);
    let (upload, event) = match checked.and_then(|event| {
        let upload = upload_of(&page, &settings, file).map_err(|(c, m)| Problem::File(c, m))?;
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
        Err(ApiError::Validation(..)) => {
            draw(&page, &services, &member, &settings, form, Problem::Form).await
        }
        Err(e) => Err(e),
    }
}
