//! A member's events as an iCalendar feed (RFC 5545) a phone's calendar subscribes to: one
//! VEVENT per circular with a stable UID, times in Asia/Tokyo, cancelled once withdrawn.

use icalendar::{
    Calendar, CalendarDateTime, Component, DatePerhapsTime, Event, EventLike, EventStatus,
};

use crate::db::queries::calendar::CalendarRow;
use crate::domain::PostStatus;
use crate::domain::event::jst_time;

pub const TZID: &str = "Asia/Tokyo";

/// Japan keeps +09:00 all year, so one STANDARD rule describes the zone. The crate writes
/// TZID parameters but has no VTIMEZONE builder (RFC 5545 3.6.5 asks for one per TZID).
const VTIMEZONE: &str = "BEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo\r\nBEGIN:STANDARD\r\n\
DTSTART:19700101T000000\r\nTZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900\r\nTZNAME:JST\r\n\
END:STANDARD\r\nEND:VTIMEZONE\r\n";

/// The feed's address on this server for a token.
pub fn feed_url(base_url: &str, token: &str) -> String {
    format!("{base_url}/api/v1/calendar-feeds/{token}.ics")
}

/// The `webcal://` form calendar apps subscribe to.
pub fn webcal_url(url: &str) -> String {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    format!("webcal://{rest}")
}

/// The UID of a circular's event: the same in every feed and after every edit.
pub fn event_uid(row: &CalendarRow) -> String {
    format!("{}@kairan", row.post.id)
}

fn local(utc: chrono::NaiveDateTime) -> DatePerhapsTime {
    DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone {
        date_time: jst_time(utc),
        tzid: TZID.into(),
    })
}

fn vevent(row: &CalendarRow, base_url: &str) -> Event {
    let event = row.event.checked();
    let mut vevent = Event::new();
    vevent
        .uid(&event_uid(row))
        // Grows with every change, so calendars replace their copy.
        .sequence(
            u32::try_from((row.post.updated_at - row.post.created_at).num_seconds()).unwrap_or(0),
        )
        .summary(&row.post.title)
        .url(&format!("{base_url}/posts/{}", row.post.id))
        .timestamp(row.post.updated_at.and_utc())
        .last_modified(row.post.updated_at.and_utc())
        .status(if row.post.status == PostStatus::Withdrawn {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
    if event.all_day {
        vevent
            .starts(event.first_day())
            .ends(event.last_day() + chrono::Duration::days(1));
    } else {
        vevent.starts(local(event.starts_at));
        if let Some(ends_at) = event.ends_at {
            vevent.ends(local(ends_at));
        }
    }
    if let Some(place) = &event.place {
        vevent.location(place);
    }
    vevent.done()
}

/// The feed's text.
pub fn ics(rows: &[CalendarRow], name: &str, base_url: &str) -> String {
    let mut calendar = Calendar::new();
    calendar.name(name).timezone(TZID);
    for row in rows {
        calendar.push(vevent(row, base_url));
    }
    let text = calendar.done().to_string();
    // The zone goes before the first event (or the end, when there is none).
    let at = text
        .find("BEGIN:VEVENT")
        .or_else(|| text.find("END:VCALENDAR"))
        .unwrap_or(text.len());
    format!("{}{VTIMEZONE}{}", &text[..at], &text[at..])
}
