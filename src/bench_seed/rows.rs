//! The rows of one bench user, generated from a seeded generator before anything is written.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    ask, contact, contact_tag, conversation, conversation_participant, idea_topic, tag_count, user,
    value_offer,
};
use sea_orm::Set;
use uuid::Uuid;

use super::{ZONE, email};
use crate::domain::follow_ups;
use crate::domain::labels::search_text;
use crate::domain::records::{AskStatus, OfferStatus};
use crate::domain::relationship::{History, Ledger};
use crate::services::ledger;

/// A small deterministic generator (SplitMix64): the same data set on every run.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const FIRST: [&str; 12] = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Margaret",
    "Linus",
    "Barbara",
    "Tim",
    "Radia",
    "Frances",
    "Dennis",
    "Hedy",
];
const LAST: [&str; 10] = [
    "Lovelace", "Hopper", "Turing", "Johnson", "Hamilton", "Chen", "Liskov", "Berners", "Perlman",
    "Allen",
];
const COMPANIES: [&str; 8] = [
    "Navy Labs",
    "Orbital Co",
    "Kernel Labs",
    "Bell Works",
    "Web Foundation",
    "Analytical Engines",
    "Studio Signals",
    "Bletchley Analytics",
];
const TOPICS: [&str; 6] = ["ai", "compilers", "hiring", "space", "web", "security"];
const CHANNELS: [&str; 5] = ["coffee", "call", "video", "email", "event"];
const THANKS: [&str; 3] = ["owed", "sent", "not_needed"];
const OFFER_STATUSES: [&str; 4] = ["idea", "offered", "acknowledged", "declined"];
const ASK_STATUSES: [&str; 4] = ["planned", "asked", "granted", "declined"];

/// Everything one bench user owns, generated before anything is written.
pub(super) struct Rows {
    pub(super) owner: Uuid,
    pub(super) account: user::ActiveModel,
    pub(super) contacts: Vec<contact::ActiveModel>,
    pub(super) tags: Vec<contact_tag::ActiveModel>,
    pub(super) tag_counts: Vec<tag_count::ActiveModel>,
    pub(super) conversations: Vec<conversation::ActiveModel>,
    pub(super) participants: Vec<conversation_participant::ActiveModel>,
    pub(super) offers: Vec<value_offer::ActiveModel>,
    pub(super) idea_topics: Vec<idea_topic::ActiveModel>,
    pub(super) asks: Vec<ask::ActiveModel>,
}

impl Rows {
    /// Bench user `u` with `contacts` contacts, each with its records, and the ledger each
    /// contact's records make.
    pub(super) fn generate(
        u: usize,
        contacts: usize,
        hash: &str,
        rng: &mut Rng,
        now: DateTime<Utc>,
    ) -> Self {
        let owner = Uuid::now_v7();
        let joined = now - Duration::days(400);
        let mut rows = Self {
            owner,
            account: user::ActiveModel {
                id: Set(owner),
                email: Set(email(u)),
                password_hash: Set(hash.to_owned()),
                display_name: Set(format!("Bench User {u}")),
                time_zone: Set(ZONE.name().into()),
                weekly_conversation_goal: Set(5),
                weekly_new_people_goal: Set(1),
                created_at: Set(joined),
                updated_at: Set(joined),
            },
            contacts: Vec::with_capacity(contacts),
            tags: Vec::with_capacity(contacts),
            tag_counts: Vec::new(),
            conversations: Vec::with_capacity(contacts * 5),
            participants: Vec::with_capacity(contacts * 10),
            offers: Vec::with_capacity(contacts * 2),
            idea_topics: Vec::new(),
            asks: Vec::with_capacity(contacts),
        };
        let inputs: Vec<_> = (0..contacts)
            .map(|c| rows.add_contact(c, rng, now))
            .collect();
        let ids: Vec<Uuid> = inputs.iter().map(|(id, _, _)| *id).collect();
        let mut histories: HashMap<Uuid, History> = HashMap::new();
        for (c, &id) in ids.iter().enumerate() {
            for _ in 0..5 {
                rows.add_conversation(c, id, &ids, &mut histories, rng, now);
            }
            for _ in 0..2 {
                let gives = rows.add_offer(c, id, rng, now);
                histories.entry(id).or_default().gives += gives;
            }
            let asks = rows.add_ask(c, id, rng, now);
            histories.entry(id).or_default().asks += asks;
        }
        for (model, (id, cadence, added)) in rows.contacts.iter_mut().zip(inputs) {
            let history = histories.remove(&id).unwrap_or_default();
            ledger::set(model, &Ledger::of(history, cadence, added, ZONE));
        }
        rows
    }

    /// Contact `c` and its tag; returns what its ledger needs besides its records.
    fn add_contact(
        &mut self,
        c: usize,
        rng: &mut Rng,
        now: DateTime<Utc>,
    ) -> (Uuid, Option<i32>, DateTime<Utc>) {
        let id = Uuid::now_v7();
        let name = format!(
            "{} {} {c}",
            FIRST[rng.below(FIRST.len())],
            LAST[rng.below(LAST.len())]
        );
        let company = COMPANIES[rng.below(COMPANIES.len())];
        let topic = TOPICS[rng.below(TOPICS.len())];
        let added = now - Duration::days(30 + rng.below(360) as i64);
        let cadence = [None, Some(14), Some(30), Some(90)][rng.below(4)];
        self.contacts.push(contact::ActiveModel {
            id: Set(id),
            owner_id: Set(self.owner),
            name_key: Set(crate::domain::suggestions::name_key(&name)),
            full_name: Set(name.clone()),
            preferred_name: Set(None),
            email: Set(Some(format!("contact{c}@example.com"))),
            phone: Set(None),
            company: Set(Some(company.into())),
            title: Set(Some("Engineer".into())),
            location: Set(None),
            links: Set(serde_json::json!([])),
            how_we_met: Set(Some("Conference".into())),
            met_on: Set(None),
            introduced_by_id: Set(None),
            interests: Set(serde_json::json!([topic])),
            notes: Set(None),
            cadence_days: Set(cadence),
            archived_at: Set(None),
            search_text: Set(search_text([
                Some(name.as_str()),
                Some(company),
                Some("Engineer"),
            ])),
            created_at: Set(added),
            updated_at: Set(added),
            // The ledger is set once the contact's records are generated.
            ..Default::default()
        });
        self.tags.push(contact_tag::ActiveModel {
            contact_id: Set(id),
            tag: Set(topic.into()),
            owner_id: Set(self.owner),
        });
        match self
            .tag_counts
            .iter_mut()
            .find(|row| row.tag.as_ref() == topic)
        {
            Some(row) => row.contacts = Set(row.contacts.as_ref() + 1),
            None => self.tag_counts.push(tag_count::ActiveModel {
                owner_id: Set(self.owner),
                tag: Set(topic.into()),
                contacts: Set(1),
            }),
        }
        (id, cadence, added)
    }

    /// A past conversation of contact `c` (`id`) with up to two others of `ids`, counted in
    /// each participant's history.
    fn add_conversation(
        &mut self,
        c: usize,
        id: Uuid,
        ids: &[Uuid],
        histories: &mut HashMap<Uuid, History>,
        rng: &mut Rng,
        now: DateTime<Utc>,
    ) {
        let conversation_id = Uuid::now_v7();
        let at = now - Duration::minutes(rng.below(365 * 24 * 60) as i64);
        let thanks = THANKS[rng.below(THANKS.len())];
        let summary = format!("{} number {c}", CHANNELS[rng.below(CHANNELS.len())]);
        self.conversations.push(conversation::ActiveModel {
            id: Set(conversation_id),
            owner_id: Set(self.owner),
            occurred_at: Set(at),
            channel: Set(CHANNELS[rng.below(CHANNELS.len())].into()),
            initiated_by: Set(None),
            duration_minutes: Set(Some(30)),
            search_text: Set(search_text([Some(summary.as_str())])),
            summary: Set(summary),
            notes: Set(None),
            learned: Set(None),
            thank_you_status: Set(thanks.into()),
            thank_you_sent_at: Set((thanks == "sent").then_some(at)),
            next_step: Set(None),
            next_step_due_on: Set(None),
            next_step_done_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        });
        let mut with = vec![id];
        for _ in 0..rng.below(3) {
            let other = ids[rng.below(ids.len())];
            if !with.contains(&other) {
                with.push(other);
            }
        }
        for contact_id in with {
            // Every conversation is in the past: the contact's history grows.
            let h = histories.entry(contact_id).or_default();
            h.conversation_count += 1;
            h.first_conversation_at = h.first_conversation_at.min(Some(at)).or(Some(at));
            h.last_conversation_at = h.last_conversation_at.max(Some(at));
            h.thank_yous_owed += i64::from(thanks == "owed");
            self.participants
                .push(conversation_participant::ActiveModel {
                    conversation_id: Set(conversation_id),
                    contact_id: Set(contact_id),
                    owner_id: Set(self.owner),
                    occurred_at: Set(Some(at)),
                    thank_you_status: Set(Some(thanks.into())),
                    thank_you_due_on: Set(follow_ups::stored_thank_you_due(thanks, at, ZONE)),
                });
        }
    }

    /// An offer to contact `c` (`id`); returns the gives it counts for the contact.
    fn add_offer(&mut self, c: usize, id: Uuid, rng: &mut Rng, now: DateTime<Utc>) -> i64 {
        let status = OFFER_STATUSES[rng.below(OFFER_STATUSES.len())];
        let created = now - Duration::days(rng.below(200) as i64);
        let (offer_id, topic) = (Uuid::now_v7(), TOPICS[rng.below(TOPICS.len())]);
        if status == "idea" {
            self.idea_topics.push(idea_topic::ActiveModel {
                offer_id: Set(offer_id),
                topic: Set(topic.into()),
                owner_id: Set(self.owner),
                created_at: Set(created),
            });
        }
        self.offers.push(value_offer::ActiveModel {
            id: Set(offer_id),
            owner_id: Set(self.owner),
            contact_id: Set(id),
            conversation_id: Set(None),
            kind: Set("article".into()),
            title: Set(format!("Article for {c}")),
            details: Set(None),
            status: Set(status.into()),
            url: Set(None),
            topics: Set(serde_json::json!([topic])),
            introduced_contact_id: Set(None),
            offered_at: Set((status != "idea").then_some(created)),
            responded_at: Set(matches!(status, "acknowledged" | "declined").then_some(created)),
            created_at: Set(created),
            updated_at: Set(created),
            deliver_due_on: Set(follow_ups::stored_deliver_due(status, created, ZONE)),
        });
        i64::from(OfferStatus::is_given(status))
    }

    /// An ask of contact `c` (`id`); returns the asks it counts for the contact.
    fn add_ask(&mut self, c: usize, id: Uuid, rng: &mut Rng, now: DateTime<Utc>) -> i64 {
        let status = ASK_STATUSES[rng.below(ASK_STATUSES.len())];
        let created = now - Duration::days(rng.below(200) as i64);
        let asked_at = (status != "planned").then_some(created);
        self.asks.push(ask::ActiveModel {
            id: Set(Uuid::now_v7()),
            owner_id: Set(self.owner),
            contact_id: Set(id),
            conversation_id: Set(None),
            kind: Set("advice".into()),
            title: Set(format!("Advice from {c}")),
            details: Set(None),
            status: Set(status.into()),
            asked_at: Set(asked_at),
            resolved_at: Set(matches!(status, "granted" | "declined").then_some(created)),
            created_at: Set(created),
            updated_at: Set(created),
            follow_up_due_on: Set(follow_ups::stored_ask_due(status, asked_at, created, ZONE)),
        });
        i64::from(AskStatus::is_asked(status))
    }
}
