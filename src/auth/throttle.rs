//! Counting failures per key (an account, a client IP) in fixed windows.
//!
//! Password throttling must hold however many attempts arrive at once: an attempt reserves its
//! place in the count *before* the password is checked, and gives it back only when it turns
//! out not to be a failure. So at most `limit` passwords are ever checked per key and window,
//! whatever the concurrency. A success forgets the account's failures. governor's keyed
//! limiters offer neither a give-back nor a per-key reset, so this small counter does the job.
//! It is per process: behind a load balancer each instance counts on its own (see the README).

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

    /// Counts one attempt for `key` unless its allowance is used up in the current window; the
    /// attempt stays counted unless [`Throttle::release`]d.
    pub fn reserve(&self, key: &str, now: Instant) -> Result<(), Limited> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = entries.get(key)
            && self.is_current(w, now)
            && w.count >= self.limit
        {
            return Err(Limited {
                limit: self.limit,
                retry_after: self.window.saturating_sub(now - w.started),
            });
        }
        self.count(&mut entries, key, now);
        Ok(())
    }

    /// Gives back one attempt reserved for `key`.
    pub fn release(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = entries.get_mut(key) {
            w.count = w.count.saturating_sub(1);
        }
    }

    /// Counts one event for `key`.
    pub fn hit(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.count(&mut entries, key, now);
    }

    fn count(&self, entries: &mut HashMap<String, Window>, key: &str, now: Instant) {
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

/// Addresses that have logged in to an account, remembered for [`TRUSTED_FOR`]: the per-account
/// limit does not apply to them, so that strangers failing on purpose cannot lock the owner
/// out from the places they usually log in from. (The per-address limit still does.)
pub const TRUSTED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most `account|address` pairs remembered at once (some 10 MB).
const MAX_TRUSTED: usize = 100_000;

/// The password-attempt counters of one process.
pub struct Throttles {
    pub login_failures_per_account: Throttle,
    pub login_failures_per_ip: Throttle,
    pub registrations_per_ip: Throttle,
    /// `account|address` pairs that have logged in successfully, with when.
    trusted: Mutex<HashMap<String, Instant>>,
}

impl Throttles {
    pub fn new(per_account: u32, per_ip: u32, registrations_per_ip: u32) -> Self {
        const MINUTE: Duration = Duration::from_secs(60);
        Self {
            login_failures_per_account: Throttle::new(per_account, MINUTE),
            login_failures_per_ip: Throttle::new(per_ip, MINUTE),
            registrations_per_ip: Throttle::new(registrations_per_ip, 60 * MINUTE),
            trusted: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves one password attempt on `account` from `address` (see the module comment):
    /// refused while either allowance is used up. The attempt counts as a failure unless it is
    /// ended with [`Attempt::succeeded`] or dropped without [`Attempt::failed`] (an error that
    /// was not the caller's, such as a busy server, gives the attempt back).
    pub fn attempt<'t>(
        &'t self,
        account: &str,
        address: &str,
        now: Instant,
    ) -> Result<Attempt<'t>, Limited> {
        let pair = format!("{account}|{address}");
        let trusted = {
            let trusted = self.trusted.lock().unwrap_or_else(|e| e.into_inner());
            trusted
                .get(&pair)
                .is_some_and(|at| now.duration_since(*at) < TRUSTED_FOR)
        };
        self.login_failures_per_ip.reserve(address, now)?;
        if !trusted && let Err(limited) = self.login_failures_per_account.reserve(account, now) {
            self.login_failures_per_ip.release(address);
            return Err(limited);
        }
        Ok(Attempt {
            throttles: self,
            account: account.to_owned(),
            address: address.to_owned(),
            counted_on_account: !trusted,
            ended: false,
        })
    }

    fn remember(&self, pair: String, now: Instant) {
        let mut trusted = self.trusted.lock().unwrap_or_else(|e| e.into_inner());
        if trusted.len() >= SWEEP_ABOVE {
            trusted.retain(|_, at| now.duration_since(*at) < TRUSTED_FOR);
        }
        // Bounded memory: past this many live pairs, forgetting them all only brings the
        // per-account limit back for those addresses, the safe default.
        if trusted.len() >= MAX_TRUSTED {
            trusted.clear();
        }
        trusted.insert(pair, now);
    }
}

/// A reserved password attempt; see [`Throttles::attempt`].
pub struct Attempt<'t> {
    throttles: &'t Throttles,
    account: String,
    address: String,
    counted_on_account: bool,
    ended: bool,
}

impl Attempt<'_> {
    /// The password was right: the account's failures are forgotten, the address's attempt
    /// given back, and the address trusted for this account from now on.
    pub fn succeeded(mut self, now: Instant) {
        self.ended = true;
        let throttles = self.throttles;
        throttles.login_failures_per_account.reset(&self.account);
        throttles.login_failures_per_ip.release(&self.address);
        throttles.remember(format!("{}|{}", self.account, self.address), now);
    }

    /// The password was wrong: the attempt stays counted.
    pub fn failed(mut self) {
        self.ended = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.throttles.login_failures_per_ip.release(&self.address);
            if self.counted_on_account {
                self.throttles
                    .login_failures_per_account
                    .release(&self.account);
            }
        }
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
    fn reservations_count_before_the_outcome_and_can_be_given_back() {
        let throttle = Throttle::new(2, MINUTE);
        let t0 = Instant::now();
        assert!(throttle.reserve("k", t0).is_ok());
        assert!(throttle.reserve("k", t0).is_ok());
        assert!(
            throttle.reserve("k", t0).is_err(),
            "two in flight use the allowance"
        );
        throttle.release("k");
        assert!(
            throttle.reserve("k", t0).is_ok(),
            "a given-back place is free again"
        );
    }

    #[test]
    fn an_address_that_logged_in_is_not_locked_out_by_others_failures() {
        let throttles = Throttles::new(2, 100, 10);
        let t0 = Instant::now();
        throttles.attempt("ada", "home", t0).unwrap().succeeded(t0);
        for _ in 0..2 {
            throttles.attempt("ada", "attacker", t0).unwrap().failed();
        }
        assert!(throttles.attempt("ada", "attacker", t0).is_err());
        assert!(throttles.attempt("ada", "elsewhere", t0).is_err());
        let from_home = throttles.attempt("ada", "home", t0);
        assert!(from_home.is_ok(), "the owner's usual address still gets in");
    }

    #[test]
    fn an_attempt_dropped_without_an_outcome_is_given_back() {
        let throttles = Throttles::new(1, 1, 10);
        let t0 = Instant::now();
        drop(throttles.attempt("ada", "a", t0).unwrap());
        assert!(throttles.attempt("ada", "a", t0).is_ok());
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
