//! The current time as the application stores it.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to microseconds: PostgreSQL keeps no finer, so a value returned when a row
/// is written equals the value read back later, on either backend.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    #[test]
    fn now_has_whole_microseconds() {
        assert_eq!(super::now().nanosecond() % 1_000, 0);
    }
}
