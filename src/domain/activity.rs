//! Activity counts by the owner's local calendar: the rows (`day`, `week`, `month`) and the
//! dated facts a write adds or removes, turned into the rows' deltas. Storing them is
//! `services::activity`'s.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::records::ThankYouStatus;
use super::relationship::local_date;
use super::stats::{Granularity, bucket_start};

/// The `period` of the rows that count a day's records.
pub const DAY: &str = "day";

/// The `period` of the rows that count the people of a week or a month.
pub fn period_of(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Week => "week",
        Granularity::Month => "month",
    }
}

pub const PEOPLE_PERIODS: [Granularity; 2] = [Granularity::Week, Granularity::Month];

/// The counts of one row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub conversations: i64,
    pub thank_yous_sent: i64,
    pub thank_yous_owed: i64,
    pub people: i64,
    pub offers: i64,
    pub asks: i64,
    pub firsts: i64,
    pub lasts: i64,
}

impl Counts {
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// A contact's first and last past conversations, as the ledger stores them.
pub type Ends = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A contact's id with its [`Ends`], as read.
pub type ContactEnds = (Uuid, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A row's key: its period (`day`, `week`, `month`) and first local date.
pub type Key = (&'static str, NaiveDate);

/// A dated record that a write adds or removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// A conversation, counted on its date with its thank-you status.
    Held {
        at: DateTime<Utc>,
        thank_you: ThankYouStatus,
    },
    /// A contact's part in a conversation at `at`.
    TookPart { contact_id: Uuid, at: DateTime<Utc> },
    /// An offer given at that instant.
    Offered(DateTime<Utc>),
    /// An ask made at that instant.
    Asked(DateTime<Utc>),
    /// A contact's first past conversation, as the ledger stores it.
    First(DateTime<Utc>),
    /// A contact's last past conversation, as the ledger stores it.
    Last(DateTime<Utc>),
}

/// What a write changes: facts added (+1) and removed (−1).
#[derive(Clone, Debug, Default)]
pub struct Change {
    facts: Vec<(i64, Fact)>,
}

impl Change {
    pub fn add(&mut self, fact: Fact) {
        self.facts.push((1, fact));
    }

    pub fn remove(&mut self, fact: Fact) {
        self.facts.push((-1, fact));
    }

    /// The facts, each with its sign.
    pub fn facts(&self) -> &[(i64, Fact)] {
        &self.facts
    }

    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// Adds the facts of `other`.
    pub fn extend(&mut self, other: Change) {
        self.facts.extend(other.facts);
    }

    /// Adds (`sign` 1) or removes (−1) a conversation with its participants.
    pub fn conversation(
        &mut self,
        sign: i64,
        at: DateTime<Utc>,
        thank_you: ThankYouStatus,
        participants: &[Uuid],
    ) {
        self.facts.push((sign, Fact::Held { at, thank_you }));
        for contact_id in participants {
            self.facts.push((
                sign,
                Fact::TookPart {
                    contact_id: *contact_id,
                    at,
                },
            ));
        }
    }

    /// Replaces an optional dated fact by another (an offer's `offered_at`, an ask's
    /// `asked_at`); nothing when they are the same.
    pub fn replace(
        &mut self,
        before: Option<DateTime<Utc>>,
        after: Option<DateTime<Utc>>,
        fact: fn(DateTime<Utc>) -> Fact,
    ) {
        if before != after {
            if let Some(at) = before {
                self.remove(fact(at));
            }
            if let Some(at) = after {
                self.add(fact(at));
            }
        }
    }
}

/// The day deltas of `change` and the net number of conversations it adds per (contact,
/// week or month): the presence counts still to be settled with [`people_moved`].
pub fn deltas(change: &Change, zone: Tz) -> (BTreeMap<Key, Counts>, BTreeMap<Presence, i64>) {
    let mut rows: BTreeMap<Key, Counts> = BTreeMap::new();
    let mut presence: BTreeMap<Presence, i64> = BTreeMap::new();
    for (sign, fact) in change.facts() {
        let sign = *sign;
        match fact {
            Fact::Held { at, thank_you } => {
                let row = rows.entry((DAY, local_date(*at, zone))).or_default();
                row.conversations += sign;
                match thank_you {
                    ThankYouStatus::Sent => row.thank_yous_sent += sign,
                    ThankYouStatus::Owed => row.thank_yous_owed += sign,
                    ThankYouStatus::NotNeeded => {}
                }
            }
            Fact::TookPart { contact_id, at } => {
                let date = local_date(*at, zone);
                for granularity in PEOPLE_PERIODS {
                    let key = (*contact_id, granularity, bucket_start(date, granularity));
                    *presence.entry(key).or_default() += sign;
                }
            }
            Fact::Offered(at) => {
                rows.entry((DAY, local_date(*at, zone))).or_default().offers += sign
            }
            Fact::Asked(at) => rows.entry((DAY, local_date(*at, zone))).or_default().asks += sign,
            Fact::First(at) => {
                rows.entry((DAY, local_date(*at, zone))).or_default().firsts += sign;
            }
            Fact::Last(at) => rows.entry((DAY, local_date(*at, zone))).or_default().lasts += sign,
        }
    }
    presence.retain(|_, net| *net != 0);
    (rows, presence)
}

/// A contact in a week or month, by the period's first date.
pub type Presence = (Uuid, Granularity, NaiveDate);

/// How a period's people move for a contact whose conversations in the period the write
/// changed by `net` (not 0), given `after`, their number after the write counted up to
/// `max(net, 0) + 1`: +1 when the write brings the contact's first, −1 when it removes the
/// last, 0 otherwise.
pub fn people_moved(net: i64, after: i64) -> i64 {
    let present_after = after > 0;
    // Before the write there were `after - net`: with `net` added, more than `net` after; with
    // some removed, at least those.
    let present_before = if net >= 0 { after > net } else { true };
    i64::from(present_after) - i64::from(present_before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("an instant")
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    #[test]
    fn a_conversation_counts_on_its_local_date_and_in_its_week_and_month() {
        let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let mut change = Change::default();
        // Sunday 31 May 2026, 23:30 in UTC, is Monday 1 June, 12:15 in Chatham.
        change.conversation(
            1,
            at("2026-05-31T23:30:00Z"),
            ThankYouStatus::Owed,
            &[ada, bob],
        );
        let (rows, presence) = deltas(&change, chrono_tz::Pacific::Chatham);
        let day = rows
            .get(&(DAY, date("2026-06-01")))
            .copied()
            .unwrap_or_default();
        assert_eq!((day.conversations, day.thank_yous_owed), (1, 1));
        assert_eq!(rows.len(), 1);
        for contact in [ada, bob] {
            assert_eq!(
                presence.get(&(contact, Granularity::Week, date("2026-06-01"))),
                Some(&1)
            );
            assert_eq!(
                presence.get(&(contact, Granularity::Month, date("2026-06-01"))),
                Some(&1)
            );
        }
        assert_eq!(presence.len(), 4);
    }

    #[test]
    fn a_conversation_moved_within_its_week_leaves_the_weeks_people_alone() {
        let ada = Uuid::now_v7();
        let mut change = Change::default();
        change.conversation(-1, at("2026-06-02T10:00:00Z"), ThankYouStatus::Sent, &[ada]);
        change.conversation(1, at("2026-06-04T10:00:00Z"), ThankYouStatus::Sent, &[ada]);
        let (rows, presence) = deltas(&change, chrono_tz::UTC);
        assert!(presence.is_empty(), "{presence:?}");
        let (tuesday, thursday) = (date("2026-06-02"), date("2026-06-04"));
        assert_eq!(rows[&(DAY, tuesday)].thank_yous_sent, -1);
        assert_eq!(rows[&(DAY, thursday)].thank_yous_sent, 1);
    }

    #[test]
    fn an_unchanged_instant_is_no_fact() {
        let mut change = Change::default();
        let when = Some(at("2026-06-02T10:00:00Z"));
        change.replace(when, when, Fact::Offered);
        change.replace(None, None, Fact::Asked);
        assert!(change.is_empty());
        change.replace(None, when, Fact::Asked);
        assert!(!change.is_empty());
    }

    #[test]
    fn people_move_only_with_a_contacts_first_or_last_conversation_of_the_period() {
        // Added one: the only one now (first), or one of two (not first).
        assert_eq!(people_moved(1, 1), 1);
        assert_eq!(people_moved(1, 2), 0);
        // Removed one: none left (last), or some left.
        assert_eq!(people_moved(-1, 0), -1);
        assert_eq!(people_moved(-1, 1), 0);
        // Added two at once: both of them, or more.
        assert_eq!(people_moved(2, 2), 1);
        assert_eq!(people_moved(2, 3), 0);
    }
}
