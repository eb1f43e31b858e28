//! Fails requests at once while the database is known to be gone, instead of letting each
//! one wait out the pool and lock timeouts, and lets one request through now and then to
//! find out whether it is back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often, during an outage, one request goes through to try the database.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

pub struct Breaker {
    epoch: Instant,
    /// 0 while the database is fine; otherwise when (ms after `epoch`, at least 1) the next
    /// probe may go.
    next_probe_ms: AtomicU64,
}

/// Whether a request may use the database, and in which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The database is fine as far as anyone knows.
    Normal,
    /// The database was gone; this request finds out whether it is back.
    Probe,
    /// The database is gone; answer 503 without trying.
    Refused,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            next_probe_ms: AtomicU64::new(0),
        }
    }
}

impl Breaker {
    pub fn admit(&self) -> Admission {
        let next = self.next_probe_ms.load(Ordering::Acquire);
        if next == 0 {
            return Admission::Normal;
        }
        let now = self.now_ms();
        let won = now >= next
            && self
                .next_probe_ms
                .compare_exchange(
                    next,
                    self.later_ms(now),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok();
        if won {
            Admission::Probe
        } else {
            Admission::Refused
        }
    }

    /// Normal requests already past `admit` when another one found the database gone.
    pub fn is_open(&self) -> bool {
        self.next_probe_ms.load(Ordering::Acquire) != 0
    }

    pub fn trip(&self) {
        if !self.is_open() {
            tracing::warn!("database unavailable; failing requests fast until it answers");
        }
        self.next_probe_ms
            .store(self.later_ms(self.now_ms()), Ordering::Release);
    }

    pub fn reset(&self) {
        if self.next_probe_ms.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("database available again");
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn later_ms(&self, now_ms: u64) -> u64 {
        let interval = u64::try_from(PROBE_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        now_ms.saturating_add(interval).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tripped_breaker_refuses_then_lets_one_probe_through() {
        let breaker = Breaker::default();
        assert_eq!(breaker.admit(), Admission::Normal);
        breaker.trip();
        assert_eq!(breaker.admit(), Admission::Refused);
        std::thread::sleep(PROBE_INTERVAL + Duration::from_millis(20));
        assert_eq!(breaker.admit(), Admission::Probe);
        assert_eq!(breaker.admit(), Admission::Refused);
        breaker.reset();
        assert_eq!(breaker.admit(), Admission::Normal);
    }
}
