//! Circulars (回覧) as their authors write them: post, edit, publish, withdraw, versions;
//! one circular by id; the categories. The inbox is in `inbox.rs`, reads, confirmations and
//! receipts in `receipts.rs`.

use std::sync::Arc;

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::posts::{self, NewPost, PostView};
use crate::auth::AuthMember;
use crate::db::models::{PostEvent, PostVersion, SurveyQuestion};
use crate::db::queries::posts::PostEdit;
use crate::domain::draft::{self, PostDraft, QuestionDraft};
use crate::domain::event::EventDraft;
use crate::domain::{
    Category, HanId, MemberId, PostId, PostStatus, Priority, QuestionId, QuestionKind, Tier,
};
use crate::error::{ApiError, FieldError, Problem};
use crate::routes::LongJson;
use crate::routes::ScopeRequest;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create_post)
        .service(get_post)
        .service(edit_post)
        .service(publish_post)
        .service(withdraw_post)
        .service(list_versions)
        .service(list_categories);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionRequest {
    pub kind: QuestionKind,
    pub prompt: String,
    /// The choices, for single_choice and multiple_choice.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub required: bool,
}

impl QuestionRequest {
    fn into_draft(self) -> QuestionDraft {
        QuestionDraft {
            kind: self.kind,
            prompt: self.prompt,
            options: self.options,
            required: self.required,
        }
    }
}

/// The event (行事) a circular announces; its attendance is asked with an 出欠 survey.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    pub starts_at: DateTime<Utc>,
    /// Not before `starts_at`; for an all-day event, its last day.
    pub ends_at: Option<DateTime<Utc>>,
    /// Whole days (in Japan time) rather than times.
    #[serde(default)]
    pub all_day: bool,
    #[schema(example = "〇〇公民館")]
    pub place: Option<String>,
}

impl EventRequest {
    fn into_draft(self) -> EventDraft {
        EventDraft {
            starts_at: self.starts_at.naive_utc(),
            ends_at: self.ends_at.map(|t| t.naive_utc()),
            all_day: self.all_day,
            place: self.place,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventResponse {
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub all_day: bool,
    pub place: Option<String>,
}

impl From<PostEvent> for EventResponse {
    fn from(e: PostEvent) -> Self {
        Self {
            starts_at: e.starts_at.and_utc(),
            ends_at: e.ends_at.map(|t| t.and_utc()),
            all_day: e.all_day,
            place: e.place,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostRequest {
    pub scope: ScopeRequest,
    /// Only these hans of the association.
    #[serde(default)]
    pub han_ids: Vec<String>,
    pub title: String,
    pub body: String,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    #[serde(default)]
    pub requires_confirmation: bool,
    /// Publish later (RFC 3339); now when absent.
    pub publish_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Keep as a draft.
    #[serde(default)]
    pub draft: bool,
    /// A survey or attendance form (アンケート, 出欠).
    #[serde(default)]
    pub questions: Vec<QuestionRequest>,
    /// Answers are taken until then; by default until the post expires.
    pub answers_until: Option<DateTime<Utc>>,
    /// The event it announces; it then appears on its audience's calendars.
    pub event: Option<EventRequest>,
}

impl CreatePostRequest {
    /// The scope is parsed at the edge; the rest is checked by the draft's own rules.
    fn into_new_post(self) -> Result<NewPost, ApiError> {
        let questions = self
            .questions
            .into_iter()
            .map(QuestionRequest::into_draft)
            .collect();
        Ok(NewPost {
            scope: self.scope.parse()?,
            category: self.category,
            priority: self.priority,
            draft: PostDraft {
                han_ids: self.han_ids,
                title: self.title,
                body: self.body,
                requires_confirmation: self.requires_confirmation,
                publish_at: self.publish_at.map(|t| t.naive_utc()),
                expires_at: self.expires_at.map(|t| t.naive_utc()),
                draft: self.draft,
                questions,
                answers_until: self.answers_until.map(|t| t.naive_utc()),
                event: self.event.map(EventRequest::into_draft),
            },
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct Author {
    pub id: MemberId,
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct QuestionResponse {
    pub id: QuestionId,
    pub kind: QuestionKind,
    pub prompt: String,
    pub options: Vec<String>,
    pub required: bool,
}

impl From<SurveyQuestion> for QuestionResponse {
    fn from(q: SurveyQuestion) -> Self {
        Self {
            options: q.options.0,
            id: q.id,
            kind: q.kind,
            prompt: q.prompt,
            required: q.required,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PostResponse {
    pub id: PostId,
    pub status: PostStatus,
    pub tier: Tier,
    pub scope_id: Option<String>,
    pub han_ids: Vec<HanId>,
    pub title: String,
    pub body: String,
    pub category: Category,
    pub priority: Priority,
    pub requires_confirmation: bool,
    /// When it was published; while scheduled, when it will be.
    pub published_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub answers_until: Option<DateTime<Utc>>,
    pub version: i32,
    pub author: Author,
    /// Opened by you.
    pub read: bool,
    /// Confirmed by your household (by any member, or on paper).
    pub confirmed: bool,
    pub questions: Vec<QuestionResponse>,
    pub event: Option<EventResponse>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PostView> for PostResponse {
    fn from(v: PostView) -> Self {
        let d = Arc::unwrap_or_clone(v.detail);
        let p = d.post;
        Self {
            id: p.id,
            status: p.status,
            tier: p.tier,
            scope_id: p.scope_id,
            han_ids: d.hans,
            title: p.title,
            body: p.body,
            category: p.category,
            priority: p.priority,
            requires_confirmation: p.requires_confirmation,
            published_at: p.published_at.map(|t| t.and_utc()),
            expires_at: p.expires_at.map(|t| t.and_utc()),
            answers_until: p.answers_until.map(|t| t.and_utc()),
            version: p.version,
            author: Author {
                id: p.author_id,
                display_name: d.author_name,
            },
            read: v.read,
            confirmed: v.confirmed,
            questions: d.questions.into_iter().map(Into::into).collect(),
            event: d.event.map(Into::into),
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
        }
    }
}

/// Post a circular to the city, a district, an association or some of its hans.
#[utoipa::path(tag = "posts", request_body = CreatePostRequest, responses((status = 201, body = PostResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts")]
pub async fn create_post(
    auth: AuthMember,
    body: LongJson<CreatePostRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0.into_new_post()?;
    let view = posts::create(&services, &auth.0, input).await?;
    Ok(HttpResponse::Created().json(PostResponse::from(view)))
}

/// One circular, with your read and confirmation state.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = PostResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}")]
pub async fn get_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = posts::get(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PostResponse::from(view)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditPostRequest {
    pub title: Option<String>,
    pub body: Option<String>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub requires_confirmation: Option<bool>,
    /// null removes the expiry.
    #[serde(default, deserialize_with = "crate::routes::double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Replaces the event; null removes it.
    #[serde(default, deserialize_with = "crate::routes::double_option")]
    #[schema(value_type = Option<EventRequest>)]
    pub event: Option<Option<EventRequest>>,
    /// A new audience, only while the circular is a draft or scheduled (409
    /// `audience_fixed` once sent); goes with `han_ids`.
    pub scope: Option<ScopeRequest>,
    /// With `scope`: only these hans of the association (none: all of it).
    pub han_ids: Option<Vec<String>>,
    /// Replaces the survey, only while the circular is a draft or scheduled (409
    /// `audience_fixed` once sent: its answers belong to the questions asked); `[]` removes it.
    pub questions: Option<Vec<QuestionRequest>>,
}

impl EditPostRequest {
    fn into_edit(self) -> Result<PostEdit, ApiError> {
        let audience = match (self.scope, self.han_ids) {
            (Some(scope), hans) => Some((scope.parse()?, draft::hans(hans.unwrap_or_default())?)),
            (None, Some(_)) => {
                let message = "han_ids are given with the scope they belong to";
                return Err(FieldError::new("scope", Problem::Empty, message).into());
            }
            (None, None) => None,
        };
        let questions = self
            .questions
            .map(|qs| draft::questions(qs.into_iter().map(QuestionRequest::into_draft).collect()))
            .transpose()?;
        Ok(PostEdit {
            audience,
            questions,
            title: self.title.map(|t| draft::title(&t)).transpose()?,
            body: self.body.map(|b| draft::body(&b)).transpose()?,
            category: self.category,
            priority: self.priority,
            requires_confirmation: self.requires_confirmation,
            expires_at: self.expires_at.map(|e| e.map(|t| t.naive_utc())),
            event: self
                .event
                .map(|e| e.map(|e| e.into_draft().check()).transpose())
                .transpose()
                .map_err(ApiError::validation)?,
        })
    }
}

/// Edit a circular. A published one keeps its previous text as a version for its managers.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), request_body = EditPostRequest, responses((status = 200, body = PostResponse), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/posts/{id}")]
pub async fn edit_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    body: LongJson<EditPostRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let edit = body.0.into_edit()?;
    let view = posts::edit(&services, &auth.0, path.into_inner(), edit).await?;
    Ok(HttpResponse::Ok().json(PostResponse::from(view)))
}

/// Publish a draft or scheduled circular now.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = PostResponse), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/publish")]
pub async fn publish_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let view = posts::publish(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PostResponse::from(view)))
}

/// Withdraw a circular: it leaves every inbox; its record stays.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/withdraw")]
pub async fn withdraw_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    posts::withdraw(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct VersionResponse {
    pub version: i32,
    pub title: String,
    pub body: String,
    pub edited_by: MemberId,
    pub edited_at: DateTime<Utc>,
}

impl From<PostVersion> for VersionResponse {
    fn from(v: PostVersion) -> Self {
        Self {
            version: v.version,
            title: v.title,
            body: v.body,
            edited_by: v.edited_by,
            edited_at: v.edited_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VersionList {
    pub items: Vec<VersionResponse>,
}

/// Earlier versions of an edited circular, newest first (its managers).
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = VersionList), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/versions")]
pub async fn list_versions(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let items = posts::versions(&services, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(VersionList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CategoryResponse {
    pub id: Category,
    /// The label residents see.
    #[schema(example = "お知らせ")]
    pub label: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryList {
    pub items: Vec<CategoryResponse>,
}

fn category_label(c: Category) -> &'static str {
    match c {
        Category::Notice => "お知らせ",
        Category::Event => "行事",
        Category::Disaster => "防災",
        Category::Garbage => "ごみ",
        Category::Recruitment => "募集",
        Category::Survey => "アンケート",
        Category::Other => "その他",
    }
}

/// The categories a circular can have.
#[utoipa::path(tag = "posts", responses((status = 200, body = CategoryList)))]
#[get("/categories")]
pub async fn list_categories() -> HttpResponse {
    let items = Category::ALL
        .iter()
        .map(|&id| CategoryResponse {
            id,
            label: category_label(id),
        })
        .collect();
    HttpResponse::Ok().json(CategoryList { items })
}
