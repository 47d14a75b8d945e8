//! The next best gestures: which contacts to reach out to first, and why.
//!
//! A contact's score is the sum of three parts (a contact scoring 0 is not suggested):
//! - **overdue**: once a check-in is due, 10 points plus 100 per full cadence overdue
//!   (`100 × overdue_days / cadence_days`), at most 210;
//! - **thank-yous**: 40 per thank-you owed, at most 120;
//! - **taking**: 15 per ask more than gives, at most 60.
//!
//! Equal scores rank the longer overdue first, then by name, then by id.

use std::cmp::Reverse;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::relationship::{Health, Reciprocity, Relationship};

/// Why a contact is suggested: the first that applies, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A thank-you note is owed.
    ThankYouOwed,
    /// You have asked more than you have given: offer something first.
    OfferSomethingFirst,
    /// Past the due window of the keep-in-touch cadence.
    GoingCold,
    /// A check-in is due.
    CheckInDue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Score {
    pub points: i64,
    pub reason: Reason,
}

pub fn score(r: &Relationship, cadence_days: Option<i32>, today: NaiveDate) -> Option<Score> {
    let points = overdue_points(r.next_check_in_on, cadence_days, today)
        + base_points(r.thank_yous_owed, r.balance);
    let reason = if r.thank_yous_owed > 0 {
        Reason::ThankYouOwed
    } else if r.reciprocity == Reciprocity::Taking {
        Reason::OfferSomethingFirst
    } else if r.health == Health::Cold {
        Reason::GoingCold
    } else {
        Reason::CheckInDue
    };
    (points > 0).then_some(Score { points, reason })
}

/// The points that do not depend on the date: thank-yous owed and taking. The ledger stores
/// them, so suggestions find the best contacts with an index.
pub fn base_points(thank_yous_owed: i64, balance: i64) -> i64 {
    40 * thank_yous_owed.clamp(0, 3) + 15 * (-balance).clamp(0, 4)
}

/// Every value [`base_points`] can take, highest first.
pub fn base_levels() -> Vec<i64> {
    let mut levels: Vec<i64> = (0..=3)
        .flat_map(|owed| (0..=4).map(move |taking| base_points(owed, -taking)))
        .collect();
    levels.sort_unstable_by(|a, b| b.cmp(a));
    levels.dedup();
    levels
}

/// The points of an overdue check-in: once due (health `due` or `cold`), 10 plus 100 per full
/// cadence overdue, at most 210. For one cadence they never fall as `next_check_in_on` moves
/// earlier, which is what lets suggestions read each cadence's contacts in that order.
pub fn overdue_points(
    next_check_in_on: Option<NaiveDate>,
    cadence_days: Option<i32>,
    today: NaiveDate,
) -> i64 {
    match (next_check_in_on, cadence_days) {
        (Some(next), Some(cadence)) if next <= today => {
            10 + (100 * (today - next).num_days() / i64::from(cadence.max(1))).min(200)
        }
        _ => 0,
    }
}

/// The name as suggestions order it: lower-cased. The ledger stores it (`contact.name_key`),
/// compared byte by byte.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The sort key of a suggestion: best first, deterministic for equal scores.
pub fn rank_key(
    score: &Score,
    overdue_days: i64,
    name: &str,
    id: Uuid,
) -> (Reverse<i64>, Reverse<i64>, String, Uuid) {
    (
        Reverse(score.points),
        Reverse(overdue_days),
        name_key(name),
        id,
    )
}

/// A human sentence for the suggestion.
pub fn message(reason: Reason, name: &str, r: &Relationship, today: NaiveDate) -> String {
    match reason {
        Reason::ThankYouOwed if r.thank_yous_owed == 1 => {
            format!("Send {name} the thank-you note you owe them.")
        }
        Reason::ThankYouOwed => format!(
            "Send {name} the {} thank-you notes you owe them.",
            r.thank_yous_owed
        ),
        Reason::OfferSomethingFirst => {
            format!("You have asked {name} for more than you have given: offer something first.")
        }
        Reason::GoingCold => match r.last_conversation_at {
            Some(_) => format!(
                "{name} is going cold: your check-in is {} days overdue.",
                r.overdue_days(today)
            ),
            None => format!("{name} is going cold: you have not talked yet."),
        },
        Reason::CheckInDue => format!("It is time to check in with {name}."),
    }
}

/// A value offer still at the `idea` stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idea {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub topics: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// What to bring: the oldest idea meant for this contact, else the idea sharing the most
/// topics with their interests (oldest first on a tie). `ideas` may be in any order.
pub fn suggested_offer<'a>(
    contact_id: Uuid,
    interests: &[String],
    ideas: &'a [Idea],
) -> Option<&'a Idea> {
    let own = ideas
        .iter()
        .filter(|idea| idea.contact_id == contact_id)
        .min_by_key(|idea| (idea.created_at, idea.id));
    own.or_else(|| {
        ideas
            .iter()
            .map(|idea| {
                let shared = idea.topics.iter().filter(|t| interests.contains(t)).count();
                (shared, idea)
            })
            .filter(|(shared, _)| *shared > 0)
            .min_by_key(|(shared, idea)| (Reverse(*shared), idea.created_at, idea.id))
            .map(|(_, idea)| idea)
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::relationship::reciprocity;

    fn today() -> NaiveDate {
        "2026-03-04".parse().unwrap()
    }

    fn relationship(health: Health, overdue: i64, owed: i64, balance: i64) -> Relationship {
        Relationship {
            conversation_count: 1,
            first_conversation_at: None,
            last_conversation_at: Some(DateTime::UNIX_EPOCH),
            next_check_in_on: Some(today() - Duration::days(overdue)),
            health,
            gives: balance.max(0),
            asks: (-balance).max(0),
            balance,
            reciprocity: reciprocity(balance),
            thank_yous_owed: owed,
            one_off: false,
        }
    }

    #[test]
    fn nothing_to_do_scores_nothing() {
        assert_eq!(
            score(&relationship(Health::Ok, -3, 0, 0), Some(30), today()),
            None
        );
        assert_eq!(
            score(&relationship(Health::None, 0, 0, 2), None, today()),
            None
        );
    }

    #[test]
    fn each_part_scores_as_documented_and_is_capped() {
        let s = |h, overdue, owed, balance| {
            score(&relationship(h, overdue, owed, balance), Some(30), today())
        };
        assert_eq!(s(Health::Due, 0, 0, 0).unwrap().points, 10);
        assert_eq!(s(Health::Due, 15, 0, 0).unwrap().points, 60);
        assert_eq!(s(Health::Cold, 30, 0, 0).unwrap().points, 110);
        assert_eq!(s(Health::Cold, 3000, 0, 0).unwrap().points, 210);
        assert_eq!(s(Health::Ok, -1, 2, 0).unwrap().points, 80);
        assert_eq!(s(Health::Ok, -1, 9, 0).unwrap().points, 120);
        assert_eq!(s(Health::Ok, -1, 0, -1).unwrap().points, 15);
        assert_eq!(s(Health::Ok, -1, 0, -9).unwrap().points, 60);
        assert_eq!(s(Health::Cold, 30, 1, -2).unwrap().points, 110 + 40 + 30);
    }

    #[test]
    fn base_levels_are_every_sum_of_the_dateless_parts() {
        let levels = base_levels();
        assert_eq!(levels.len(), 20);
        assert_eq!(levels.first(), Some(&180));
        assert_eq!(levels.last(), Some(&0));
        for owed in 0..6 {
            for balance in -6..3 {
                assert!(levels.contains(&base_points(owed, balance)));
            }
        }
    }

    #[test]
    fn overdue_points_never_fall_as_the_check_in_moves_earlier() {
        for cadence in [1, 7, 30, 99, 101, 365] {
            let mut last = 0;
            // Days overdue growing: the check-in moving earlier.
            for days in -5..(3 * cadence + 5) {
                let next = today() - Duration::days(i64::from(days));
                let points = overdue_points(Some(next), Some(cadence), today());
                assert!(points >= last, "cadence {cadence}, {days} days");
                last = points;
            }
            let capped = today() - Duration::days(2 * i64::from(cadence));
            assert_eq!(overdue_points(Some(capped), Some(cadence), today()), 210);
            let before = capped + Duration::days(1);
            assert!(overdue_points(Some(before), Some(cadence), today()) < 210);
        }
    }

    #[test]
    fn the_reason_is_the_first_that_applies() {
        let s = |h, overdue, owed, balance| {
            score(&relationship(h, overdue, owed, balance), Some(30), today())
                .unwrap()
                .reason
        };
        assert_eq!(s(Health::Cold, 40, 1, -2), Reason::ThankYouOwed);
        assert_eq!(s(Health::Cold, 40, 0, -2), Reason::OfferSomethingFirst);
        assert_eq!(s(Health::Cold, 40, 0, 1), Reason::GoingCold);
        assert_eq!(s(Health::Due, 2, 0, 0), Reason::CheckInDue);
    }

    #[test]
    fn equal_scores_rank_by_overdue_then_name_then_id() {
        let score = Score {
            points: 50,
            reason: Reason::CheckInDue,
        };
        let mut keys = [
            rank_key(&score, 3, "Bea", Uuid::from_u128(2)),
            rank_key(&score, 3, "ada", Uuid::from_u128(3)),
            rank_key(&score, 9, "Zed", Uuid::from_u128(1)),
            rank_key(
                &Score {
                    points: 60,
                    ..score
                },
                0,
                "Yan",
                Uuid::from_u128(4),
            ),
            rank_key(&score, 3, "Bea", Uuid::from_u128(1)),
        ];
        keys.sort();
        let ids: Vec<u128> = keys.iter().map(|k| k.3.as_u128()).collect();
        assert_eq!(ids, [4, 1, 3, 1, 2]);
    }

    #[test]
    fn an_own_idea_beats_a_matching_one_and_more_shared_topics_win() {
        let ada = Uuid::from_u128(1);
        let t0 = DateTime::UNIX_EPOCH;
        let idea = |id: u128, contact: u128, topics: &[&str], days: i64| Idea {
            id: Uuid::from_u128(id),
            contact_id: Uuid::from_u128(contact),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            created_at: t0 + Duration::days(days),
        };
        let interests = vec!["ai".to_owned(), "rust".to_owned()];
        let others = vec![
            idea(10, 2, &["ai"], 0),
            idea(11, 3, &["ai", "rust"], 5),
            idea(12, 3, &["golf"], 0),
        ];
        let pick = |ideas: &[Idea]| suggested_offer(ada, &interests, ideas).map(|i| i.id.as_u128());
        assert_eq!(pick(&others), Some(11));
        let mut with_own = others.clone();
        with_own.push(idea(20, 1, &[], 3));
        with_own.push(idea(21, 1, &[], 1));
        assert_eq!(pick(&with_own), Some(21));
        assert_eq!(suggested_offer(ada, &[], &others), None);
    }
}
