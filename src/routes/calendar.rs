//! A member's calendar of events (行事): the list by date, and the iCalendar feed at a secret
//! URL they can make, replace and revoke.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actions::calendar_feed::{self, feed_url, webcal_url};
use crate::actions::{Services, calendar};
use crate::auth::AuthMember;
use crate::configuration::WebSettings;
use crate::db::queries::calendar::CalendarRow;
use crate::domain::{Category, PostId, PostStatus, Priority, Tier};
use crate::error::ApiError;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(get_calendar)
        .service(create_calendar_feed)
        .service(delete_calendar_feed)
        .service(get_calendar_feed);
}

#[derive(Deserialize, IntoParams)]
pub struct CalendarParams {
    /// The first day (JST, YYYY-MM-DD); today by default.
    pub from: Option<String>,
    /// The last day, included; 30 days after `from` by default, at most 400 days on.
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CalendarItem {
    pub post_id: PostId,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub all_day: bool,
    pub place: Option<String>,
    pub category: Category,
    pub priority: Priority,
    pub tier: Tier,
    pub status: PostStatus,
}

impl From<CalendarRow> for CalendarItem {
    fn from(row: CalendarRow) -> Self {
        Self {
            post_id: row.post.id,
            title: row.post.title,
            starts_at: row.event.starts_at.and_utc(),
            ends_at: row.event.ends_at.map(|t| t.and_utc()),
            all_day: row.event.all_day,
            place: row.event.place,
            category: row.post.category,
            priority: row.post.priority,
            tier: row.post.tier,
            status: row.post.status,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CalendarList {
    pub items: Vec<CalendarItem>,
}

/// Your events: those of the published circulars that reach your household (the same rule as
/// the inbox), overlapping the days asked, by start.
#[utoipa::path(tag = "calendar", params(CalendarParams), responses((status = 200, body = CalendarList), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[get("/me/calendar")]
pub async fn get_calendar(
    auth: AuthMember,
    params: web::Query<CalendarParams>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let window = calendar::window(params.from.as_deref(), params.to.as_deref())?;
    let rows = calendar::list(&services, &auth.0, window).await?;
    Ok(HttpResponse::Ok().json(CalendarList {
        items: rows.into_iter().map(CalendarItem::from).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CalendarFeedResponse {
    /// The secret feed address (https); keep it private.
    pub url: String,
    /// The same address for calendar apps (`webcal://`).
    pub webcal_url: String,
}

/// A new secret calendar-feed URL; any earlier one stops working.
#[utoipa::path(tag = "calendar", responses((status = 201, body = CalendarFeedResponse), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[post("/me/calendar-feed")]
pub async fn create_calendar_feed(
    auth: AuthMember,
    req: HttpRequest,
    services: web::Data<Services>,
    settings: web::Data<WebSettings>,
) -> Result<HttpResponse, ApiError> {
    let token = calendar::create_feed(&services, &auth.0).await?;
    let url = feed_url(
        &crate::web::public_base_url(&req, &settings),
        token.expose_secret(),
    );
    let webcal_url = webcal_url(&url);
    Ok(HttpResponse::Created().json(CalendarFeedResponse { url, webcal_url }))
}

/// Revoke your calendar feed: its URL answers 404 from now on.
#[utoipa::path(tag = "calendar", responses((status = 204), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
#[delete("/me/calendar-feed")]
pub async fn delete_calendar_feed(
    auth: AuthMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    calendar::revoke_feed(&services, &auth.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A member's events as iCalendar (RFC 5545), for the holder of the secret URL. Withdrawn
/// circulars' events stay, cancelled.
#[utoipa::path(tag = "calendar", params(("token" = String, Path, description = "the secret, with .ics")), responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = crate::error::ErrorBody)))]
#[get("/calendar-feeds/{token}")]
pub async fn get_calendar_feed(
    token: web::Path<String>,
    req: HttpRequest,
    services: web::Data<Services>,
    settings: web::Data<WebSettings>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let token = token.strip_suffix(".ics").unwrap_or(&token).to_string();
    let rows = calendar::feed_events(&services, token).await?;
    let base_url = crate::web::public_base_url(&req, &settings);
    let body = calendar_feed::ics(&rows, "kairan 行事", &base_url);
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header(("Cache-Control", "private, no-store"))
        .body(body))
}
