//! An event's day-before reminder, worded when it is sent (like a mail): in each member's
//! language, from the event as it is then. Push notifications get their payload here;
//! mails are written by `mail_text` with the same lines.

use std::collections::HashMap;

use crate::db::Db;
use crate::db::models::PostEvent;
use crate::db::queries::event_reminders::{KIND, reminded_events, subscription_languages};
use crate::db::queries::outbox::Delivery;
use crate::domain::Language;
use crate::domain::event::jst_time;
use crate::error::ApiError;
use crate::web::i18n::{format, text};

/// When the event takes place, in Japan time: `2026-12-06 10:00`, `2026-12-06 10:00–12:00`,
/// or its days with "all day".
pub fn when(language: Language, event: &PostEvent) -> String {
    let start = jst_time(event.starts_at);
    let end = event.ends_at.map(jst_time);
    if event.all_day {
        let first = start.format("%Y-%m-%d").to_string();
        let days = match end.map(|e| e.date()).filter(|d| *d != start.date()) {
            Some(last) => format!("{first}–{}", last.format("%Y-%m-%d")),
            None => first,
        };
        return format!("{days} ({})", text(language, "event_reminder.all_day"));
    }
    let mut when = start.format("%Y-%m-%d %H:%M").to_string();
    match end {
        Some(end) if end.date() == start.date() => when.push_str(&end.format("–%H:%M").to_string()),
        Some(end) => when.push_str(&end.format(" – %Y-%m-%d %H:%M").to_string()),
        None => {}
    }
    when
}

/// The reminder's lines under its title: when, and where if known.
pub fn details(language: Language, event: &PostEvent) -> Vec<String> {
    let mut lines = vec![format(
        language,
        "event_reminder.when",
        "when",
        &when(language, event),
    )];
    if let Some(place) = &event.place {
        lines.push(format(language, "event_reminder.place", "place", place));
    }
    lines
}

fn push_payload(language: Language, title: &str, event: &PostEvent) -> String {
    serde_json::json!({
        "type": KIND,
        "post_id": event.post_id,
        "title": format(language, "event_reminder.subject", "title", title),
        "body": details(language, event).join("\n"),
        "url": format!("/posts/{}", event.post_id.as_str()),
    })
    .to_string()
}

/// Writes the payload of each event reminder in the batch for its member; other deliveries
/// pass unchanged. A reminder whose event is gone keeps its stored payload (the title).
pub async fn word_pushes(db: &Db, mut batch: Vec<Delivery>) -> Result<Vec<Delivery>, ApiError> {
    let reminders: Vec<&Delivery> = batch.iter().filter(|d| d.kind == KIND).collect();
    if reminders.is_empty() {
        return Ok(batch);
    }
    let subscriptions: Vec<_> = reminders
        .iter()
        .map(|d| d.subscription_id.clone())
        .collect();
    let posts: Vec<_> = reminders.iter().filter_map(|d| d.post_id.clone()).collect();
    let (languages, events) = db
        .run(move |conn| {
            Ok((
                subscription_languages(conn, &subscriptions)?,
                reminded_events(conn, &posts)?,
            ))
        })
        .await?;
    for delivery in batch.iter_mut().filter(|d| d.kind == KIND) {
        let language = languages
            .get(&delivery.subscription_id)
            .and_then(|l| l.parse().ok())
            .unwrap_or(Language::Ja);
        if let Some((title, event)) = delivery.post_id.as_ref().and_then(|p| events.get(p)) {
            delivery.payload = push_payload(language, title, event);
        }
    }
    Ok(batch)
}

/// The events a batch of mails reminds of, by post.
pub type RemindedEvents = HashMap<crate::domain::PostId, (String, PostEvent)>;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn event(starts: &str, ends: Option<&str>, all_day: bool) -> PostEvent {
        let utc = |t: &str| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M").unwrap();
        PostEvent {
            post_id: crate::domain::PostId("p".into()),
            starts_at: utc(starts),
            ends_at: ends.map(utc),
            all_day,
            place: Some("公民館".into()),
        }
    }

    #[test]
    fn times_are_written_in_japan_time() {
        // 01:00 UTC is 10:00 JST.
        let e = event("2026-12-06 01:00", Some("2026-12-06 03:00"), false);
        assert_eq!(when(Language::En, &e), "2026-12-06 10:00–12:00");
        let e = event("2026-12-05 15:00", Some("2026-12-06 15:00"), true);
        assert_eq!(when(Language::En, &e), "2026-12-06–2026-12-07 (all day)");
        assert_eq!(
            details(Language::Ja, &e),
            vec![
                "日時: 2026-12-06–2026-12-07 (終日)".to_string(),
                "場所: 公民館".to_string()
            ]
        );
    }
}
