//! Every reference between two rows of one owner carries the owner: `(owner_id, contact_id)`
//! references `contact (owner_id, id)`, and likewise for each conversation, offer and contact
//! a row points to. A row of one owner pointing at another owner's row is then refused by the
//! database itself, whatever the code that writes it checks.
//!
//! The referenced tables gain a unique key on `(owner_id, id)` (`uq_<table>_owner_id`), the
//! target of the new foreign keys. The constraints keep their names, which
//! `error::lost_reference` reads on PostgreSQL.
//!
//! **A reference nulled when its row goes** (an offer's conversation, say) must null only its
//! own column, never `owner_id`. PostgreSQL says so with `ON DELETE SET NULL (column)`
//! (PostgreSQL 15 and later). SQLite's `SET NULL` nulls every column of the key, and
//! `owner_id` is `NOT NULL`, so there the single-column key that nulls the reference stays and
//! the composite one is added beside it without an action: when the row referred to goes, the
//! first nulls the reference, and a null reference satisfies the second.
//!
//! **SQLite cannot add a constraint to a table**: each table whose keys change is rebuilt
//! (created anew with them, filled from the old one, which is then dropped, renamed and given
//! its indexes back), which needs its foreign keys off, or dropping `contact` would delete
//! every row that references it. `db::migrate_up` and `rapport migrate down` run the
//! migrations with them off, in one transaction that checks every key before it commits
//! (`PRAGMA foreign_key_check`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::sqlite::rebuild;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables referred to, which gain the unique key `(owner_id, id)`.
pub(crate) const REFERRED: [&str; 3] = ["contact", "conversation", "value_offer"];

/// What happens to a row when the row it refers to is deleted.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum OnDelete {
    Cascade,
    SetNull,
}

impl OnDelete {
    /// The action of a single-column key.
    fn sql(self) -> &'static str {
        match self {
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        }
    }
}

/// Each reference: its table, constraint name (PostgreSQL), column, the table referred to, and
/// what a deletion there does to it.
pub(crate) const REFERENCES: [(&str, &str, &str, &str, OnDelete); 10] = [
    (
        "contact",
        "fk_contact_introduced_by",
        "introduced_by_id",
        "contact",
        OnDelete::SetNull,
    ),
    (
        "contact_tag",
        "fk_contact_tag_contact",
        "contact_id",
        "contact",
        OnDelete::Cascade,
    ),
    (
        "conversation_participant",
        "fk_participant_conversation",
        "conversation_id",
        "conversation",
        OnDelete::Cascade,
    ),
    (
        "conversation_participant",
        "fk_participant_contact",
        "contact_id",
        "contact",
        OnDelete::Cascade,
    ),
    (
        "value_offer",
        "fk_value_offer_contact",
        "contact_id",
        "contact",
        OnDelete::Cascade,
    ),
    (
        "value_offer",
        "fk_value_offer_conversation",
        "conversation_id",
        "conversation",
        OnDelete::SetNull,
    ),
    (
        "value_offer",
        "fk_value_offer_introduced_contact",
        "introduced_contact_id",
        "contact",
        OnDelete::SetNull,
    ),
    (
        "ask",
        "fk_ask_contact",
        "contact_id",
        "contact",
        OnDelete::Cascade,
    ),
    (
        "ask",
        "fk_ask_conversation",
        "conversation_id",
        "conversation",
        OnDelete::SetNull,
    ),
    (
        "idea_topic",
        "fk_idea_topic_offer",
        "offer_id",
        "value_offer",
        OnDelete::Cascade,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                postgres_owner_uniques(conn).await?;
                for (table, name, column, referred, on_delete) in REFERENCES {
                    conn.execute_unprepared(&format!(
                        "ALTER TABLE \"{table}\" DROP CONSTRAINT \"{name}\", ADD {}",
                        postgres_owner_key(name, column, referred, on_delete)
                    ))
                    .await?;
                }
            }
            _ => {
                for table in REFERRED {
                    conn.execute_unprepared(&format!(
                        "CREATE UNIQUE INDEX \"uq_{table}_owner_id\" \
                         ON \"{table}\" (\"owner_id\", \"id\")"
                    ))
                    .await?;
                }
                for table in rebuilt_tables() {
                    rebuild(conn, table, |sql| edit_keys(sql, table, true)).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for (table, name, column, referred, on_delete) in REFERENCES {
                    conn.execute_unprepared(&format!(
                        "ALTER TABLE \"{table}\" DROP CONSTRAINT \"{name}\", \
                         ADD CONSTRAINT \"{name}\" {}",
                        single_key(column, referred, on_delete)
                    ))
                    .await?;
                }
                for table in REFERRED {
                    conn.execute_unprepared(&format!(
                        "ALTER TABLE \"{table}\" DROP CONSTRAINT \"uq_{table}_owner_id\""
                    ))
                    .await?;
                }
            }
            _ => {
                for table in rebuilt_tables() {
                    rebuild(conn, table, |sql| edit_keys(sql, table, false)).await?;
                }
                for table in REFERRED {
                    conn.execute_unprepared(&format!("DROP INDEX \"uq_{table}_owner_id\""))
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// Adds PostgreSQL's unique keys `(owner_id, id)` of [`REFERRED`], the owner keys' targets.
pub(crate) async fn postgres_owner_uniques<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    for table in REFERRED {
        conn.execute_unprepared(&format!(
            "ALTER TABLE \"{table}\" ADD CONSTRAINT \"uq_{table}_owner_id\" \
             UNIQUE (\"owner_id\", \"id\")"
        ))
        .await?;
    }
    Ok(())
}

/// PostgreSQL's constraint `name` of the key that carries the owner: a deletion that nulls
/// the reference nulls its own column only.
pub(crate) fn postgres_owner_key(
    name: &str,
    column: &str,
    referred: &str,
    on_delete: OnDelete,
) -> String {
    let action = match on_delete {
        OnDelete::Cascade => "CASCADE".to_owned(),
        OnDelete::SetNull => format!("SET NULL (\"{column}\")"),
    };
    format!(
        "CONSTRAINT \"{name}\" FOREIGN KEY (\"owner_id\", \"{column}\") \
         REFERENCES \"{referred}\" (\"owner_id\", \"id\") ON DELETE {action}"
    )
}

/// The tables holding a reference, each once, in the order of [`REFERENCES`].
fn rebuilt_tables() -> Vec<&'static str> {
    let mut tables: Vec<&str> = REFERENCES.iter().map(|r| r.0).collect();
    tables.dedup();
    tables
}

/// The clause of a single-column key, as the migration that made it wrote it (SQLite's
/// text, PostgreSQL's definition).
fn single_key(column: &str, referred: &str, on_delete: OnDelete) -> String {
    format!(
        "FOREIGN KEY (\"{column}\") REFERENCES \"{referred}\" (\"id\") ON DELETE {}",
        on_delete.sql()
    )
}

/// SQLite's clause of the key that carries the owner.
fn owner_key(column: &str, referred: &str, on_delete: OnDelete) -> String {
    let action = match on_delete {
        OnDelete::Cascade => " ON DELETE CASCADE",
        // Nulled by the single-column key kept beside it (see the module comment).
        OnDelete::SetNull => "",
    };
    format!(
        "FOREIGN KEY (\"owner_id\", \"{column}\") REFERENCES \"{referred}\" (\"owner_id\", \"id\"){action}"
    )
}

/// `table`'s `CREATE TABLE` with its references keyed by owner (`up`) or back by id alone:
/// a cascading key is replaced, a nulling one gains its owner key beside it. Each clause must
/// be found exactly once, or the schema is not the one this migration knows and it fails.
fn edit_keys(sql: &str, table: &str, up: bool) -> Result<String, DbErr> {
    let mut sql = sql.to_owned();
    for (_, _, column, referred, on_delete) in REFERENCES.iter().filter(|r| r.0 == table) {
        let single = single_key(column, referred, *on_delete);
        let owner = owner_key(column, referred, *on_delete);
        let (from, to) = match (on_delete, up) {
            (OnDelete::Cascade, true) => (single, owner),
            (OnDelete::Cascade, false) => (owner, single),
            (OnDelete::SetNull, true) => (single.clone(), format!("{single}, {owner}")),
            (OnDelete::SetNull, false) => (format!("{single}, {owner}"), single),
        };
        if sql.matches(from.as_str()).count() != 1 {
            return Err(DbErr::Migration(format!(
                "{table}: expected the clause `{from}` once in `{sql}`"
            )));
        }
        sql = sql.replacen(from.as_str(), &to, 1);
    }
    Ok(sql)
}
