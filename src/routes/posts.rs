//! Circulars (回覧): posting, the inbox, reading and confirming, receipts.

use crate::domain::AuditAction;
use std::sync::Arc;

use actix_web::{HttpResponse, get, patch, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::access::{accessible_post, managed_post};
use crate::actions::receipts::{self, Receipt};
use crate::auth::AuthMember;
use crate::authz::{self, Principal, require};
use crate::db::models::{Post, PostVersion, SurveyQuestion};
use crate::db::queries::associations::check_scope;
use crate::db::queries::posts::{
    self as queries, InboxCursor, InboxQuery, PostDetail, PostEdit, Receipts,
};
use crate::db::{AnyConnection, Db, now};
use crate::domain::{
    Category, HanId, HouseholdId, MemberId, PostId, PostStatus, Priority, QuestionId, QuestionKind,
    ReceiptScope, Tier, normalize,
};
use crate::error::{ApiError, ErrorCode};
use crate::inbox_cache::InboxCache;
use crate::routes::LongJson;
use crate::routes::ScopeRequest;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create_post)
        .service(inbox)
        .service(get_post)
        .service(edit_post)
        .service(publish_post)
        .service(withdraw_post)
        .service(list_versions)
        .service(mark_read)
        .service(confirm_post)
        .service(record_paper_confirmation)
        .service(get_receipts)
        .service(export_receipts)
        .service(list_categories);
}

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 20_000;
const MAX_SCHEDULE_DAYS: i64 = 400;
const MAX_QUESTIONS: usize = 20;
/// Far more 班 than any association has; bounds the audience query.
const MAX_HAN_IDS: usize = 100;
const MAX_OPTIONS: usize = 20;

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
            options: serde_json::from_str(&q.options).unwrap_or_default(),
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

struct PostView {
    detail: Arc<PostDetail>,
    read: bool,
    confirmed: bool,
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
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
        }
    }
}

/// A post as its managers see it (any status), with their own read state.
fn load_view(
    conn: &mut AnyConnection,
    member: &MemberId,
    household: Option<&HouseholdId>,
    post: Post,
) -> Result<PostView, ApiError> {
    let (read, confirmed) = queries::read_state(conn, &post.id, member, household)?;
    Ok(PostView {
        detail: Arc::new(queries::post_detail(conn, post)?),
        read,
        confirmed,
    })
}

fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = normalize(value);
    if value.is_empty() {
        return Err(ApiError::validation(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::validation(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(value)
}

/// Body text keeps its line breaks but loses other control characters.
fn body_text(value: &str) -> Result<String, ApiError> {
    let cleaned: String = value
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    text("body", &cleaned.replace("\r\n", "\n"), MAX_BODY_CHARS)
}

fn questions_from(
    post: &PostId,
    requests: Vec<QuestionRequest>,
) -> Result<Vec<SurveyQuestion>, ApiError> {
    if requests.len() > MAX_QUESTIONS {
        return Err(ApiError::validation(format!(
            "a post may have at most {MAX_QUESTIONS} questions"
        )));
    }
    requests
        .into_iter()
        .enumerate()
        .map(|(position, q)| {
            let prompt = text("question prompt", &q.prompt, 200)?;
            let options = q
                .options
                .iter()
                .map(|o| text("option", o, 100))
                .collect::<Result<Vec<_>, _>>()?;
            let choices = matches!(
                q.kind,
                QuestionKind::SingleChoice | QuestionKind::MultipleChoice
            );
            if choices && !(2..=MAX_OPTIONS).contains(&options.len()) {
                return Err(ApiError::validation(format!(
                    "a choice question needs 2 to {MAX_OPTIONS} options"
                )));
            }
            if !choices && !options.is_empty() {
                return Err(ApiError::validation("only choice questions have options"));
            }
            Ok(SurveyQuestion {
                id: QuestionId::generate(),
                post_id: post.clone(),
                position: i32::try_from(position).unwrap_or(i32::MAX),
                kind: q.kind,
                prompt,
                options: serde_json::to_string(&options)
                    .map_err(|e| ApiError::Unexpected(e.into()))?,
                required: q.required,
            })
        })
        .collect()
}

/// Post a circular to the city, a district, an association or some of its hans.
#[utoipa::path(tag = "posts", request_body = CreatePostRequest, responses((status = 201, body = PostResponse), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts")]
pub async fn create_post(
    auth: AuthMember,
    body: LongJson<CreatePostRequest>,
    db: web::Data<Db>,
    inbox_cache: web::Data<InboxCache>,
) -> Result<HttpResponse, ApiError> {
    let r = body.0;
    let at = now();
    let title = text("title", &r.title, MAX_TITLE_CHARS)?;
    let body = body_text(&r.body)?;
    let publish_at = r.publish_at.map(|t| t.naive_utc());
    if publish_at.is_some_and(|t| t < at - Duration::minutes(1)) {
        return Err(ApiError::validation("publish_at is in the past"));
    }
    // A circular is scheduled for this fiscal year or the next, not for a typo's year 9999.
    if publish_at.is_some_and(|t| t > at + Duration::days(MAX_SCHEDULE_DAYS)) {
        return Err(ApiError::validation(format!(
            "publish_at must be within {MAX_SCHEDULE_DAYS} days"
        )));
    }
    let (status, published_at) = match (r.draft, publish_at) {
        (true, publish_at) => (PostStatus::Draft, publish_at),
        (false, Some(t)) if t > at => (PostStatus::Scheduled, Some(t)),
        (false, _) => (PostStatus::Published, Some(at)),
    };
    let expires_at = r.expires_at.map(|t| t.naive_utc());
    if expires_at.is_some_and(|e| e <= published_at.unwrap_or(at)) {
        return Err(ApiError::validation(
            "expires_at must be after the post is published",
        ));
    }
    let answers_until = r.answers_until.map(|t| t.naive_utc());
    if answers_until.is_some() && r.questions.is_empty() {
        return Err(ApiError::validation("answers_until needs questions"));
    }
    if answers_until.is_some_and(|t| t <= published_at.unwrap_or(at)) {
        return Err(ApiError::validation(
            "answers_until must be after the post is published",
        ));
    }
    let scope = r.scope.parse()?;
    if r.han_ids.len() > MAX_HAN_IDS {
        return Err(ApiError::validation(format!(
            "han_ids may name at most {MAX_HAN_IDS} hans"
        )));
    }
    let mut hans: Vec<HanId> = r.han_ids.into_iter().map(HanId).collect();
    hans.sort();
    hans.dedup();
    let id = PostId::generate();
    let questions = questions_from(&id, r.questions)?;
    let view = db
        .run(move |conn| {
            let p = Principal::load(conn, &auth.0)?;
            check_scope(conn, &scope, &hans)?;
            require(authz::may_post(&p, &scope, &hans))?;
            let post = Post {
                id,
                author_id: p.member_id.clone(),
                tier: scope.tier(),
                scope_id: scope.id().map(str::to_string),
                title,
                body,
                category: r.category.unwrap_or(Category::Notice),
                priority: r.priority.unwrap_or(Priority::Normal),
                requires_confirmation: r.requires_confirmation,
                status,
                published_at,
                expires_at,
                answers_until,
                version: 1,
                created_at: at,
                updated_at: at,
            };
            let post = queries::create_post(conn, post, hans, questions)?;
            load_view(conn, &p.member_id, p.household_id.as_ref(), post)
        })
        .await?;
    inbox_cache.posts_changed();
    Ok(HttpResponse::Created().json(PostResponse::from(view)))
}

/// One circular, with your read and confirmation state.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = PostResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}")]
pub async fn get_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
    inbox_cache: web::Data<InboxCache>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    // A reader whose place, post and state are in memory needs no database.
    let cached = inbox_cache
        .cached_audience_post(&auth.0, &id, now())
        .and_then(|(place, detail)| {
            let (read, confirmed) = inbox_cache.cached_read_state(&place, &id)?;
            Some(PostView {
                detail,
                read,
                confirmed,
            })
        });
    if let Some(view) = cached {
        return Ok(HttpResponse::Ok().json(PostResponse::from(view)));
    }
    let view = db
        .run(move |conn| {
            if let Some((place, detail)) = inbox_cache.audience_post(conn, &auth.0, &id, now())? {
                let (read, confirmed) = inbox_cache.read_state(conn, &place, &id)?;
                return Ok(PostView {
                    detail,
                    read,
                    confirmed,
                });
            }
            // Managers may see a post outside its audience, or before it is published.
            let access = accessible_post(conn, &auth.0, &id)?;
            let p = access.principal;
            load_view(conn, &p.member_id, p.household_id.as_ref(), access.post)
        })
        .await?;
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
}

/// Edit a circular. A published one keeps its previous text as a version for its managers.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), request_body = EditPostRequest, responses((status = 200, body = PostResponse), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[patch("/posts/{id}")]
pub async fn edit_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    body: LongJson<EditPostRequest>,
    db: web::Data<Db>,
    inbox_cache: web::Data<InboxCache>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let r = body.0;
    let edit = PostEdit {
        title: r
            .title
            .map(|t| text("title", &t, MAX_TITLE_CHARS))
            .transpose()?,
        body: r.body.map(|b| body_text(&b)).transpose()?,
        category: r.category,
        priority: r.priority,
        requires_confirmation: r.requires_confirmation,
        expires_at: r.expires_at.map(|e| e.map(|t| t.naive_utc())),
    };
    let view = db
        .run(move |conn| {
            let (p, post) = managed_post(conn, &auth.0, &id)?;
            if post.status == PostStatus::Withdrawn {
                return Err(ApiError::Conflict(
                    ErrorCode::PostWithdrawn,
                    "a withdrawn post cannot be edited".into(),
                ));
            }
            if let Some(Some(expires_at)) = edit.expires_at
                && expires_at <= post.published_at.unwrap_or_else(now)
            {
                return Err(ApiError::validation(
                    "expires_at must be after the post is published",
                ));
            }
            let post = queries::edit_post(conn, &post, edit, &p.member_id)?;
            load_view(conn, &p.member_id, p.household_id.as_ref(), post)
        })
        .await?;
    inbox_cache.posts_changed();
    Ok(HttpResponse::Ok().json(PostResponse::from(view)))
}

/// Publish a draft or scheduled circular now.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = PostResponse), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/publish")]
pub async fn publish_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
    inbox_cache: web::Data<InboxCache>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let view = db
        .run(move |conn| {
            let (p, post) = managed_post(conn, &auth.0, &id)?;
            let at = now();
            if post.expires_at.is_some_and(|e| e <= at) {
                return Err(ApiError::validation("the post has already expired"));
            }
            if !queries::publish_now(conn, &id, at)? {
                return Err(ApiError::Conflict(
                    ErrorCode::NotPublishable,
                    "only a draft or scheduled post can be published".into(),
                ));
            }
            let post = queries::find_post(conn, &post.id)?.ok_or(ApiError::NotFound("post"))?;
            load_view(conn, &p.member_id, p.household_id.as_ref(), post)
        })
        .await?;
    inbox_cache.posts_changed();
    Ok(HttpResponse::Ok().json(PostResponse::from(view)))
}

/// Withdraw a circular: it leaves every inbox; its record stays.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/withdraw")]
pub async fn withdraw_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
    inbox_cache: web::Data<InboxCache>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    db.run(move |conn| {
        managed_post(conn, &auth.0, &id)?;
        Ok(queries::withdraw(conn, &id)?)
    })
    .await?;
    inbox_cache.posts_changed();
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
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let items = db
        .run(move |conn| {
            managed_post(conn, &auth.0, &id)?;
            Ok(queries::versions(conn, &id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(VersionList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct InboxParams {
    /// Only posts you have not opened.
    pub unread: Option<bool>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// From the previous page's next_cursor.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
    /// Words that must appear in the title or body.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InboxItem {
    pub id: PostId,
    pub title: String,
    pub category: Category,
    pub priority: Priority,
    pub tier: Tier,
    pub published_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub requires_confirmation: bool,
    pub read: bool,
    pub confirmed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

pub fn encode_cursor(c: &InboxCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        c.published_at.and_utc().timestamp_micros(),
        c.post_id
    ))
}

/// Parses a cursor from a client; anything not made by `encode_cursor` is refused.
pub fn decode_cursor(raw: &str) -> Result<InboxCursor, ApiError> {
    let invalid = || {
        ApiError::BadRequest(
            ErrorCode::InvalidCursor,
            "the cursor is not valid; start again without it".into(),
        )
    };
    if raw.len() > 200 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let published_at = DateTime::from_timestamp_micros(micros)
        .ok_or_else(invalid)?
        .naive_utc();
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(invalid());
    }
    Ok(InboxCursor {
        published_at,
        post_id: PostId(id.to_string()),
    })
}

/// Your circulars: every published, unexpired post that reaches your household, newest first.
#[utoipa::path(tag = "posts", params(InboxParams), responses((status = 200, body = InboxPage), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/me/inbox")]
pub async fn inbox(
    auth: AuthMember,
    params: web::Query<InboxParams>,
    db: web::Data<Db>,
    cache: web::Data<InboxCache>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            ErrorCode::InvalidQuery,
            "limit must be from 1 to 100".into(),
        ));
    }
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let search = params
        .q
        .map(|q| normalize(&q).to_lowercase())
        .filter(|q| !q.is_empty());
    if search.as_ref().is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::BadRequest(
            ErrorCode::InvalidQuery,
            "q must be at most 100 characters".into(),
        ));
    }
    let unread_only = params.unread.unwrap_or(false);
    let page_size = usize::try_from(limit).unwrap_or(20);
    let cached = (search.is_none() && !unread_only)
        .then(|| cache.cached_page(&auth.0, after.as_ref(), page_size, now()))
        .flatten();
    let rows = match cached {
        Some(rows) => rows,
        None => {
            db.run(move |conn| {
                // The inbox needs where the member lives, not their roles.
                let p = cache.membership(conn, &auth.0)?;
                let keys = p.audience_keys();
                let at = now();
                if search.is_none()
                    && !unread_only
                    && let Some(entries) = cache.page(conn, &keys, after.as_ref(), page_size, at)?
                {
                    return cache.with_read_states(conn, &p, entries);
                }
                let query = InboxQuery {
                    keys,
                    member: p.member_id.clone(),
                    household: p.household_id.clone(),
                    unread_only,
                    search,
                    after,
                    limit,
                    at,
                };
                Ok(queries::inbox(conn, &query)?)
            })
            .await?
        }
    };
    let limit = page_size;
    let next_cursor = (rows.len() > limit)
        .then(|| rows.get(limit - 1))
        .flatten()
        .map(|last| {
            encode_cursor(&InboxCursor {
                published_at: last.published_at,
                post_id: last.post.id.clone(),
            })
        });
    let items = rows
        .into_iter()
        .take(limit)
        .map(|row| InboxItem {
            id: row.post.id,
            title: row.post.title,
            category: row.post.category,
            priority: row.post.priority,
            tier: row.post.tier,
            published_at: row.published_at.and_utc(),
            expires_at: row.post.expires_at.map(|t| t.and_utc()),
            requires_confirmation: row.post.requires_confirmation,
            read: row.read,
            confirmed: row.confirmed,
        })
        .collect();
    Ok(HttpResponse::Ok().json(InboxPage { items, next_cursor }))
}

/// Mark a circular opened. Repeating it changes nothing.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/read")]
pub async fn mark_read(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    receipts::record(&services, &auth.0, path.into_inner(), Receipt::Read).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Confirm a circular (確認) for your household. Repeating it changes nothing.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/confirm")]
pub async fn confirm_post(
    auth: AuthMember,
    path: web::Path<PostId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    receipts::record(&services, &auth.0, path.into_inner(), Receipt::Confirm).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaperConfirmationRequest {
    pub household_id: String,
}

/// Record a paper household's confirmation after handing over the printed circular
/// (officers, or the 班長 of that household's han).
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/posts/{id}/paper-confirmations")]
pub async fn record_paper_confirmation(
    auth: AuthMember,
    path: web::Path<PostId>,
    body: web::Json<PaperConfirmationRequest>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let household = HouseholdId(body.into_inner().household_id);
    receipts::record_paper_confirmation(&services, &auth.0, path.into_inner(), household).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct UnconfirmedHousehold {
    pub household_id: HouseholdId,
    pub label: String,
    pub han_id: Option<HanId>,
    pub han: Option<String>,
    pub paper: bool,
    pub read: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ReceiptsResponse {
    /// Households the post reaches (within what you may see).
    pub households: i64,
    pub read: i64,
    pub confirmed: i64,
    /// Not yet confirmed, by han then label: the 班長's visit list. Empty for city staff and
    /// district officers, who see counts only.
    pub unconfirmed: Vec<UnconfirmedHousehold>,
}

impl From<Receipts> for ReceiptsResponse {
    fn from(r: Receipts) -> Self {
        Self {
            households: r.households,
            read: r.read,
            confirmed: r.confirmed,
            unconfirmed: r
                .unconfirmed
                .into_iter()
                .map(|u| UnconfirmedHousehold {
                    household_id: u.household_id,
                    label: u.label,
                    han_id: u.han_id,
                    han: u.han,
                    paper: u.paper,
                    read: u.read,
                })
                .collect(),
        }
    }
}

/// Receipts for whoever may follow them: managers get the audience's counts, officers and
/// 班長 in the audience their own households with the visit list.
fn load_receipts(
    conn: &mut AnyConnection,
    auth: &AuthMember,
    id: &PostId,
) -> Result<(Principal, Post, Receipts), ApiError> {
    let p = Principal::load(conn, &auth.0)?;
    let post = queries::find_post(conn, id)?
        .filter(|post| post.status != PostStatus::Draft)
        .ok_or(ApiError::NotFound("post"))?;
    let hans = queries::post_hans_of(conn, id)?;
    let (scope, list) = match authz::receipt_scope(&p, post.audience(&hans)) {
        Some(scope) => (scope, true),
        None if authz::may_manage_post(&p, &post.author_id, post.audience(&[])) => {
            (ReceiptScope::Audience, false)
        }
        None => return Err(ApiError::NotFound("post")),
    };
    let receipts = queries::receipts(conn, &post, &hans, &scope, list)?;
    if list {
        let detail =
            serde_json::json!({"post_id": id.as_str(), "rows": receipts.unconfirmed.len()});
        crate::db::queries::audit::record(
            conn,
            &p,
            AuditAction::ReceiptsRead,
            "post",
            Some(id.as_str()),
            p.association_id.as_ref(),
            detail,
        )?;
    }
    Ok((p, post, receipts))
}

/// Read and confirmation counts by household, and the households not yet confirmed.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, body = ReceiptsResponse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/receipts")]
pub async fn get_receipts(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (_, _, receipts) = db.run(move |conn| load_receipts(conn, &auth, &id)).await?;
    Ok(HttpResponse::Ok().json(ReceiptsResponse::from(receipts)))
}

/// The visit list as CSV for Excel (UTF-8 with BOM): han, household, paper, read.
#[utoipa::path(tag = "posts", params(("id" = String, Path)), responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/posts/{id}/receipts.csv")]
pub async fn export_receipts(
    auth: AuthMember,
    path: web::Path<PostId>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (_, _, receipts) = db.run(move |conn| load_receipts(conn, &auth, &id)).await?;
    let rows = receipts.unconfirmed.into_iter().map(|u| {
        vec![
            u.household_id.to_string(),
            u.han.unwrap_or_default(),
            u.label,
            if u.paper { "yes" } else { "no" }.to_string(),
            if u.read { "yes" } else { "no" }.to_string(),
        ]
    });
    crate::routes::csv_response(
        "unconfirmed.csv",
        &["household_id", "han", "label", "paper", "read"],
        rows,
    )
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

/// The stable-toolchain cousin of `tests/fuzz/fuzz_targets/inbox_cursor.rs`.
#[cfg(test)]
mod random_cursors {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    #[test]
    fn random_cursors_are_refused_cleanly_and_real_ones_round_trip() {
        let mut rng = StdRng::seed_from_u64(7);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=|+/ ";
        for _ in 0..20_000 {
            let raw: String = (0..rng.random_range(0..120))
                .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
                .collect();
            let inner = format!("{}|{}", rng.random::<i64>(), crate::domain::new_id());
            for candidate in [raw, URL_SAFE_NO_PAD.encode(inner)] {
                if let Ok(cursor) = decode_cursor(&candidate) {
                    let again = decode_cursor(&encode_cursor(&cursor)).map_err(|e| e.to_string());
                    let again = again.unwrap_or_else(|e| panic!("{candidate}: {e}"));
                    assert_eq!(again.published_at, cursor.published_at);
                    assert_eq!(again.post_id, cursor.post_id);
                }
            }
        }
    }
}
