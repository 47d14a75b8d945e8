//! `rapport seed-bench`: the benchmark's data set, written in bulk. By default 100 users ×
//! 1,000 contacts, each contact with 5 conversations of 1–3 participants, 2 value offers and
//! 1 ask. Rows go straight in with multi-row inserts, all in one transaction, through the
//! same entities the services use; the users can log in with `PASSWORD`.

use chrono::{DateTime, Utc};
use entity::{
    ask, contact, contact_tag, conversation, conversation_participant, idea_topic, tag_count, user,
    value_offer,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::auth::password;
use crate::db::Db;

pub const PASSWORD: &str = "rapport-bench-2026";

/// The bench users' time zone.
const ZONE: chrono_tz::Tz = chrono_tz::Europe::London;

mod rows;

use self::rows::{Rng, Rows};

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
/// (SQLite's own indexes for keys have no definition, and its unique indexes are the keys that
/// other tables' foreign keys refer to; PostgreSQL's back a constraint).
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
               AND sql NOT LIKE 'CREATE UNIQUE INDEX%' \
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

impl Rows {
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
