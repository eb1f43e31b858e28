//! `/calendar` (行事予定): the member's events of one month, as a month grid and as a list by
//! day that reads well at large text sizes; and the calendar feed made or revoked from
//! `/settings` (its secret address is shown once, on the page the form answers with).

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDate};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::actions::calendar_feed::{feed_url, webcal_url};
use crate::actions::{Services, calendar};
use crate::configuration::WebSettings;
use crate::db::models::PostEvent;
use crate::db::queries::calendar::CalendarRow;
use crate::domain::Month;
use crate::domain::event::{CalendarWindow, CheckedEvent, jst_date, jst_time};
use crate::error::{ApiError, ErrorCode};
use crate::web::page::{Page, redirect};
use crate::web::session::PageMember;
use crate::web::{CsrfForm, public_base_url};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/calendar", web::get().to(show))
        .route("/calendar/feed", web::post().to(create_feed))
        .route("/calendar/feed/revoke", web::post().to(revoke_feed));
}

pub struct EventLine {
    pub href: String,
    pub title: String,
    /// `10:00–12:00`, or empty for an all-day event.
    pub time: String,
    pub all_day: bool,
    pub place: Option<String>,
}

pub struct Day {
    pub date: String,
    pub number: u32,
    pub events: Vec<EventLine>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage<'a> {
    page: &'a Page,
    month: String,
    previous: String,
    next: String,
    weekdays: Vec<&'static str>,
    /// Weeks from Sunday; None before the first and after the last day.
    weeks: Vec<Vec<Option<Day>>>,
    /// The days that have events, in order.
    days: Vec<Day>,
}

#[derive(Deserialize)]
struct MonthQuery {
    month: Option<String>,
}

fn line(row: &CalendarRow) -> EventLine {
    let event = row.event.checked();
    let time = match (event.all_day, event.ends_at) {
        (true, _) => String::new(),
        (false, Some(end)) if jst_date(end) == jst_date(event.starts_at) => format!(
            "{}–{}",
            jst_time(event.starts_at).format("%H:%M"),
            jst_time(end).format("%H:%M")
        ),
        (false, _) => jst_time(event.starts_at).format("%H:%M").to_string(),
    };
    EventLine {
        href: format!("/posts/{}", row.post.id),
        title: row.post.title.clone(),
        time,
        all_day: event.all_day,
        place: event.place,
    }
}

/// When an event takes place, in Japan time: `2026-12-06 10:00–12:00`, `2026-12-06 (終日)`,
/// `2026-12-06 – 2026-12-07 (終日)`.
fn event_when(page: &Page, event: &CheckedEvent) -> String {
    let (first, last) = (event.first_day(), event.last_day());
    let days = if first == last {
        first.to_string()
    } else {
        format!("{first} – {last}")
    };
    if event.all_day {
        return format!("{days} ({})", page.t("calendar.all_day"));
    }
    let start = jst_time(event.starts_at).format("%H:%M");
    match event.ends_at {
        Some(end) if first == last => format!("{days} {start}–{}", jst_time(end).format("%H:%M")),
        Some(end) => format!("{first} {start} – {last} {}", jst_time(end).format("%H:%M")),
        None => format!("{days} {start}"),
    }
}

/// An event as a circular shows it: when, where, and the calendar month it is on.
pub struct EventFacts {
    pub when: String,
    pub place: Option<String>,
    pub month: String,
}

pub fn event_facts(page: &Page, event: &PostEvent) -> EventFacts {
    let event = event.checked();
    EventFacts {
        when: event_when(page, &event),
        month: event.first_day().format("%Y-%m").to_string(),
        place: event.place,
    }
}

fn day(rows: &[CalendarRow], date: NaiveDate) -> Day {
    let events = rows
        .iter()
        .filter(|row| {
            let event = row.event.checked();
            (event.first_day()..=event.last_day()).contains(&date)
        })
        .map(line)
        .collect();
    Day {
        date: date.to_string(),
        number: date.day(),
        events,
    }
}

/// The month's days in weeks from Sunday.
fn weeks(rows: &[CalendarRow], first: NaiveDate, last: NaiveDate) -> Vec<Vec<Option<Day>>> {
    let lead = usize::try_from(first.weekday().num_days_from_sunday()).unwrap_or(0);
    let mut cells: Vec<Option<Day>> = (0..lead).map(|_| None).collect();
    cells.extend(
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|d| Some(day(rows, d))),
    );
    while !cells.len().is_multiple_of(7) {
        cells.push(None);
    }
    let mut weeks = Vec::new();
    let mut cells = cells.into_iter().peekable();
    while cells.peek().is_some() {
        weeks.push(cells.by_ref().take(7).collect());
    }
    weeks
}

async fn show(
    member: PageMember,
    page: Page,
    query: web::Query<MonthQuery>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let month = match query.month.as_deref().filter(|m| !m.is_empty()) {
        Some(text) => {
            Month::parse(text).map_err(|m| ApiError::BadRequest(ErrorCode::InvalidQuery, m))?
        }
        None => Month::containing(crate::db::now()),
    };
    let first = jst_date(month.start_utc());
    let last = jst_date(month.end_utc()) - Duration::days(1);
    let window = CalendarWindow { first, last };
    let rows = calendar::list(&services, &member.0.principal.member_id, window).await?;
    let days = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| day(&rows, d))
        .filter(|d| !d.events.is_empty())
        .collect();
    let weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        .iter()
        .map(|d| page.t(&format!("calendar.{d}")))
        .collect();
    page.render(&CalendarPage {
        page: &page,
        month: month.to_string(),
        previous: month.plus(-1).to_string(),
        next: month.plus(1).to_string(),
        weekdays,
        weeks: weeks(&rows, first, last),
        days,
    })
}

#[derive(Template)]
#[template(path = "calendar_feed.html")]
struct FeedPage<'a> {
    page: &'a Page,
    url: String,
    webcal_url: String,
}

#[derive(Deserialize)]
struct NoFields {}

/// Makes a new feed address and shows it once (only its hash is kept).
async fn create_feed(
    _form: CsrfForm<NoFields>,
    req: HttpRequest,
    page: Page,
    member: PageMember,
    services: web::Data<Services>,
    settings: web::Data<WebSettings>,
) -> Result<HttpResponse, ApiError> {
    let token = calendar::create_feed(&services, &member.0.principal.member_id).await?;
    let url = feed_url(&public_base_url(&req, &settings), token.expose_secret());
    page.render(&FeedPage {
        page: &page,
        webcal_url: webcal_url(&url),
        url,
    })
}

async fn revoke_feed(
    _form: CsrfForm<NoFields>,
    member: PageMember,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    calendar::revoke_feed(&services, &member.0.principal.member_id).await?;
    Ok(redirect(
        "/settings?feed_revoked=1#calendar-heading",
        Vec::new(),
    ))
}
