//! Activity over time: buckets of the user's calendar (weeks start on Monday), the tallies in
//! each, and streaks of weeks that met a goal.

use std::collections::BTreeMap;

use super::relationship::add_days;
use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The dates the API accepts, 0001-01-01 to 9999-12-31: RFC 3339's four-digit years.
pub fn in_calendar(date: NaiveDate) -> bool {
    (1..=9999).contains(&date.year())
}

/// The longest range `/v1/stats` answers.
pub const MAX_RANGE_MONTHS: u32 = 24;
/// Weeks in the default range, the current one included.
pub const DEFAULT_WEEKS: i64 = 12;

#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    #[default]
    Week,
    Month,
}

/// The Monday of `date`'s week.
pub fn week_start(date: NaiveDate) -> NaiveDate {
    add_days(date, -i64::from(date.weekday().num_days_from_monday()))
}

pub fn bucket_start(date: NaiveDate, granularity: Granularity) -> NaiveDate {
    match granularity {
        Granularity::Week => week_start(date),
        Granularity::Month => date.with_day(1).unwrap_or(date),
    }
}

/// The first date of the bucket after the one starting on `start`.
pub fn next_bucket_start(start: NaiveDate, granularity: Granularity) -> NaiveDate {
    match granularity {
        Granularity::Week => add_days(start, 7),
        Granularity::Month => start.checked_add_months(Months::new(1)).unwrap_or(start),
    }
}

/// The buckets covering `from..=to`, each as its first and last day clipped to the range.
pub fn buckets(
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = bucket_start(from, granularity);
    while start <= to {
        let next = next_bucket_start(start, granularity);
        out.push((start.max(from), add_days(next, -1).min(to)));
        start = next;
    }
    out
}

/// The last 12 weeks: from the Monday 11 weeks before this week's through today.
pub fn default_range(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (add_days(week_start(today), -7 * (DEFAULT_WEEKS - 1)), today)
}

/// Whether `from..=to` spans more than two years.
pub fn too_long(from: NaiveDate, to: NaiveDate) -> bool {
    from.checked_add_months(Months::new(MAX_RANGE_MONTHS))
        .is_none_or(|limit| to > limit)
}

/// Sent ÷ (sent + owed); none when there is neither.
pub fn thank_you_rate(sent: u32, owed: u32) -> Option<f64> {
    let total = sent + owed;
    (total > 0).then(|| f64::from(sent) / f64::from(total))
}

/// Counts of a bucket or of the whole range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
#[schema(as = Counts)]
pub struct Tally {
    /// Past conversations.
    pub conversations: u32,
    /// Contacts who took part in them.
    pub distinct_people: u32,
    /// Contacts whose first ever conversation falls here.
    pub new_people: u32,
    /// Value offers whose `offered_at` falls here.
    pub offers_given: u32,
    /// Asks whose `asked_at` falls here.
    pub asks_made: u32,
    /// Thank-yous sent ÷ (sent + owed) over these conversations; null when there is none.
    pub thank_you_rate: Option<f64>,
}

/// What the database counts in a range of local dates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Past conversations with at least one participant.
    pub conversations: i64,
    /// Those of them whose thank-you was sent.
    pub thank_yous_sent: i64,
    /// Those of them whose thank-you is owed.
    pub thank_yous_owed: i64,
    /// Contacts who took part in them.
    pub distinct_people: i64,
    /// Contacts whose first past conversation falls in the range.
    pub new_people: i64,
    pub offers_given: i64,
    pub asks_made: i64,
}

impl From<Counts> for Tally {
    fn from(c: Counts) -> Self {
        let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        Tally {
            conversations: count(c.conversations),
            distinct_people: count(c.distinct_people),
            new_people: count(c.new_people),
            offers_given: count(c.offers_given),
            asks_made: count(c.asks_made),
            thank_you_rate: thank_you_rate(count(c.thank_yous_sent), count(c.thank_yous_owed)),
        }
    }
}

/// Consecutive weeks, back from this one, with at least `goal` conversations. This week
/// counts once it meets the goal; until then the streak runs through last week. Weeks before
/// `first_week` (when the account began) never count. A goal of 0 is no goal: no streak.
pub fn streak(
    conversations_by_week: &BTreeMap<NaiveDate, u32>,
    this_week: NaiveDate,
    first_week: NaiveDate,
    goal: u32,
) -> u32 {
    if goal == 0 {
        return 0;
    }
    let met = |week: &NaiveDate| conversations_by_week.get(week).copied().unwrap_or(0) >= goal;
    let mut week = if met(&this_week) {
        this_week
    } else {
        add_days(this_week, -7)
    };
    let mut weeks = 0;
    while week >= first_week && met(&week) {
        weeks += 1;
        week = add_days(week, -7);
    }
    weeks
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::relationship::local_date;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        assert_eq!(week_start(date("2026-03-01")), date("2026-02-23")); // a Sunday
        assert_eq!(week_start(date("2026-03-02")), date("2026-03-02")); // a Monday
        assert_eq!(
            bucket_start(date("2026-03-31"), Granularity::Month),
            date("2026-03-01")
        );
    }

    #[test]
    fn sunday_23_30_local_lands_in_that_local_week() {
        // Sunday 1 March 2026, 23:30 in Auckland (UTC+13) and in Los Angeles (UTC-8).
        let auckland_instant: DateTime<Utc> = "2026-03-01T10:30:00Z".parse().unwrap();
        let la_instant: DateTime<Utc> = "2026-03-02T07:30:00Z".parse().unwrap();
        let auckland = local_date(auckland_instant, chrono_tz::Pacific::Auckland);
        let la = local_date(la_instant, chrono_tz::America::Los_Angeles);
        assert_eq!(auckland, date("2026-03-01"));
        assert_eq!(la, date("2026-03-01"));
        assert_eq!(week_start(auckland), date("2026-02-23"));
        assert_eq!(week_start(la), date("2026-02-23"));
        // In UTC the same instants fall on Sunday and on Monday: different weeks.
        assert_eq!(
            week_start(local_date(auckland_instant, chrono_tz::UTC)),
            date("2026-02-23")
        );
        assert_eq!(
            week_start(local_date(la_instant, chrono_tz::UTC)),
            date("2026-03-02")
        );
    }

    #[test]
    fn a_dst_week_is_still_seven_calendar_days() {
        // Los Angeles springs forward on Sunday 8 March 2026 at 02:00.
        let before: DateTime<Utc> = "2026-03-08T09:30:00Z".parse().unwrap(); // 01:30 PST
        let after: DateTime<Utc> = "2026-03-09T06:30:00Z".parse().unwrap(); // Sun 23:30 PDT
        let zone = chrono_tz::America::Los_Angeles;
        assert_eq!(week_start(local_date(before, zone)), date("2026-03-02"));
        assert_eq!(week_start(local_date(after, zone)), date("2026-03-02"));
        let monday: DateTime<Utc> = "2026-03-09T07:00:00Z".parse().unwrap(); // Mon 00:00 PDT
        assert_eq!(week_start(local_date(monday, zone)), date("2026-03-09"));
    }

    #[test]
    fn buckets_cover_the_range_clipped_at_both_ends() {
        let weeks = buckets(date("2026-03-04"), date("2026-03-17"), Granularity::Week);
        assert_eq!(
            weeks,
            [
                (date("2026-03-04"), date("2026-03-08")),
                (date("2026-03-09"), date("2026-03-15")),
                (date("2026-03-16"), date("2026-03-17")),
            ]
        );
        let months = buckets(date("2026-01-31"), date("2026-03-01"), Granularity::Month);
        assert_eq!(
            months,
            [
                (date("2026-01-31"), date("2026-01-31")),
                (date("2026-02-01"), date("2026-02-28")),
                (date("2026-03-01"), date("2026-03-01")),
            ]
        );
    }

    #[test]
    fn the_default_range_is_twelve_weeks_through_today() {
        let (from, to) = default_range(date("2026-03-04"));
        assert_eq!((from, to), (date("2025-12-15"), date("2026-03-04")));
        assert_eq!(buckets(from, to, Granularity::Week).len(), 12);
    }

    #[test]
    fn two_years_is_the_longest_range() {
        assert!(!too_long(date("2024-03-04"), date("2026-03-04")));
        assert!(too_long(date("2024-03-04"), date("2026-03-05")));
    }

    #[test]
    fn a_tally_rates_thank_yous_sent_of_those_sent_or_owed() {
        let counts = Counts {
            conversations: 4,
            thank_yous_sent: 1,
            thank_yous_owed: 3,
            distinct_people: 2,
            new_people: 1,
            offers_given: 5,
            asks_made: 6,
        };
        assert_eq!(
            Tally::from(counts),
            Tally {
                conversations: 4,
                distinct_people: 2,
                new_people: 1,
                offers_given: 5,
                asks_made: 6,
                thank_you_rate: Some(0.25),
            }
        );
        let none_needed = Counts {
            conversations: 2,
            ..Counts::default()
        };
        assert_eq!(Tally::from(none_needed).thank_you_rate, None);
    }

    #[test]
    fn a_streak_counts_back_from_this_week_or_last() {
        let this = date("2026-03-02");
        let first = date("2025-01-06");
        let weeks = BTreeMap::from([
            (date("2026-02-09"), 3),
            (date("2026-02-16"), 2),
            (date("2026-02-23"), 5),
            (date("2026-03-02"), 1),
        ]);
        assert_eq!(streak(&weeks, this, first, 2), 3, "this week not met yet");
        assert_eq!(streak(&weeks, this, first, 1), 4, "this week met");
        assert_eq!(streak(&weeks, this, first, 3), 1);
        assert_eq!(streak(&weeks, this, first, 6), 0);
        assert_eq!(streak(&weeks, this, first, 0), 0, "no goal, no streak");
        assert_eq!(
            streak(&weeks, this, date("2026-02-23"), 2),
            1,
            "not before the account"
        );
    }
}
