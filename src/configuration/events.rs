//! Settings of events (行事): the day-before reminder (config/default.toml explains each).

use chrono::NaiveTime;
use serde::Deserialize;
use serde_aux::field_attributes::deserialize_number_from_string;

use super::deserialize::deserialize_bool_from_string;

#[derive(Debug, Clone, Deserialize)]
pub struct EventSettings {
    /// `HH:MM`, Japan time, the day before an event.
    pub reminder_time: String,
    #[serde(deserialize_with = "deserialize_number_from_string")]
    pub reminder_interval_secs: u64,
    #[serde(deserialize_with = "deserialize_bool_from_string")]
    pub worker: bool,
}

impl EventSettings {
    /// The time of day reminders go out (checked at start-up; 18:00 if it were not).
    pub fn reminder_time(&self) -> NaiveTime {
        parse_time(&self.reminder_time).unwrap_or(NaiveTime::MIN + chrono::Duration::hours(18))
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if parse_time(&self.reminder_time).is_none() {
            problems.push(format!(
                "events.reminder_time (KAIRAN_EVENTS__REMINDER_TIME) is '{}'; expected a time of day such as 18:00",
                self.reminder_time
            ));
        }
        if !(1..=3600).contains(&self.reminder_interval_secs) {
            problems.push("events.reminder_interval_secs must be between 1 and 3600".into());
        }
        problems
    }
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminder_times_are_hours_and_minutes() {
        assert_eq!(parse_time("07:30"), NaiveTime::from_hms_opt(7, 30, 0));
        assert_eq!(parse_time(" 18:00 "), NaiveTime::from_hms_opt(18, 0, 0));
        assert_eq!(parse_time("24:00"), None);
        assert_eq!(parse_time("6pm"), None);
    }
}
