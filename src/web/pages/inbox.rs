//! `/inbox` (回覧板): the member's circulars, newest first, unread and urgent ones marked,
//! with search and paging; kept for reading offline.

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;

use crate::actions::Services;
use crate::actions::inbox::{self, InboxRequest};
use crate::actions::safety::{self, CheckView};
use crate::db::queries::inbox::InboxRow;
use crate::domain::Priority;
use crate::error::ApiError;
use crate::web::page::Page;
use crate::web::session::PageMember;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/inbox", web::get().to(show));
}

/// Tells the service worker to keep a copy of the page for reading offline.
pub fn keep_offline(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        HeaderName::from_static("x-kairan-offline"),
        HeaderValue::from_static("keep"),
    );
    response
}

/// A date as residents read it, in Japan's time.
pub fn local_date(at: NaiveDateTime) -> String {
    (at + Duration::hours(9)).format("%Y-%m-%d").to_string()
}

pub struct Line {
    pub href: String,
    pub title: String,
    pub date: String,
    pub unread: bool,
    pub urgent: bool,
    /// Asks for confirmation and the household has not confirmed yet.
    pub to_confirm: bool,
}

impl From<InboxRow> for Line {
    fn from(row: InboxRow) -> Self {
        Self {
            href: format!("/posts/{}", row.post.id),
            date: local_date(row.published_at),
            unread: !row.read,
            urgent: row.post.priority == Priority::Urgent,
            to_confirm: row.post.requires_confirmation && !row.confirmed,
            title: row.post.title,
        }
    }
}

/// An open safety check that asks the member's household to answer, shown above the
/// circulars so a resident without notifications still finds it.
pub struct OpenCheck {
    pub href: String,
    /// The message's first line (the page of the check shows it all).
    pub message: String,
    pub started: String,
    /// The household's answer so far, as the page names it; none while unanswered.
    pub answer: Option<&'static str>,
}

/// The open checks among those `actions::safety::list` gives (open first), which reach the
/// member's household.
fn open_checks(page: &Page, views: Vec<CheckView>) -> Vec<OpenCheck> {
    views
        .into_iter()
        .take_while(|v| v.check.closed_at.is_none())
        .filter(|v| v.for_household)
        .map(|v| OpenCheck {
            href: format!("/safety/{}", v.check.id),
            message: first_line(&v.check.message).to_string(),
            started: super::safety::jst(v.check.started_at),
            answer: v
                .answer
                .map(|a| page.t(super::safety::status_key(a.status))),
        })
        .collect()
}

/// The first line with text: the check's link is named by it.
fn first_line(message: &str) -> &str {
    message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default()
}

/// How many checks the inbox asks `actions::safety::list` for: the open ones come first.
const SAFETY_CHECKS_SHOWN: i64 = 5;

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage<'a> {
    page: &'a Page,
    checks: Vec<OpenCheck>,
    lines: Vec<Line>,
    search: String,
    unread_only: bool,
    next: Option<String>,
    unread_count: usize,
}

#[derive(Deserialize)]
struct InboxQuery {
    q: Option<String>,
    unread: Option<String>,
    cursor: Option<String>,
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<InboxQuery>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let caller = &member.0.principal.member_id;
    let query = query.into_inner();
    let search = query.q.unwrap_or_default();
    let unread_only = query.unread.is_some();
    let request = InboxRequest {
        unread_only,
        limit: None,
        cursor: query.cursor.filter(|c| !c.is_empty()),
        search: Some(search.clone()),
    };
    let found = inbox::page(&services, caller, request).await?;
    let unread_count = inbox::unread_count(&services, caller).await?;
    let checks = open_checks(
        &page,
        safety::list(&services, caller, SAFETY_CHECKS_SHOWN).await?,
    );
    let next = found
        .next_cursor
        .map(|cursor| next_link(&search, unread_only, &cursor));
    let lines = found.rows.into_iter().map(Line::from).collect();
    let response = page.render(&InboxPage {
        page: &page,
        checks,
        lines,
        search,
        unread_only,
        next,
        unread_count,
    })?;
    Ok(keep_offline(response))
}

fn next_link(search: &str, unread_only: bool, cursor: &str) -> String {
    let mut pairs = vec![("cursor", cursor)];
    if !search.is_empty() {
        pairs.push(("q", search));
    }
    if unread_only {
        pairs.push(("unread", "1"));
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    format!("/inbox?{query}")
}
