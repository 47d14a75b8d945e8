//! The current time as the application stores it and reasons about it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to microseconds: PostgreSQL keeps no finer, so a value returned when a row
/// is written equals the value read back later, on either backend.
///
/// Credentials (access tokens, refresh tokens, idempotency keys) expire by this wall clock,
/// because the parties that check them compare with it.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The first instant after `at` that a stored instant can hold: stored instants are whole
/// microseconds (see [`now`]), so `instant < just_after(at)` is `instant <= at`, and a range
/// bounded so needs no second upper bound.
pub fn just_after(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6) + chrono::Duration::microseconds(1)
}

/// The time the application stamps records with and judges relationships by ("today", "due",
/// "cold"). The server runs on the system clock; tests pin it so that no rule depends on the
/// day they run, and move it instead of sleeping.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Microseconds since the epoch when pinned.
    pinned: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn pinned(at: DateTime<Utc>) -> Self {
        Self {
            pinned: Some(Arc::new(AtomicI64::new(at.timestamp_micros()))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.pinned {
            None => now(),
            Some(micros) => DateTime::from_timestamp_micros(micros.load(Ordering::SeqCst))
                .unwrap_or(DateTime::UNIX_EPOCH),
        }
    }

    /// Moves a pinned clock to `at` (every copy of it moves); a system clock cannot be set.
    pub fn set(&self, at: DateTime<Utc>) {
        match &self.pinned {
            Some(micros) => micros.store(at.timestamp_micros(), Ordering::SeqCst),
            None => panic!("the system clock cannot be set"),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Timelike};

    use super::*;

    #[test]
    fn now_has_whole_microseconds() {
        assert_eq!(super::now().nanosecond() % 1_000, 0);
        assert_eq!(Clock::system().now().nanosecond() % 1_000, 0);
    }

    #[test]
    fn a_pinned_clock_stands_still_until_set_and_its_copies_follow() {
        let at = DateTime::parse_from_rfc3339("2026-03-04T12:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Clock::pinned(at);
        let copy = clock.clone();
        assert_eq!(clock.now(), at);
        clock.set(at + Duration::days(3));
        assert_eq!(copy.now(), at + Duration::days(3));
    }
}
