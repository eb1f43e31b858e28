//! An event (行事) a circular announces: when it starts, maybe when it ends, whether it takes
//! whole days, and where; and the window of days a calendar is asked for. Days are JST days.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::domain::normalize;

/// Japan has no daylight saving time: JST is always UTC+9.
const JST: Duration = Duration::hours(9);
const MAX_PLACE_CHARS: usize = 200;
/// A festival may run a week or two; a year-long "event" is a typo.
const MAX_EVENT_DAYS: i64 = 31;
/// The longest window a calendar is asked for at once.
pub const MAX_WINDOW_DAYS: i64 = 400;

/// An event as its author writes it (times in UTC).
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub starts_at: NaiveDateTime,
    pub ends_at: Option<NaiveDateTime>,
    pub all_day: bool,
    pub place: Option<String>,
}

/// A checked event: it ends after it starts, lasts at most a month, and its place is clean.
/// An all-day event runs over whole JST days, from its start's day to its end's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEvent {
    pub starts_at: NaiveDateTime,
    pub ends_at: Option<NaiveDateTime>,
    pub all_day: bool,
    pub place: Option<String>,
}

/// Why an event was refused, so a form can show it beside the field it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventProblem {
    EndsBeforeStart,
    TooLong,
    PlaceTooLong,
}

impl From<EventProblem> for String {
    fn from(problem: EventProblem) -> String {
        match problem {
            EventProblem::EndsBeforeStart => {
                "event.ends_at must not be before event.starts_at".into()
            }
            EventProblem::TooLong => format!("an event may last at most {MAX_EVENT_DAYS} days"),
            EventProblem::PlaceTooLong => {
                format!("event.place must be at most {MAX_PLACE_CHARS} characters")
            }
        }
    }
}

impl EventDraft {
    pub fn check(self) -> Result<CheckedEvent, EventProblem> {
        if let Some(ends_at) = self.ends_at {
            let ends_before = if self.all_day {
                jst_date(ends_at) < jst_date(self.starts_at)
            } else {
                ends_at < self.starts_at
            };
            if ends_before {
                return Err(EventProblem::EndsBeforeStart);
            }
            if ends_at - self.starts_at > Duration::days(MAX_EVENT_DAYS) {
                return Err(EventProblem::TooLong);
            }
        }
        let place = self.place.map(|p| normalize(&p)).filter(|p| !p.is_empty());
        if place
            .as_ref()
            .is_some_and(|p| p.chars().count() > MAX_PLACE_CHARS)
        {
            return Err(EventProblem::PlaceTooLong);
        }
        Ok(CheckedEvent {
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            all_day: self.all_day,
            place,
        })
    }
}

impl CheckedEvent {
    /// The instant the event is over: its end, the end of its last day when all-day, or its
    /// start when it has no end.
    pub fn over_at(&self) -> NaiveDateTime {
        let last = self.ends_at.unwrap_or(self.starts_at);
        if self.all_day {
            day_start_utc(jst_date(last) + Duration::days(1))
        } else {
            last
        }
    }

    /// The JST day it starts on.
    pub fn first_day(&self) -> NaiveDate {
        jst_date(self.starts_at)
    }

    /// The JST day it ends on (its start's day when it has no end).
    pub fn last_day(&self) -> NaiveDate {
        jst_date(self.ends_at.unwrap_or(self.starts_at))
    }
}

/// The JST calendar day of a UTC instant.
pub fn jst_date(utc: NaiveDateTime) -> NaiveDate {
    (utc + JST).date()
}

/// The JST wall-clock time of a UTC instant.
pub fn jst_time(utc: NaiveDateTime) -> NaiveDateTime {
    utc + JST
}

/// 00:00 JST of a day, in UTC.
pub fn day_start_utc(day: NaiveDate) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).unwrap_or_default() - JST
}

/// The days a calendar is asked for, first and last included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarWindow {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl CalendarWindow {
    /// `from` and `to` as `YYYY-MM-DD` (JST days, both included); from today for 31 days
    /// when absent.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Result<Self, String> {
        let day = |text: &str, name: &str| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("{name} must be a day such as 2026-12-06"))
        };
        let first = from.map(|f| day(f, "from")).transpose()?.unwrap_or(today);
        let last = match to {
            Some(t) => day(t, "to")?,
            None => first + Duration::days(30),
        };
        if last < first {
            return Err("to must not be before from".into());
        }
        if (last - first).num_days() >= MAX_WINDOW_DAYS {
            return Err(format!("a calendar spans at most {MAX_WINDOW_DAYS} days"));
        }
        Ok(Self { first, last })
    }

    /// The window as UTC instants: from 00:00 JST of the first day to 00:00 JST after the last.
    pub fn utc_bounds(&self) -> (NaiveDateTime, NaiveDateTime) {
        (
            day_start_utc(self.first),
            day_start_utc(self.last + Duration::days(1)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn draft(starts: &str, ends: Option<&str>, all_day: bool) -> EventDraft {
        EventDraft {
            starts_at: utc(starts),
            ends_at: ends.map(utc),
            all_day,
            place: Some("  公民館  ".into()),
        }
    }

    #[test]
    fn an_event_ending_before_it_starts_is_refused() {
        assert!(
            draft("2026-12-06 00:00", Some("2026-12-05 23:59"), false)
                .check()
                .is_err()
        );
        let ok = draft("2026-12-06 00:00", Some("2026-12-06 02:00"), false)
            .check()
            .unwrap();
        assert_eq!(ok.place.as_deref(), Some("公民館"));
        assert!(
            draft("2026-12-06 00:00", Some("2027-02-06 00:00"), false)
                .check()
                .is_err()
        );
    }

    #[test]
    fn an_all_day_event_runs_over_whole_jst_days() {
        // 2026-12-06 00:00 JST is 2026-12-05 15:00 UTC.
        let event = draft("2026-12-05 15:00", Some("2026-12-06 15:00"), true)
            .check()
            .unwrap();
        assert_eq!(event.first_day().to_string(), "2026-12-06");
        assert_eq!(event.last_day().to_string(), "2026-12-07");
        assert_eq!(event.over_at(), utc("2026-12-07 15:00"));
        // On the same JST day, an end earlier in that day is still the same day.
        assert!(
            draft("2026-12-05 16:00", Some("2026-12-05 15:30"), true)
                .check()
                .is_ok()
        );
    }

    #[test]
    fn a_window_is_parsed_as_jst_days() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let w = CalendarWindow::parse(None, None, today).unwrap();
        assert_eq!(
            (w.first, w.last.to_string().as_str()),
            (today, "2027-01-02")
        );
        let w = CalendarWindow::parse(Some("2026-12-01"), Some("2026-12-31"), today).unwrap();
        assert_eq!(
            w.utc_bounds(),
            (utc("2026-11-30 15:00"), utc("2026-12-31 15:00"))
        );
        for (from, to) in [
            (Some("2026-12-31"), Some("2026-12-01")),
            (Some("12/01"), None),
            (Some("2026-01-01"), Some("2028-01-01")),
        ] {
            assert!(CalendarWindow::parse(from, to, today).is_err(), "{from:?}");
        }
    }
}
