//! `/officer/posts/{id}/draft`: a draft or scheduled circular as its managers finish it —
//! attach a file (`添付する`), remove one (`外す`), and send it (`回覧を送る`) — through the same
//! actions as the API's attachments and `POST /api/v1/posts/{id}/publish`. Only its
//! managers see an unsent circular (others get the 404 page); a sent one opens as readers
//! see it.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::actions::posts::{self, PostView};
use crate::actions::{Services, attachments};
use crate::attachments::AttachmentStore;
use crate::configuration::PostSettings;
use crate::db::models::Attachment;
use crate::domain::{AttachmentId, MemberId, PostId, PostStatus};
use crate::error::ApiError;
use crate::web::CsrfForm;
use crate::web::page::{Page, redirect};
use crate::web::pages::calendar::{EventFacts, event_facts};
use crate::web::pages::compose::{draft_page, human_size, unsent_status, upload_of};
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
        .route("/officer/posts/{id}/draft/publish", web::post().to(publish));
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
}

impl DraftPage<'_> {
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

async fn draw(
    page: &Page,
    services: &Services,
    settings: &PostSettings,
    caller: &MemberId,
    id: PostId,
    file_error: Option<(StatusCode, String)>,
) -> Result<HttpResponse, ApiError> {
    let view = posts::get(services, caller, id.clone()).await?;
    if !matches!(
        view.detail.post.status,
        PostStatus::Draft | PostStatus::Scheduled
    ) {
        return Ok(redirect(&format!("/posts/{id}"), Vec::new()));
    }
    let files = attachments::list(services, caller, id).await?;
    let status = file_error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    let template = DraftPage {
        page,
        view: &view,
        files,
        file_error: file_error.map(|(_, message)| message),
        max_size: human_size(settings.attachment_max_bytes),
    };
    page.render_with(status, &template)
}

async fn show(
    member: PageMember,
    page: Page,
    path: web::Path<PostId>,
    services: web::Data<Services>,
    settings: web::Data<PostSettings>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    draw(&page, &services, &settings, caller, path.into_inner(), None).await
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
            return draw(&page, &services, &settings, caller, id, Some(refused)).await;
        }
        Err(refused) => return draw(&page, &services, &settings, caller, id, Some(refused)).await,
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
