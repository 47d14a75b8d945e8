//! The follow-up to-do list: what is owed, when it falls due, and in which order to do it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::records::{AskStatus, OfferStatus, ThankYouStatus};
use super::relationship::{Today, add_days, local_date};

/// An offer still an `idea` this many days after it was noted should be delivered.
pub const DELIVER_OFFER_AFTER_DAYS: i64 = 7;
/// An ask still `asked` this many days after it was made deserves a polite follow-up.
pub const ASK_FOLLOW_UP_AFTER_DAYS: i64 = 14;

/// What to do. Declared in priority order: on the same due date, a thank-you comes first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpKind {
    /// A past conversation whose thank-you is owed; due the day after it happened.
    ThankYou,
    /// A conversation's undone `next_step`; due on `next_step_due_on`.
    NextStep,
    /// An ask still `asked` 14 days after `asked_at`.
    AskFollowUp,
    /// A contact whose `next_check_in_on` has come.
    CheckIn,
    /// A value offer still an `idea` 7 days after it was created.
    DeliverOffer,
}

impl FollowUpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThankYou => "thank_you",
            Self::NextStep => "next_step",
            Self::AskFollowUp => "ask_follow_up",
            Self::CheckIn => "check_in",
            Self::DeliverOffer => "deliver_offer",
        }
    }

    pub fn priority(self) -> u8 {
        self as u8
    }

    pub fn from_priority(priority: u8) -> Option<Self> {
        [
            Self::ThankYou,
            Self::NextStep,
            Self::AskFollowUp,
            Self::CheckIn,
            Self::DeliverOffer,
        ]
        .get(usize::from(priority))
        .copied()
    }
}

/// One thing to do for one contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowUp {
    pub kind: FollowUpKind,
    pub due_on: NaiveDate,
    pub contact_id: Uuid,
    pub contact_name: String,
    /// The conversation, contact, offer or ask the item comes from.
    pub source_id: Uuid,
    /// What the source says: the conversation's summary, the next step, the offer's or the
    /// ask's title; none for a check-in.
    pub detail: Option<String>,
}

/// The total order of the list: by due date (so the most overdue come first), then kind
/// priority, then the source's and the contact's ids so that equal items never swap.
pub type FollowUpKey = (NaiveDate, FollowUpKind, Uuid, Uuid);

impl FollowUp {
    pub fn key(&self) -> FollowUpKey {
        (self.due_on, self.kind, self.source_id, self.contact_id)
    }

    /// Whole days past `due_on`; 0 when not yet overdue.
    pub fn overdue_days(&self, today: NaiveDate) -> i64 {
        (today - self.due_on).num_days().max(0)
    }
}

pub fn thank_you_due(conversation_on: NaiveDate) -> NaiveDate {
    add_days(conversation_on, 1)
}

pub fn deliver_offer_due(created_on: NaiveDate) -> NaiveDate {
    add_days(created_on, DELIVER_OFFER_AFTER_DAYS)
}

pub fn ask_follow_up_due(asked_on: NaiveDate) -> NaiveDate {
    add_days(asked_on, ASK_FOLLOW_UP_AFTER_DAYS)
}

/// The due date a participant row stores for its conversation's thank-you (stored status
/// `status`, at `occurred_at`) in the owner's `zone`: while it is owed, the day after the
/// conversation's local date; none otherwise.
pub fn stored_thank_you_due(
    status: &str,
    occurred_at: DateTime<Utc>,
    zone: Tz,
) -> Option<NaiveDate> {
    (status == ThankYouStatus::Owed.as_str()).then(|| thank_you_due(local_date(occurred_at, zone)))
}

/// The due date an offer row stores: while it is an idea, a week after the local date of its
/// creation; none otherwise.
pub fn stored_deliver_due(status: &str, created_at: DateTime<Utc>, zone: Tz) -> Option<NaiveDate> {
    (status == OfferStatus::Idea.as_str()).then(|| deliver_offer_due(local_date(created_at, zone)))
}

/// The due date an ask row stores: while it awaits an answer, two weeks after the local date
/// it was asked on (of its creation when `asked_at` is missing, which only a hand edit leaves);
/// none otherwise.
pub fn stored_ask_due(
    status: &str,
    asked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    zone: Tz,
) -> Option<NaiveDate> {
    (status == AskStatus::Asked.as_str())
        .then(|| ask_follow_up_due(local_date(asked_at.unwrap_or(created_at), zone)))
}

/// Whether an item due on `due_on` belongs on a list looking `within_days` ahead of `today`:
/// everything overdue, and everything due by the window's last day.
pub fn in_window(due_on: NaiveDate, today: NaiveDate, within_days: i64) -> bool {
    due_on <= add_days(today, within_days)
}

/// Sorts `items` into the list's order.
pub fn sort(items: &mut [FollowUp]) {
    items.sort_by_key(FollowUp::key);
}

/// What the follow-up list is made of, as read for one owner.
#[derive(Debug, Default)]
pub struct Sources {
    /// Each contact that is not archived: id, name, next check-in date if one is due.
    pub contacts: Vec<(Uuid, String, Option<NaiveDate>)>,
    /// Each owed thank-you of a past conversation: conversation, participant, due date, the
    /// conversation's summary.
    pub owed: Vec<(Uuid, Uuid, NaiveDate, Option<String>)>,
    /// Each open next step: conversation, due date, the step.
    pub steps: Vec<(Uuid, NaiveDate, String)>,
    /// The participants of the conversations with an open next step: conversation, contact.
    pub step_participants: Vec<(Uuid, Uuid)>,
    /// Each offer still an idea: id, contact, due date, title.
    pub ideas: Vec<(Uuid, Uuid, NaiveDate, String)>,
    /// Each ask awaiting an answer: id, contact, due date, title.
    pub open_asks: Vec<(Uuid, Uuid, NaiveDate, String)>,
}

/// The follow-ups of the kinds `wanted` takes that fall due within `within_days` of today
/// (overdue ones included), in list order. Items of contacts not in `sources.contacts`
/// (archived ones) are left out. A thank-you is one per participant, each person getting their
/// own note; a next step one per conversation, under its participant who comes first by name.
pub fn assemble(
    sources: Sources,
    today: &Today,
    within_days: i64,
    wanted: impl Fn(FollowUpKind) -> bool,
) -> Vec<FollowUp> {
    use FollowUpKind::*;

    let date = today.date();
    let names: HashMap<Uuid, &str> = sources
        .contacts
        .iter()
        .map(|(id, name, _)| (*id, name.as_str()))
        .collect();
    let check_ins = sources
        .contacts
        .iter()
        .filter_map(|(id, _, next)| Some((CheckIn, (*next)?, *id, *id, None)));
    let owed = sources
        .owed
        .into_iter()
        .map(|(conversation, contact, due, summary)| {
            (ThankYou, due, contact, conversation, summary)
        });
    let steps = under_first_name(sources.steps, sources.step_participants, &names);
    let ideas = sources
        .ideas
        .into_iter()
        .map(|(id, contact, due, title)| (DeliverOffer, due, contact, id, Some(title)));
    let asks = sources
        .open_asks
        .into_iter()
        .map(|(id, contact, due, title)| (AskFollowUp, due, contact, id, Some(title)));
    let mut items: Vec<FollowUp> = check_ins
        .chain(owed)
        .chain(steps)
        .chain(ideas)
        .chain(asks)
        .filter(|(kind, due_on, ..)| wanted(*kind) && in_window(*due_on, date, within_days))
        .filter_map(|(kind, due_on, contact_id, source_id, detail)| {
            Some(FollowUp {
                kind,
                due_on,
                contact_id,
                contact_name: (*names.get(&contact_id)?).to_owned(),
                source_id,
                detail,
            })
        })
        .collect();
    sort(&mut items);
    items
}

/// An item before its contact is named: kind, due date, contact, source, detail.
type Unnamed = (FollowUpKind, NaiveDate, Uuid, Uuid, Option<String>);

/// Each next step (conversation, due date, step) as an item of its participant who comes
/// first by name, letter case aside (then by id), among those named in `names`; none for a
/// step without such a participant.
fn under_first_name<'a>(
    steps: Vec<(Uuid, NaiveDate, String)>,
    participants: Vec<(Uuid, Uuid)>,
    names: &'a HashMap<Uuid, &str>,
) -> impl Iterator<Item = Unnamed> + 'a {
    let mut by_conversation: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (conversation_id, contact_id) in participants {
        by_conversation
            .entry(conversation_id)
            .or_default()
            .push(contact_id);
    }
    steps
        .into_iter()
        .filter_map(move |(conversation_id, due, step)| {
            let (_, contact_id) = by_conversation
                .get(&conversation_id)?
                .iter()
                .filter_map(|id| Some((names.get(id)?.to_lowercase(), *id)))
                .min()?;
            Some((
                FollowUpKind::NextStep,
                due,
                contact_id,
                conversation_id,
                Some(step),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn item(kind: FollowUpKind, due_on: &str, source: u128) -> FollowUp {
        FollowUp {
            kind,
            due_on: date(due_on),
            contact_id: Uuid::from_u128(1),
            contact_name: "Ada".into(),
            source_id: Uuid::from_u128(source),
            detail: None,
        }
    }

    #[test]
    fn due_dates_follow_the_documented_delays() {
        assert_eq!(thank_you_due(date("2026-02-28")), date("2026-03-01"));
        assert_eq!(deliver_offer_due(date("2026-03-01")), date("2026-03-08"));
        assert_eq!(ask_follow_up_due(date("2026-03-01")), date("2026-03-15"));
    }

    #[test]
    fn a_row_stores_a_due_date_while_open_on_the_owners_calendar() {
        let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let late = at("2026-02-28T20:00:00Z");
        // 20:00 UTC is already the next day in Tokyo.
        assert_eq!(
            stored_thank_you_due("owed", late, chrono_tz::UTC),
            Some(date("2026-03-01"))
        );
        assert_eq!(
            stored_thank_you_due("owed", late, tokyo),
            Some(date("2026-03-02"))
        );
        assert_eq!(stored_thank_you_due("sent", late, tokyo), None);
        assert_eq!(stored_thank_you_due("not_needed", late, tokyo), None);
        assert_eq!(
            stored_deliver_due("idea", late, tokyo),
            Some(date("2026-03-08"))
        );
        assert_eq!(stored_deliver_due("offered", late, tokyo), None);
        let asked = Some(at("2026-03-01T00:00:00Z"));
        assert_eq!(
            stored_ask_due("asked", asked, late, tokyo),
            Some(date("2026-03-15"))
        );
        assert_eq!(
            stored_ask_due("asked", None, late, tokyo),
            Some(date("2026-03-15"))
        );
        assert_eq!(
            stored_ask_due("asked", None, late, chrono_tz::UTC),
            Some(date("2026-03-14"))
        );
        assert_eq!(stored_ask_due("granted", asked, late, tokyo), None);
        assert_eq!(stored_ask_due("planned", None, late, tokyo), None);
    }

    #[test]
    fn the_window_keeps_overdue_items_and_ends_on_its_last_day() {
        let today = date("2026-03-04");
        assert!(in_window(date("2025-01-01"), today, 0));
        assert!(in_window(today, today, 0));
        assert!(!in_window(date("2026-03-05"), today, 0));
        assert!(in_window(date("2026-03-11"), today, 7));
        assert!(!in_window(date("2026-03-12"), today, 7));
    }

    #[test]
    fn overdue_first_then_by_date_then_by_kind_priority() {
        use FollowUpKind::*;
        let mut items = vec![
            item(DeliverOffer, "2026-03-04", 1),
            item(CheckIn, "2026-03-10", 2),
            item(ThankYou, "2026-03-04", 3),
            item(CheckIn, "2026-02-01", 4),
            item(NextStep, "2026-03-04", 5),
            item(ThankYou, "2026-03-04", 0),
        ];
        sort(&mut items);
        let order: Vec<(FollowUpKind, u128)> = items
            .iter()
            .map(|i| (i.kind, i.source_id.as_u128()))
            .collect();
        assert_eq!(
            order,
            [
                (CheckIn, 4),
                (ThankYou, 0),
                (ThankYou, 3),
                (NextStep, 5),
                (DeliverOffer, 1),
                (CheckIn, 2)
            ]
        );
        let today = date("2026-03-04");
        assert_eq!(items[0].overdue_days(today), 31);
        assert_eq!(items[1].overdue_days(today), 0);
        assert_eq!(items[5].overdue_days(today), 0);
    }

    #[test]
    fn priorities_round_trip() {
        for p in 0..5 {
            assert_eq!(FollowUpKind::from_priority(p).unwrap().priority(), p);
        }
        assert_eq!(FollowUpKind::from_priority(5), None);
    }

    #[test]
    fn assembled_items_skip_archived_contacts_and_put_a_next_step_under_the_first_name() {
        use FollowUpKind::*;
        let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let today = Today::new(at("2026-03-04T12:00:00Z"), "UTC");
        let (ada, zoe, archived) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let (call, coffee) = (Uuid::from_u128(10), Uuid::from_u128(11));
        let sources = Sources {
            contacts: vec![
                (zoe, "zoe".into(), Some(date("2026-03-01"))),
                (ada, "Ada".into(), Some(date("2026-04-01"))),
            ],
            owed: vec![
                (call, ada, date("2026-03-04"), Some("Call".into())),
                (call, archived, date("2026-03-04"), Some("Call".into())),
            ],
            steps: vec![(coffee, date("2026-03-05"), "send the deck".into())],
            step_participants: vec![(coffee, zoe), (coffee, ada), (coffee, archived)],
            ideas: vec![(
                Uuid::from_u128(20),
                zoe,
                date("2026-02-08"),
                "article".into(),
            )],
            open_asks: vec![(Uuid::from_u128(30), ada, date("2026-03-15"), "intro".into())],
        };
        let items = assemble(sources, &today, 7, |_| true);
        let seen: Vec<(FollowUpKind, Uuid)> =
            items.iter().map(|i| (i.kind, i.contact_id)).collect();
        // Ada's check-in (April) is beyond the window; the archived contact has nothing; the
        // next step goes to Ada, first by name whatever the letter case.
        assert_eq!(
            seen,
            [
                (DeliverOffer, zoe),
                (CheckIn, zoe),
                (ThankYou, ada),
                (NextStep, ada)
            ],
            "{items:?}"
        );
        let details: Vec<Option<&str>> = items.iter().map(|i| i.detail.as_deref()).collect();
        assert_eq!(
            details,
            [Some("article"), None, Some("Call"), Some("send the deck")]
        );
        let only_thanks = assemble(Sources::default(), &today, 7, |k| k == ThankYou);
        assert!(only_thanks.is_empty());
    }
}
