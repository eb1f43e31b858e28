//! The 行事 (event) fields of the compose page: a day and times in Japan time, or whole
//! days, and a place, read into the `EventDraft` that `POST /api/v1/posts` takes as `event`.
//! A mistake is named with the field it belongs beside, so the page can show it there.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;

use crate::db::models::PostEvent;
use crate::domain::event::{
    CheckedEvent, EventDraft, EventProblem, day_start_utc, jst_date, jst_time,
};

#[derive(Default, Deserialize)]
pub struct EventFields {
    #[serde(default)]
    pub event_start_date: String,
    #[serde(default)]
    pub event_start_time: String,
    #[serde(default)]
    pub event_end_date: String,
    #[serde(default)]
    pub event_end_time: String,
    pub event_all_day: Option<String>,
    #[serde(default)]
    pub event_place: String,
}

/// The field a mistake is shown beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventField {
    StartDate,
    StartTime,
    End,
    Place,
}

/// A mistake in the event fields: where, and the text key saying what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMistake {
    pub field: EventField,
    pub key: &'static str,
}

fn mistake(field: EventField, key: &'static str) -> EventMistake {
    EventMistake { field, key }
}

/// `2026-12-06` (what `<input type="date">` sends, and what people type without it).
fn day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// `10:00` or `10:00:00` (browsers send seconds when a step asks for them).
fn time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .ok()
}

/// A Japan-time day and time as UTC.
fn utc(day: NaiveDate, time: NaiveTime) -> NaiveDateTime {
    day_start_utc(day) + time.signed_duration_since(NaiveTime::MIN)
}

fn filled(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

impl EventFields {
    /// The fields of a stored event, in Japan time, as the form would send them.
    pub fn of(event: &PostEvent) -> Self {
        let day = |at: NaiveDateTime| jst_date(at).format("%Y-%m-%d").to_string();
        let clock = |at: NaiveDateTime| jst_time(at).format("%H:%M").to_string();
        let timed = |at: NaiveDateTime| match event.all_day {
            true => String::new(),
            false => clock(at),
        };
        Self {
            event_start_date: day(event.starts_at),
            event_start_time: timed(event.starts_at),
            event_end_date: event.ends_at.map(day).unwrap_or_default(),
            event_end_time: event.ends_at.map(timed).unwrap_or_default(),
            event_all_day: event.all_day.then(|| "on".into()),
            event_place: event.place.clone().unwrap_or_default(),
        }
    }

    pub fn all_day(&self) -> bool {
        self.event_all_day.is_some()
    }

    fn is_blank(&self) -> bool {
        [
            &self.event_start_date,
            &self.event_start_time,
            &self.event_end_date,
            &self.event_end_time,
            &self.event_place,
        ]
        .iter()
        .all(|f| f.trim().is_empty())
            && !self.all_day()
    }

    /// The event the fields describe (None when all are empty), checked by the event's
    /// own rule so its refusal lands beside the right field.
    pub fn read(&self) -> Result<Option<EventDraft>, EventMistake> {
        use EventField::*;
        if self.is_blank() {
            return Ok(None);
        }
        let start_day = match filled(&self.event_start_date) {
            None => return Err(mistake(StartDate, "event.need_date")),
            Some(text) => day(text).ok_or(mistake(StartDate, "event.bad_date"))?,
        };
        let end_day = filled(&self.event_end_date)
            .map(|text| day(text).ok_or(mistake(End, "event.bad_date")))
            .transpose()?;
        let (starts_at, ends_at) = if self.all_day() {
            (day_start_utc(start_day), end_day.map(day_start_utc))
        } else {
            let start_time = match filled(&self.event_start_time) {
                None => return Err(mistake(StartTime, "event.need_time")),
                Some(text) => time(text).ok_or(mistake(StartTime, "event.bad_time"))?,
            };
            let end_time = filled(&self.event_end_time)
                .map(|text| time(text).ok_or(mistake(End, "event.bad_time")))
                .transpose()?;
            let ends_at = match (end_day, end_time) {
                (day, Some(time)) => Some(utc(day.unwrap_or(start_day), time)),
                (Some(_), None) => return Err(mistake(End, "event.need_end_time")),
                (None, None) => None,
            };
            (utc(start_day, start_time), ends_at)
        };
        let draft = EventDraft {
            starts_at,
            ends_at,
            all_day: self.all_day(),
            place: filled(&self.event_place).map(str::to_string),
        };
        draft.clone().check().map_err(mistake_of)?;
        Ok(Some(draft))
    }

    /// The event checked, as an edit stores it (the draft page).
    pub fn read_checked(&self) -> Result<Option<CheckedEvent>, EventMistake> {
        self.read()?
            .map(|draft| draft.check().map_err(mistake_of))
            .transpose()
    }
}

/// The field the event's own rule refuses, and what it says.
fn mistake_of(problem: EventProblem) -> EventMistake {
    use EventField::*;
    match problem {
        EventProblem::EndsBeforeStart => mistake(End, "event.ends_before_start"),
        EventProblem::TooLong => mistake(End, "event.too_long"),
        EventProblem::PlaceTooLong => mistake(Place, "event.place_too_long"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(start: (&str, &str), end: (&str, &str), all_day: bool) -> EventFields {
        EventFields {
            event_start_date: start.0.into(),
            event_start_time: start.1.into(),
            event_end_date: end.0.into(),
            event_end_time: end.1.into(),
            event_all_day: all_day.then(|| "on".into()),
            event_place: " 公民館 ".into(),
        }
    }

    #[test]
    fn japan_times_become_utc_and_mistakes_name_their_field() {
        let event = fields(("2026-12-06", "10:00"), ("", "12:00"), false)
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(event.starts_at.to_string(), "2026-12-06 01:00:00");
        assert_eq!(event.ends_at.unwrap().to_string(), "2026-12-06 03:00:00");
        let whole = fields(("2026-12-06", "09:00"), ("2026-12-07", ""), true)
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(whole.starts_at.to_string(), "2026-12-05 15:00:00");
        let field = |f: EventFields| f.read().unwrap_err().field;
        let before = fields(("2026-12-06", "10:00"), ("", "09:00"), false);
        assert_eq!(before.read().unwrap_err().key, "event.ends_before_start");
        assert_eq!(
            field(fields(("", "10:00"), ("", ""), false)),
            EventField::StartDate
        );
        assert_eq!(
            field(fields(("12/6", ""), ("", ""), true)),
            EventField::StartDate
        );
        assert_eq!(
            field(fields(("2026-12-06", ""), ("", ""), false)),
            EventField::StartTime
        );
        assert_eq!(
            field(fields(("2026-12-06", "10:00"), ("2026-12-06", ""), false)),
            EventField::End
        );
        assert!(EventFields::default().read().unwrap().is_none());
    }
}
