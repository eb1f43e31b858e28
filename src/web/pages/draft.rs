//! `/officer/posts/{id}/draft`: a draft or scheduled circular as its managers finish it —
//! change its audience, title, text, confirmation and importance (`変更を保存`), attach a file
//! (`添付する`), remove one (`外す`), and send it (`回覧を送る`) — through the same actions as
//! `PATCH /api/v1/posts/{id}`, the API's attachments and `POST /api/v1/posts/{id}/publish`. Only its
//! managers see an unsent circular (others get the 404 page); a sent one opens as readers
//! see it.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::posts::{self, AudienceChoice, PostView};
use crate::actions::{Services, attachments};
use crate::attachments::AttachmentStore;
use crate::configuration::PostSettings;
use crate::db::models::Attachment;
use crate::db::queries::posts::PostEdit;
use crate::domain::draft;
use crate::domain::{AttachmentId, MemberId, PostId, PostStatus, Priority, QuestionKind, Scope};
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::form_errors::FieldErrors;
use crate::web::page::{Page, redirect};
use crate::web::pages::calendar::{EventFacts, event_facts};
use crate::web::pages::compose::{
    AudienceOption, PostFields, audience_options, draft_page, event_error, field_error, form_field,
    human_size, survey_of, unsent_status, upload_of, value_of,
};
use crate::web::pages::event_form::EventFields;
use crate::web::session::PageMember;
use crate::web::upload::CsrfMultipart;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/officer/posts/{id}/draft", web::get().to(show))
        .route(
            "/officer/posts/{id}/draft/attachments",
            web::post().to(attach),
        )
        .route(
            "/officer/posts/{id}/draft/attachments/{attachment}/remove",
            web::post().to(remove),
        )
        .route("/officer/posts/{id}/draft/publish", web::post().to(publish))
        .route("/officer/posts/{id}/draft/edit", web::post().to(edit));
}

/// The edit form: the compose page's fields, its 行事 and its one-question survey.
#[derive(Default, Deserialize)]
struct DraftForm {
    #[serde(flatten)]
    post: PostFields,
    #[serde(default)]
    question: String,
    #[serde(default)]
    options: String,
    #[serde(flatten)]
    event: EventFields,
}

/// The survey fits the page's one question with one answer among options (or there is
/// none); any other survey (possible over the API) is left as it is.
fn survey_editable(view: &PostView) -> bool {
    match view.detail.questions.as_slice() {
        [] => true,
        [q] => q.kind == QuestionKind::SingleChoice,
        _ => false,
    }
}

/// The draft's form as the post stands.
fn form_of(view: &PostView) -> DraftForm {
    let (question, options) = match (survey_editable(view), view.detail.questions.first()) {
        (true, Some(q)) => (q.prompt.clone(), q.options.0.join("\n")),
        _ => (String::new(), String::new()),
    };
    DraftForm {
        post: fields_of(view),
        question,
        options,
        event: view
            .detail
            .event
            .as_ref()
            .map(EventFields::of)
            .unwrap_or_default(),
    }
}

/// The draft's fields as the post stands.
fn fields_of(view: &PostView) -> PostFields {
    let post = &view.detail.post;
    let hans = &view.detail.hans;
    // Several 班 (possible over the API) are not one option of the list: choose again.
    let audience = Scope::parse(post.tier, post.scope_id.clone())
        .ok()
        .filter(|_| hans.len() <= 1)
        .map(|scope| {
            let hans = hans.clone();
            value_of(&AudienceChoice {
                scope,
                hans,
                name: None,
            })
        })
        .unwrap_or_default();
    PostFields {
        title: post.title.clone(),
        body: post.body.clone(),
        audience,
        requires_confirmation: post.requires_confirmation.then(|| "on".into()),
        urgent: (post.priority == Priority::Urgent).then(|| "on".into()),
    }
}

/// The edit form drawn again: what was typed and what is wrong with it.
struct Redraw {
    form: DraftForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "officer/draft.html")]
struct DraftPage<'a> {
    page: &'a Page,
    view: &'a PostView,
    files: Vec<Attachment>,
    /// Why the chosen file was refused.
    file_error: Option<String>,
    max_size: String,
    audiences: Vec<AudienceOption>,
    form: DraftForm,
    /// The edit form's mistakes.
    errors: FieldErrors,
    saved: bool,
    /// Its survey can be changed here (see `survey_editable`).
    survey_editable: bool,
}

impl DraftPage<'_> {
    fn fields(&self) -> &PostFields {
        &self.form.post
    }

    fn id(&self) -> &PostId {
        &self.view.detail.post.id
    }

    fn status(&self) -> String {
        unsent_status(self.page, &self.view.detail.post)
    }

    fn body_lines(&self) -> std::str::Split<'_, char> {
        self.view.detail.post.body.split('\n')
    }

    fn event(&self) -> Option<EventFacts> {
        let event = self.view.detail.event.as_ref()?;
        Some(event_facts(self.page, event))
    }

    fn remove_label(&self, file: &Attachment) -> String {
        self.page.tf("post_edit.remove", "name", &file.file_name)
    }
}

/// What the page shows besides the draft: a refused file, an edit form with mistakes, or
/// that the changes were saved.
#[derive(Default)]
struct Shown {
    file_error: Option<(StatusCode, String)>,
    redraw: Option<Redraw>,
    saved: bool,
}

impl Shown {
    /// 422 for a form drawn again, the refused file's status, else 200.
    fn status(&self) -> StatusCode {
        match (&self.redraw, &self.file_error) {
            (Some(_), _) => StatusCode::UNPROCESSABLE_ENTITY,
            (None, Some((status, _))) => *status,
            (None, None) => StatusCode::OK,
        }
    }
}

async fn draw(
    page: &Page,
    services: &Services,
    settings: &PostSettings,
    caller: &MemberId,
    id: PostId,
    shown: Shown,
) -> Result<HttpResponse, ApiError> {
    let view = posts::get(services, caller, id.clone()).await?;
    if !matches!(
        view.detail.post.status,
        PostStatus::Draft | PostStatus::Scheduled
    ) {
        return Ok(redirect(&format!("/posts/{id}"), Vec::new()));
    }
    let files = attachments::list(services, caller, id).await?;
    let choices = posts::audiences(services, caller).await?;
    let status = shown.status();
    let Redraw { form, errors } = shown.redraw.unwrap_or_else(|| Redraw {
        form: form_of(&view),
        errors: FieldErrors::default(),
    });
    let survey_editable = survey_editable(&view);
    let template = DraftPage {
        page,
        view: &view,
        files,
        file_error: shown.file_error.map(|(_, message)| message),
        max_size: human_size(settings.attachment_max_bytes),
        audiences: audience_options(page, &choices, &form.post.audience),
        form,
        errors,
        saved: shown.saved,
        survey_editable,
    };
    page.render_with(status, &template)
}

#[derive(Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn show(
    member: PageMember,
    page: Page,
    path: web::Path<PostId>,
    query: web::Query<Saved>,
    services: web::Data<Services>,
    settings: web::Data<PostSettings>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let shown = Shown {
        saved: query.saved.is_some(),
        ..Shown::default()
    };
    draw(
        &page,
        &services,
        &settings,
        caller,
        path.into_inner(),
        shown,
    )
    .await
}

/// The changes the form asks for, or its mistakes: each text by the draft's own rule
/// (every mistake at once), the audience among those offered, the 行事 by the event's rule
/// and the survey by the survey's (only when the page can show it: `survey`).
fn edit_of(
    page: &Page,
    form: &DraftForm,
    choices: Vec<AudienceChoice>,
    survey: bool,
) -> Result<PostEdit, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut refused = |e: crate::error::FieldError| errors.refused(page, form_field(&e.field), &e);
    let title = draft::title(&form.post.title).map_err(&mut refused).ok();
    let body = draft::body(&form.post.body).map_err(&mut refused).ok();
    let questions = match survey {
        true => draft::questions(survey_of(&form.question, &form.options))
            .map(Some)
            .map_err(&mut refused)
            .ok(),
        false => Some(None),
    };
    let event = match form.event.read_checked() {
        Ok(event) => Some(event),
        Err(mistake) => {
            errors.items.extend(event_error(page, mistake).items);
            None
        }
    };
    let choice = choices
        .into_iter()
        .find(|c| value_of(c) == form.post.audience);
    if choice.is_none() {
        let label = page.t("compose.audience");
        errors.add(
            "compose-audience",
            label,
            page.t("post_edit.choose_audience"),
        );
    }
    match (title, body, choice, questions, event) {
        (Some(title), Some(body), Some(choice), Some(questions), Some(event))
            if errors.is_empty() =>
        {
            Ok(PostEdit {
                title: Some(title),
                body: Some(body),
                requires_confirmation: Some(form.post.requires_confirmation.is_some()),
                priority: Some(form.post.priority()),
                audience: Some((choice.scope, choice.hans)),
                questions,
                event: Some(event),
                ..PostEdit::default()
            })
        }
        _ => Err(errors),
    }
}

async fn edit(
    form: CsrfForm<DraftForm>,
    member: PageMember,
    page: Page,
    path: web::Path<PostId>,
    services: web::Data<Services>,
    settings: web::Data<PostSettings>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller, form) = (path.into_inner(), &member.0.principal.member_id, form.0);
    let choices = posts::audiences(&services, caller).await?;
    let survey = survey_editable(&posts::get(&services, caller, id.clone()).await?);
    let errors = match edit_of(&page, &form, choices, survey) {
        Ok(changes) => match posts::edit(&services, caller, id.clone(), changes).await {
            Ok(_) => {
                return Ok(redirect(
                    &format!("{}?saved=1", draft_page(&id)),
                    Vec::new(),
                ));
            }
            Err(ApiError::Field(_, e)) => field_error(&page, &e),
            Err(e) => return Err(e),
        },
        Err(errors) => errors,
    };
    let shown = Shown {
        redraw: Some(Redraw { form, errors }),
        ..Shown::default()
    };
    draw(&page, &services, &settings, caller, id, shown).await
}

#[derive(Deserialize)]
struct NoFields {}

async fn attach(
    sent: CsrfMultipart<NoFields>,
    member: PageMember,
    page: Page,
    path: web::Path<PostId>,
    services: web::Data<Services>,
    store: web::Data<AttachmentStore>,
    settings: web::Data<PostSettings>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (path.into_inner(), &member.0.principal.member_id);
    let upload = match upload_of(&page, &settings, sent.file) {
        Ok(Some(upload)) => upload,
        Ok(None) => {
            let refused = (
                StatusCode::UNPROCESSABLE_ENTITY,
                page.t("post_edit.no_file").into(),
            );
            let shown = Shown {
                file_error: Some(refused),
                ..Shown::default()
            };
            return draw(&page, &services, &settings, caller, id, shown).await;
        }
        Err(refused) => {
            let shown = Shown {
                file_error: Some(refused),
                ..Shown::default()
            };
            return draw(&page, &services, &settings, caller, id, shown).await;
        }
    };
    attachments::upload(&services, &store, caller, id.clone(), upload).await?;
    Ok(redirect(&draft_page(&id), Vec::new()))
}

async fn remove(
    _form: CsrfForm<NoFields>,
    member: PageMember,
    path: web::Path<(PostId, AttachmentId)>,
    services: web::Data<Services>,
    store: web::Data<AttachmentStore>,
) -> Result<HttpResponse, ApiError> {
    let (id, attachment) = path.into_inner();
    let caller = &member.0.principal.member_id;
    attachments::delete(&services, &store, caller, id.clone(), attachment).await?;
    Ok(redirect(&draft_page(&id), Vec::new()))
}

async fn publish(
    _form: CsrfForm<NoFields>,
    member: PageMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    posts::publish(&services, &member.0.principal.member_id, id.clone()).await?;
    Ok(redirect(&format!("/posts/{id}"), Vec::new()))
}
