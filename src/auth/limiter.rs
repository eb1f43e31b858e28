//! A per-key sliding-window counter in memory, for attempts that need no durable record
//! (registrations per client address): a restart forgets it, which only loosens a limit.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before stale ones are swept, so a flood of addresses cannot grow it forever.
const SWEEP_AT_KEYS: usize = 10_000;

/// Registrations per client address and hour (finding 5 of the security review: an
/// unlimited register endpoint tells which logins exist).
pub struct RegistrationLimiter(pub AttemptLimiter);

impl RegistrationLimiter {
    pub fn per_hour(max: u32) -> Self {
        Self(AttemptLimiter::new(max, Duration::from_secs(3600)))
    }
}

pub struct AttemptLimiter {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl AttemptLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt for `key`, or answers how many seconds until one is allowed.
    pub fn attempt(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let window = self.window;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= SWEEP_AT_KEYS {
            seen.retain(|_, times| times.back().is_some_and(|t| now - *t < window));
        }
        let times = seen.entry(key.to_string()).or_default();
        while times.front().is_some_and(|t| now - *t >= window) {
            times.pop_front();
        }
        if times.len() >= usize::try_from(self.max).unwrap_or(usize::MAX) {
            let wait = times.front().map_or(window, |t| window - (now - *t));
            return Err(wait.as_secs().max(1));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attempt_over_the_limit_is_refused_per_key() {
        let limiter = AttemptLimiter::new(2, Duration::from_secs(3600));
        assert!(limiter.attempt("a").is_ok());
        assert!(limiter.attempt("a").is_ok());
        let wait = limiter.attempt("a").unwrap_err();
        assert!((3590..=3600).contains(&wait), "{wait}");
        assert!(limiter.attempt("b").is_ok());
    }

    #[test]
    fn attempts_older_than_the_window_no_longer_count() {
        let limiter = AttemptLimiter::new(1, Duration::from_millis(20));
        assert!(limiter.attempt("a").is_ok());
        assert!(limiter.attempt("a").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.attempt("a").is_ok());
    }
}
