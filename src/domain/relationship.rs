//! Keep-in-touch health, give/ask balance and one-off contacts: the state every contact
//! response carries, derived from its history and today's date in the user's time zone.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Without a cadence, a lone conversation older than this makes a contact a one-off.
pub const ONE_OFF_DAYS_WITHOUT_CADENCE: i64 = 30;

/// The longest keep-in-touch interval a contact may have, in days.
pub const MAX_CADENCE_DAYS: i32 = 730;

/// The user's calendar: today's date in their time zone.
#[derive(Clone, Copy, Debug)]
pub struct Today {
    pub now: DateTime<Utc>,
    pub zone: Tz,
}

impl Today {
    pub fn new(now: DateTime<Utc>, zone_name: &str) -> Self {
        // Stored names were validated on the way in; UTC only guards a hand-edited row.
        let zone = zone_name.parse().unwrap_or(chrono_tz::UTC);
        Self { now, zone }
    }

    /// The local date of `at` in the user's time zone.
    pub fn date_of(&self, at: DateTime<Utc>) -> NaiveDate {
        local_date(at, self.zone)
    }

    pub fn date(&self) -> NaiveDate {
        self.date_of(self.now)
    }
}

/// The date on a wall calendar in `zone` at the instant `at`.
pub fn local_date(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// The first instant of `date` on a wall calendar in `zone`: its midnight, or the first hour
/// after it when a clock change skips midnight.
pub fn start_of_day(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    use chrono::TimeZone;

    let mut local = date.and_time(chrono::NaiveTime::MIN);
    for _ in 0..3 {
        if let Some(at) = zone.from_local_datetime(&local).earliest() {
            return at.to_utc();
        }
        local += chrono::Duration::hours(1);
    }
    local.and_utc()
}

/// `date` plus `days` (saturating at the end of the calendar).
pub fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    }
    .unwrap_or(date)
}

/// What the stored records say about one contact, counted by the database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Past conversations they took part in.
    pub conversation_count: i64,
    pub first_conversation_at: Option<DateTime<Utc>>,
    pub last_conversation_at: Option<DateTime<Utc>>,
    /// Past conversations with them whose thank-you is `owed`.
    pub thank_yous_owed: i64,
    /// Offers to them that are `offered` or `acknowledged`.
    pub gives: i64,
    /// Asks of them that are `asked` or `granted`.
    pub asks: i64,
    /// Their first planned conversation: from then on, this history is out of date.
    pub next_planned_at: Option<DateTime<Utc>>,
}

/// What the contact row stores of its relationship, so lists filter and sort on it with
/// indexes: the history as of its last refresh, and the local dates on which the rules that
/// depend on today change their answer. Kept exact by every write that changes an input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    pub history: History,
    /// `gives` − `asks`.
    pub balance: i64,
    pub next_check_in_on: Option<NaiveDate>,
    /// The first day of `cold` health: `next_check_in_on` plus the due window plus one.
    pub cold_on: Option<NaiveDate>,
    /// The first day the contact is a one-off; none unless exactly one past conversation.
    pub one_off_on: Option<NaiveDate>,
    /// The suggestion points that do not depend on the date (`suggestions::base_points`).
    pub suggestion_base: i64,
}

impl Ledger {
    /// The ledger of a contact with `history`, `cadence_days` and `created_at`, for an owner
    /// in `zone`. Depends on the clock only through `history` (which conversations are past).
    pub fn of(
        history: History,
        cadence_days: Option<i32>,
        created_at: DateTime<Utc>,
        zone: Tz,
    ) -> Self {
        let last_on = history.last_conversation_at.map(|at| local_date(at, zone));
        let since = last_on.unwrap_or_else(|| local_date(created_at, zone));
        let next = next_check_in_on(since, cadence_days);
        let cold_on = next
            .zip(cadence_days)
            .map(|(next, cadence)| add_days(next, due_window(cadence) + 1));
        let window = cadence_days.map_or(ONE_OFF_DAYS_WITHOUT_CADENCE, i64::from);
        let one_off_on = match last_on {
            Some(last) if history.conversation_count == 1 => Some(add_days(last, window + 1)),
            _ => None,
        };
        let balance = history.gives - history.asks;
        Self {
            suggestion_base: super::suggestions::base_points(history.thank_yous_owed, balance),
            balance,
            history,
            next_check_in_on: next,
            cold_on,
            one_off_on,
        }
    }

    /// True when the stored history no longer holds at `now`: a planned conversation has
    /// become past, or (the clock set back) the last past one is in the future.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.history.next_planned_at.is_some_and(|at| at <= now)
            || self.history.last_conversation_at.is_some_and(|at| at > now)
    }
}

/// Where keeping in touch stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = KeepInTouchHealth)]
pub enum Health {
    /// No cadence is set.
    None,
    /// Before `next_check_in_on`.
    Ok,
    /// From `next_check_in_on` for half a cadence (rounded up).
    Due,
    /// After that.
    Cold,
}

/// Which way value flows: `gives` − `asks` above, at or below zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reciprocity {
    Giving,
    Balanced,
    Taking,
}

/// The relationship with a contact as of today. Read-only: derived from conversations,
/// value offers and asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({
    "conversation_count": 3, "first_conversation_at": "2026-01-12T08:30:00Z",
    "last_conversation_at": "2026-02-20T17:00:00Z", "next_check_in_on": "2026-04-21",
    "health": "ok", "gives": 2, "asks": 1, "balance": 1, "reciprocity": "giving",
    "thank_yous_owed": 0, "one_off": false
}))]
pub struct Relationship {
    /// Past conversations with them.
    pub conversation_count: i64,
    pub first_conversation_at: Option<DateTime<Utc>>,
    pub last_conversation_at: Option<DateTime<Utc>>,
    /// Local date of the last conversation (or of the contact's creation when there is none)
    /// plus `cadence_days`; null without a cadence.
    pub next_check_in_on: Option<NaiveDate>,
    pub health: Health,
    /// Offers `offered` or `acknowledged`.
    pub gives: i64,
    /// Asks `asked` or `granted`.
    pub asks: i64,
    /// `gives` − `asks`.
    pub balance: i64,
    pub reciprocity: Reciprocity,
    /// Past conversations with them whose thank-you is still `owed`.
    pub thank_yous_owed: i64,
    /// Exactly one past conversation, older than `cadence_days` (30 days without a cadence).
    pub one_off: bool,
}

/// The date a check-in falls due: `since` plus the cadence; none without a cadence.
pub fn next_check_in_on(since: NaiveDate, cadence_days: Option<i32>) -> Option<NaiveDate> {
    cadence_days.map(|days| add_days(since, i64::from(days)))
}

/// How many days a check-in stays `due` before it is `cold`: half the cadence, rounded up.
pub fn due_window(cadence_days: i32) -> i64 {
    (i64::from(cadence_days) + 1) / 2
}

pub fn health(
    next_check_in_on: Option<NaiveDate>,
    cadence_days: Option<i32>,
    today: NaiveDate,
) -> Health {
    match (next_check_in_on, cadence_days) {
        (Some(next), Some(cadence)) => {
            if today < next {
                Health::Ok
            } else if today <= add_days(next, due_window(cadence)) {
                Health::Due
            } else {
                Health::Cold
            }
        }
        _ => Health::None,
    }
}

pub fn reciprocity(balance: i64) -> Reciprocity {
    match balance.signum() {
        1 => Reciprocity::Giving,
        0 => Reciprocity::Balanced,
        _ => Reciprocity::Taking,
    }
}

/// Exactly one past conversation, on a date more than the cadence (or 30 days) before today.
pub fn one_off(
    conversation_count: i64,
    last_conversation_on: Option<NaiveDate>,
    cadence_days: Option<i32>,
    today: NaiveDate,
) -> bool {
    let window = cadence_days.map_or(ONE_OFF_DAYS_WITHOUT_CADENCE, i64::from);
    match last_conversation_on {
        Some(last) if conversation_count == 1 => (today - last).num_days() > window,
        _ => false,
    }
}

/// The relationship with a contact created at `created_at` with `cadence_days`, given its
/// history, as of `today`.
pub fn derive(
    history: &History,
    cadence_days: Option<i32>,
    created_at: DateTime<Utc>,
    today: &Today,
) -> Relationship {
    let date = today.date();
    let last_on = history.last_conversation_at.map(|at| today.date_of(at));
    let since = last_on.unwrap_or_else(|| today.date_of(created_at));
    let next = next_check_in_on(since, cadence_days);
    let balance = history.gives - history.asks;
    Relationship {
        conversation_count: history.conversation_count,
        first_conversation_at: history.first_conversation_at,
        last_conversation_at: history.last_conversation_at,
        next_check_in_on: next,
        health: health(next, cadence_days, date),
        gives: history.gives,
        asks: history.asks,
        balance,
        reciprocity: reciprocity(balance),
        thank_yous_owed: history.thank_yous_owed,
        one_off: one_off(history.conversation_count, last_on, cadence_days, date),
    }
}

impl Relationship {
    /// Days past `next_check_in_on`; 0 when not yet due or without a cadence.
    pub fn overdue_days(&self, today: NaiveDate) -> i64 {
        self.next_check_in_on
            .map_or(0, |next| (today - next).num_days().max(0))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_check_in_is_ok_then_due_for_half_a_cadence_rounded_up_then_cold() {
        let next = Some(date("2026-03-10"));
        let cadence = Some(7); // due for ceil(7 / 2) = 4 days
        assert_eq!(health(next, cadence, date("2026-03-09")), Health::Ok);
        assert_eq!(health(next, cadence, date("2026-03-10")), Health::Due);
        assert_eq!(health(next, cadence, date("2026-03-14")), Health::Due);
        assert_eq!(health(next, cadence, date("2026-03-15")), Health::Cold);
        assert_eq!(due_window(1), 1);
        assert_eq!(due_window(30), 15);
        assert_eq!(health(None, None, date("2026-03-15")), Health::None);
    }

    #[test]
    fn next_check_in_counts_from_the_last_conversation_or_else_from_creation() {
        let today = Today::new(at("2026-03-04T12:00:00Z"), "UTC");
        let created = at("2026-01-01T09:00:00Z");
        let never = derive(&History::default(), Some(30), created, &today);
        assert_eq!(never.next_check_in_on, Some(date("2026-01-31")));
        assert_eq!(never.health, Health::Cold);
        let talked = History {
            conversation_count: 2,
            last_conversation_at: Some(at("2026-02-20T10:00:00Z")),
            ..History::default()
        };
        let r = derive(&talked, Some(30), created, &today);
        assert_eq!(r.next_check_in_on, Some(date("2026-03-22")));
        assert_eq!(r.health, Health::Ok);
        let none = derive(&talked, None, created, &today);
        assert_eq!((none.next_check_in_on, none.health), (None, Health::None));
    }

    #[test]
    fn the_local_date_of_the_last_conversation_is_the_users() {
        // 23:30 on 1 March in Los Angeles is already 2 March in UTC.
        let last = at("2026-03-02T07:30:00Z");
        let history = History {
            conversation_count: 2,
            last_conversation_at: Some(last),
            ..History::default()
        };
        let created = at("2026-01-01T00:00:00Z");
        let la = Today::new(at("2026-03-04T12:00:00Z"), "America/Los_Angeles");
        let utc = Today::new(at("2026-03-04T12:00:00Z"), "UTC");
        assert_eq!(
            derive(&history, Some(1), created, &la).next_check_in_on,
            Some(date("2026-03-02"))
        );
        assert_eq!(
            derive(&history, Some(1), created, &utc).next_check_in_on,
            Some(date("2026-03-03"))
        );
    }

    #[test]
    fn a_check_in_across_a_dst_change_stays_on_its_calendar_date() {
        // Europe/Berlin springs forward on 29 March 2026: 30 days after 1 March 00:30 local
        // is 31 March, whatever the 23-hour day in between.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let last = berlin
            .with_ymd_and_hms(2026, 3, 1, 0, 30, 0)
            .unwrap()
            .to_utc();
        assert_eq!(last, at("2026-02-28T23:30:00Z"));
        let history = History {
            conversation_count: 2,
            last_conversation_at: Some(last),
            ..History::default()
        };
        let just_before = berlin
            .with_ymd_and_hms(2026, 3, 30, 23, 59, 0)
            .unwrap()
            .to_utc();
        let on_the_day = berlin
            .with_ymd_and_hms(2026, 3, 31, 0, 0, 0)
            .unwrap()
            .to_utc();
        let created = at("2026-01-01T00:00:00Z");
        let r = derive(
            &history,
            Some(30),
            created,
            &Today::new(just_before, "Europe/Berlin"),
        );
        assert_eq!(r.next_check_in_on, Some(date("2026-03-31")));
        assert_eq!(r.health, Health::Ok);
        let r = derive(
            &history,
            Some(30),
            created,
            &Today::new(on_the_day, "Europe/Berlin"),
        );
        assert_eq!(r.health, Health::Due);
    }

    #[test]
    fn a_day_starts_at_local_midnight_or_after_a_skipped_one() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            start_of_day(date("2026-03-29"), berlin),
            at("2026-03-28T23:00:00Z")
        );
        assert_eq!(
            start_of_day(date("2026-03-30"), berlin),
            at("2026-03-29T22:00:00Z")
        );
        // Santiago springs forward at midnight: 6 September 2026 begins at 01:00.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let first = start_of_day(date("2026-09-06"), santiago);
        assert_eq!(local_date(first, santiago), date("2026-09-06"));
        assert_eq!(
            local_date(first - chrono::Duration::seconds(1), santiago),
            date("2026-09-05")
        );
    }

    #[test]
    fn balance_and_reciprocity_follow_gives_minus_asks() {
        let today = Today::new(at("2026-03-04T12:00:00Z"), "UTC");
        let created = at("2026-01-01T00:00:00Z");
        let mut history = History {
            gives: 1,
            asks: 1,
            ..History::default()
        };
        let r = derive(&history, None, created, &today);
        assert_eq!((r.balance, r.reciprocity), (0, Reciprocity::Balanced));
        // The offer is declined: it no longer counts as given.
        history.gives = 0;
        let r = derive(&history, None, created, &today);
        assert_eq!((r.balance, r.reciprocity), (-1, Reciprocity::Taking));
        history.gives = 3;
        let r = derive(&history, None, created, &today);
        assert_eq!((r.balance, r.reciprocity), (2, Reciprocity::Giving));
    }

    #[test]
    fn a_single_conversation_becomes_one_off_the_day_after_the_window() {
        let last = Some(date("2026-02-01"));
        assert!(!one_off(1, last, Some(10), date("2026-02-11")));
        assert!(one_off(1, last, Some(10), date("2026-02-12")));
        assert!(!one_off(1, last, None, date("2026-03-03")));
        assert!(one_off(1, last, None, date("2026-03-04")));
        assert!(!one_off(2, last, None, date("2026-06-01")));
        assert!(!one_off(0, None, None, date("2026-06-01")));
    }

    #[test]
    fn the_stored_dates_give_the_health_and_one_off_that_derive_gives() {
        let created = at("2025-12-20T09:00:00Z");
        let zone: Tz = "America/Los_Angeles".parse().unwrap();
        for cadence in [None, Some(1), Some(2), Some(7), Some(30)] {
            for count in [0, 1, 2] {
                let history = History {
                    conversation_count: count,
                    last_conversation_at: (count > 0).then(|| at("2026-01-02T07:30:00Z")),
                    gives: 2,
                    asks: 3,
                    ..History::default()
                };
                let ledger = Ledger::of(history.clone(), cadence, created, zone);
                assert_eq!(ledger.balance, -1);
                for day in 0..80 {
                    let now = at("2026-01-01T20:00:00Z") + chrono::Duration::days(day);
                    let today = Today { now, zone };
                    let r = derive(&history, cadence, created, &today);
                    let date = today.date();
                    let health = match (ledger.next_check_in_on, ledger.cold_on) {
                        (Some(_), Some(cold)) if date >= cold => Health::Cold,
                        (Some(next), Some(_)) if date >= next => Health::Due,
                        (Some(_), Some(_)) => Health::Ok,
                        _ => Health::None,
                    };
                    assert_eq!(r.next_check_in_on, ledger.next_check_in_on);
                    assert_eq!(r.health, health, "{cadence:?} {count} {date}");
                    assert_eq!(r.one_off, ledger.one_off_on.is_some_and(|on| date >= on));
                }
            }
        }
    }

    #[test]
    fn a_ledger_is_stale_once_a_planned_conversation_is_past_or_the_last_one_is_ahead() {
        let history = History {
            conversation_count: 1,
            last_conversation_at: Some(at("2026-03-01T10:00:00Z")),
            next_planned_at: Some(at("2026-03-05T10:00:00Z")),
            ..History::default()
        };
        let ledger = Ledger::of(history, None, at("2026-01-01T00:00:00Z"), chrono_tz::UTC);
        assert!(!ledger.is_stale(at("2026-03-05T09:59:59Z")));
        assert!(ledger.is_stale(at("2026-03-05T10:00:00Z")));
        assert!(ledger.is_stale(at("2026-03-01T09:59:59Z")));
    }

    #[test]
    fn overdue_days_count_from_next_check_in() {
        let today = Today::new(at("2026-03-04T12:00:00Z"), "UTC");
        let r = derive(
            &History::default(),
            Some(30),
            at("2026-01-01T09:00:00Z"),
            &today,
        );
        assert_eq!(r.overdue_days(today.date()), 32);
        let r = derive(
            &History::default(),
            None,
            at("2026-01-01T09:00:00Z"),
            &today,
        );
        assert_eq!(r.overdue_days(today.date()), 0);
    }
}
