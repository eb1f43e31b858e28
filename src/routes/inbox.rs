//! The member's inbox: their circulars, newest first, a page at a time.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::Services;
use crate::actions::inbox::{self as inbox_actions, InboxRequest};
use crate::auth::AuthMember;
use crate::domain::{Category, PostId, Priority, Tier};
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(inbox);
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

/// Your circulars: every published, unexpired post that reaches your household, newest first.
#[utoipa::path(tag = "posts", params(InboxParams), responses((status = 200, body = InboxPage), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/me/inbox")]
pub async fn inbox(
    auth: AuthMember,
    params: web::Query<InboxParams>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let request = InboxRequest {
        unread_only: params.unread.unwrap_or(false),
        limit: params.limit,
        cursor: params.cursor,
        search: params.q,
    };
    let page = inbox_actions::page(&services, &auth.0, request).await?;
    let items = page
        .rows
        .into_iter()
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
    let next_cursor = page.next_cursor;
    Ok(HttpResponse::Ok().json(InboxPage { items, next_cursor }))
}
