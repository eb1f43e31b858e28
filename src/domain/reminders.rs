//! How often one member may remind the same households: a cool-down per member and per
//! circular or safety check, so nobody can ring every unconfirmed household's phone again
//! and again.

use chrono::{Duration, NaiveDateTime};

/// Between two reminders by one member for one circular.
pub const POST_REMINDER_COOL_DOWN: Duration = Duration::hours(6);
/// Between two reminders by one member for one safety check: short, since lives may
/// depend on an answer, but not a flood.
pub const SAFETY_REMINDER_COOL_DOWN: Duration = Duration::minutes(10);

/// Whole seconds until another reminder is allowed, if the last one (`last`) is within the
/// cool-down at `now`.
pub fn cool_down_left(
    last: Option<NaiveDateTime>,
    now: NaiveDateTime,
    cool_down: Duration,
) -> Option<u64> {
    let left = (last? + cool_down - now).num_seconds();
    u64::try_from(left).ok().filter(|&s| s > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cool_down_runs_from_the_last_reminder() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let hour = Duration::hours(1);
        assert_eq!(cool_down_left(None, at, hour), None);
        assert_eq!(cool_down_left(Some(at), at, hour), Some(3600));
        assert_eq!(
            cool_down_left(Some(at - Duration::minutes(59)), at, hour),
            Some(60)
        );
        assert_eq!(cool_down_left(Some(at - hour), at, hour), None);
    }
}
