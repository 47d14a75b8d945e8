//! Counting failures per key (an account, a client IP) in fixed windows.
//!
//! Login throttling must be checked before the password is verified, count only failures, and
//! forget an account's failures when it logs in successfully. governor's keyed limiters offer
//! neither a peek nor a per-key reset, so this small counter does the job. It is per process:
//! behind a load balancer each instance counts on its own (see the README).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many keys are kept before stale windows are swept.
const SWEEP_ABOVE: usize = 10_000;

pub struct Throttle {
    limit: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// A refusal: the allowance and how long until it renews.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub limit: u32,
    pub retry_after: Duration,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err` while `key` has used its allowance in the current window.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Limited> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some(w) if self.is_current(w, now) && w.count >= self.limit => Err(Limited {
                limit: self.limit,
                retry_after: self.window.saturating_sub(now - w.started),
            }),
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`.
    pub fn hit(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_ABOVE {
            entries.retain(|_, w| self.is_current(w, now));
        }
        let window = entries.entry(key.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if !self.is_current(window, now) {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        window.count += 1;
    }

    /// Forgets `key`'s events.
    pub fn reset(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }

    fn is_current(&self, window: &Window, now: Instant) -> bool {
        now.duration_since(window.started) < self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_limit_applies_within_a_window_and_renews_after_it() {
        let throttle = Throttle::new(3, MINUTE);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check("k", t0).is_ok());
            throttle.hit("k", t0);
        }
        let limited = throttle
            .check("k", t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(limited.limit, 3);
        assert_eq!(limited.retry_after, Duration::from_secs(40));
        assert!(throttle.check("other", t0).is_ok(), "keys are independent");
        assert!(throttle.check("k", t0 + MINUTE).is_ok(), "a new window");
    }

    #[test]
    fn reset_forgets_a_key() {
        let throttle = Throttle::new(1, MINUTE);
        let t0 = Instant::now();
        throttle.hit("k", t0);
        assert!(throttle.check("k", t0).is_err());
        throttle.reset("k");
        assert!(throttle.check("k", t0).is_ok());
    }

    #[test]
    fn stale_keys_are_swept_when_the_map_is_large() {
        let throttle = Throttle::new(1, MINUTE);
        let t0 = Instant::now();
        for i in 0..SWEEP_ABOVE {
            throttle.hit(&i.to_string(), t0);
        }
        throttle.hit("fresh", t0 + MINUTE);
        assert_eq!(throttle.entries.lock().unwrap().len(), 1);
    }
}
