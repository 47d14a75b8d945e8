//! `rapport seed-bench`: the benchmark's data set, written in bulk. By default 100 users ×
//! 1,000 contacts, each contact with 5 conversations of 1–3 participants, 2 value offers and
//! 1 ask. Rows go straight in with multi-row inserts, all in one transaction, through the
//! same entities the services use; the users can log in with `PASSWORD`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    ask, contact, contact_tag, conversation, conversation_participant, idea_topic, tag_count, user,
    value_offer,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use uuid::Uuid;

use crate::auth::password;
use crate::db::Db;
use crate::domain::follow_ups;
use crate::domain::labels::search_text;
use crate::domain::records::{AskStatus, OfferStatus};
use crate::domain::relationship::{History, Ledger};
use crate::services::ledger;

pub const PASSWORD: &str = "rapport-bench-2026";

/// The bench users' time zone.
const ZONE: chrono_tz::Tz = chrono_tz::Europe::London;

/// The email of bench user `i` (0-based).
pub fn email(i: usize) -> String {
    format!("bench-{i:03}@rapport.example")
}

/// How much to write.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub users: usize,
    pub contacts_per_user: usize,
}

impl Default for Size {
    fn default() -> Self {
        Self {
            users: 100,
            contacts_per_user: 1000,
        }
    }
}

/// Rows written, by table.
#[derive(Debug, Default)]
pub struct Written {
    pub users: usize,
    pub contacts: usize,
    pub conversations: usize,
    pub participants: usize,
    pub offers: usize,
    pub asks: usize,
}

/// A small deterministic generator (SplitMix64): the same data set on every run.
struct Rng(u64);

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

/// Rows per multi-row INSERT: well under SQLite's 32,766 bound parameters for the widest row.
const CHUNK: usize = 500;

async fn insert_chunks<E, A>(
    txn: &sea_orm::DatabaseTransaction,
    rows: Vec<A>,
) -> Result<(), sea_orm::DbErr>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        E::insert_many(chunk).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// The page cache of the writer connection while it loads, in KiB. Everything goes in as one
/// transaction, and the indexes are made again from the whole tables: with the server's cache
/// (`db::SQLITE_CACHE_KIB`) their sorts and the rows' pages went back and forth to the
/// operating system. Measured at 100,000 contacts (`seed-bench --users 1`): 36.8 s with the
/// server's cache, 28.8 s with this one, peak RSS 0.74 against 1.21 GB. A cache fills only as
/// pages are touched, so a small data set keeps a small one.
const LOAD_CACHE_KIB: i64 = 2 * 1024 * 1024;

/// Replaces every bench user (and all they own) with a fresh data set of `size`, in one
/// transaction (see [`load_all`]): a failure or a crash part way leaves the database as it
/// was.
pub async fn seed(db: &Db, size: Size, now: DateTime<Utc>) -> anyhow::Result<Written> {
    use sea_orm::ConnectionTrait;

    let hash = password::hash(PASSWORD).await?;
    let sqlite = db.backend() == sea_orm::DbBackend::Sqlite;
    if sqlite {
        cache_size(db, LOAD_CACHE_KIB).await?;
    }
    let loaded = load_all(db, size, &hash, now).await;
    // The load's own error first: a cache that could not be restored is the lesser news.
    let restored = if sqlite {
        cache_size(db, crate::db::SQLITE_CACHE_KIB).await
    } else {
        Ok(())
    };
    let written = loaded?;
    restored?;
    if sqlite {
        // The load went through the write-ahead log, which keeps its size once checkpointed
        // (as large as the data set); a running server's writes would only reuse it.
        db.writer()
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    } else {
        // What autovacuum would do within minutes of a bulk load, done before anything is
        // measured: the planner's statistics (a table never analyzed looks a few rows long, and
        // an owner's equality then seems selective enough to filter every contact) and the
        // visibility map that lets index-only scans skip the table.
        db.writer().execute_unprepared("VACUUM ANALYZE").await?;
    }
    Ok(written)
}

/// The tables the bench data set fills.
fn loaded_tables() -> [&'static str; 9] {
    use sea_orm::EntityName;
    [
        user::Entity.table_name(),
        contact::Entity.table_name(),
        contact_tag::Entity.table_name(),
        tag_count::Entity.table_name(),
        conversation::Entity.table_name(),
        conversation_participant::Entity.table_name(),
        value_offer::Entity.table_name(),
        idea_topic::Entity.table_name(),
        ask::Entity.table_name(),
    ]
}

/// Deletes the bench users and loads the new ones, in one transaction. The secondary indexes
/// of the tables it fills are dropped first and made again after the last row: one sort per
/// index instead of a search per row in each of them. At 100,000 contacts on SQLite the seed
/// took 65 s with them in place, 29 s without (the indexes made again in 6.4 s of it); 20
/// users of 1,000 on PostgreSQL, 9.2 s and 7.5 s.
/// Activity is counted after, through those indexes. The drop takes each table's exclusive
/// lock until the commit: a server running on the same database waits for the seed.
async fn load_all(db: &Db, size: Size, hash: &str, now: DateTime<Utc>) -> anyhow::Result<Written> {
    use sea_orm::ConnectionTrait;

    let txn = db.writer().begin().await?;
    user::Entity::delete_many()
        .filter(user::Column::Email.like("bench-%@rapport.example"))
        .exec(&txn)
        .await?;
    let indexes = secondary_indexes(&txn).await?;
    for (name, _) in &indexes {
        txn.execute_unprepared(&format!("DROP INDEX \"{name}\""))
            .await?;
    }
    let mut rng = Rng(0x5eed);
    let mut written = Written::default();
    let mut owners = Vec::with_capacity(size.users);
    for u in 0..size.users {
        let rows = Rows::generate(u, size.contacts_per_user, hash, &mut rng, now);
        owners.push(rows.owner);
        rows.load(&txn, &mut written).await?;
    }
    for (_, definition) in &indexes {
        txn.execute_unprepared(definition).await?;
    }
    for owner in owners {
        crate::services::activity::rebuild_owner(&txn, owner, ZONE).await?;
    }
    txn.commit().await?;
    Ok(written)
}

/// The name and definition of each index of the [`loaded_tables`] that no constraint needs
/// (SQLite's own indexes for keys have no definition; PostgreSQL's back a constraint).
async fn secondary_indexes(
    conn: &impl sea_orm::ConnectionTrait,
) -> Result<Vec<(String, String)>, sea_orm::DbErr> {
    let backend = conn.get_database_backend();
    let tables = loaded_tables()
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = match backend {
        sea_orm::DbBackend::Postgres => format!(
            "SELECT c.relname, pg_get_indexdef(c.oid) \
             FROM pg_index AS x \
             JOIN pg_class AS c ON c.oid = x.indexrelid \
             JOIN pg_class AS t ON t.oid = x.indrelid \
             WHERE t.relnamespace = current_schema()::regnamespace \
               AND t.relname IN ({tables}) \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = x.indexrelid) \
             ORDER BY c.relname"
        ),
        _ => format!(
            "SELECT name, sql FROM sqlite_master \
             WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({tables}) \
             ORDER BY name"
        ),
    };
    conn.query_all_raw(sea_orm::Statement::from_string(backend, sql))
        .await?
        .iter()
        .map(|row| row.try_get_many_by_index())
        .collect()
}

/// Sets the page cache of SQLite's writer connection, in KiB.
async fn cache_size(db: &Db, kib: i64) -> Result<(), sea_orm::DbErr> {
    use sea_orm::ConnectionTrait;
    db.writer()
        .execute_unprepared(&format!("PRAGMA cache_size = -{kib}"))
        .await?;
    Ok(())
}

/// Everything one bench user owns, generated before anything is written.
struct Rows {
    owner: Uuid,
    account: user::ActiveModel,
    contacts: Vec<contact::ActiveModel>,
    tags: Vec<contact_tag::ActiveModel>,
    tag_counts: Vec<tag_count::ActiveModel>,
    conversations: Vec<conversation::ActiveModel>,
    participants: Vec<conversation_participant::ActiveModel>,
    offers: Vec<value_offer::ActiveModel>,
    idea_topics: Vec<idea_topic::ActiveModel>,
    asks: Vec<ask::ActiveModel>,
}

impl Rows {
    /// Bench user `u` with `contacts` contacts, each with its records, and the ledger each
    /// contact's records make.
    fn generate(u: usize, contacts: usize, hash: &str, rng: &mut Rng, now: DateTime<Utc>) -> Self {
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

    /// Writes the user and everything they own in the caller's transaction.
    async fn load(
        self,
        txn: &sea_orm::DatabaseTransaction,
        written: &mut Written,
    ) -> anyhow::Result<()> {
        user::Entity::insert(self.account)
            .exec_without_returning(txn)
            .await?;
        let counts = [
            self.contacts.len(),
            self.conversations.len(),
            self.participants.len(),
            self.offers.len(),
            self.asks.len(),
        ];
        insert_chunks(txn, self.contacts).await?;
        insert_chunks(txn, self.tags).await?;
        insert_chunks(txn, self.tag_counts).await?;
        insert_chunks(txn, self.conversations).await?;
        insert_chunks(txn, self.participants).await?;
        insert_chunks(txn, self.offers).await?;
        insert_chunks(txn, self.idea_topics).await?;
        insert_chunks(txn, self.asks).await?;
        let [contacts, conversations, participants, offers, asks] = counts;
        written.users += 1;
        written.contacts += contacts;
        written.conversations += conversations;
        written.participants += participants;
        written.offers += offers;
        written.asks += asks;
        Ok(())
    }
}
