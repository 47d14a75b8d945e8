//! Every owned table keys by its owner: `owner_id` leads the primary key of each table whose
//! rows belong to one user (`(owner_id, id)`, and `(owner_id, conversation_id, contact_id)`,
//! `(owner_id, contact_id, tag)`, `(owner_id, offer_id, topic)` for the tables that join two
//! rows), so that a database distributed by `owner_id` can hold each table as it is (see
//! `docs/SCALING.md`), and every lookup by key names the owner it belongs to.
//!
//! The unique keys on `(owner_id, id)` that the references of `owner_scoped_references`
//! point at become the primary keys; the references are made again to point at those. Indexes
//! the new keys make redundant go: a token's on `(owner_id, id)` and on `(owner_id)`. The
//! indexes of the referring columns gain `owner_id`, so that a foreign key's check of the rows
//! that refer to one deleted searches them (see [`REFERRING`]).
//!
//! **SQLite** rebuilds each table (`crate::sqlite::rebuild`). There `contact` and
//! `conversation` also keep `id` unique on its own: the target of the single-column keys that
//! null a reference when its row goes (see `owner_scoped_references`), which SQLite requires to
//! be unique. A SQLite file is never distributed, and the unique `id` costs the index the old
//! primary key had.
//!
//! Tokens (`personal_token`, `refresh_token`, `calendar_feed`) keep their hash unique across
//! owners: a token is looked up by its hash before its owner is known (`docs/SCALING.md`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::m20261203_000018_owner_scoped_references::{
    REFERENCES, REFERRED, postgres_owner_key, postgres_owner_uniques,
};
use crate::sqlite::rebuild;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each owned table whose primary key changes: its key before, after `owner_id`.
const KEYED: [(&str, &[&str]); 9] = [
    ("contact", &["id"]),
    ("conversation", &["id"]),
    ("value_offer", &["id"]),
    ("ask", &["id"]),
    ("personal_token", &["id"]),
    ("refresh_token", &["id"]),
    (
        "conversation_participant",
        &["conversation_id", "contact_id"],
    ),
    ("contact_tag", &["contact_id", "tag"]),
    ("idea_topic", &["offer_id", "topic"]),
];

/// Tables whose `id` stays unique on its own on SQLite (see the module comment).
const SQLITE_UNIQUE_ID: [&str; 2] = ["contact", "conversation"];

/// The indexes of the columns that refer to another owned row, each gaining `owner_id` after
/// its column: name, table, column. A foreign key checks the rows that refer to one it deletes
/// by a query of its own on `(owner_id, column)`; SQLite's planner, between an index on the
/// column and one that leads with `owner_id`, may walk the owner's rows by the second.
const REFERRING: [(&str, &str, &str); 4] = [
    ("idx_contact_introduced_by", "contact", "introduced_by_id"),
    (
        "idx_value_offer_conversation_id",
        "value_offer",
        "conversation_id",
    ),
    (
        "idx_value_offer_introduced_contact_id",
        "value_offer",
        "introduced_contact_id",
    ),
    ("idx_ask_conversation_id", "ask", "conversation_id"),
];

/// Makes the indexes of [`REFERRING`] again, with `owner_id` (`up`) or without.
async fn referring<C: ConnectionTrait>(conn: &C, up: bool) -> Result<(), DbErr> {
    for (name, table, column) in REFERRING {
        let owner = if up { ", \"owner_id\"" } else { "" };
        conn.execute_unprepared(&format!("DROP INDEX \"{name}\""))
            .await?;
        conn.execute_unprepared(&format!(
            "CREATE INDEX \"{name}\" ON \"{table}\" (\"{column}\"{owner})"
        ))
        .await?;
    }
    Ok(())
}

/// Indexes the new primary keys make redundant: name, table, columns.
const REDUNDANT: [(&str, &str, &str); 2] = [
    (
        "idx_personal_token_owner_id",
        "personal_token",
        "\"owner_id\", \"id\"",
    ),
    ("idx_refresh_token_owner", "refresh_token", "\"owner_id\""),
];

/// Makes the indexes of [`REDUNDANT`] again, on the way down.
async fn redundant_again<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    for (name, table, columns) in REDUNDANT {
        conn.execute_unprepared(&format!(
            "CREATE INDEX \"{name}\" ON \"{table}\" ({columns})"
        ))
        .await?;
    }
    Ok(())
}

fn quoted(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The key of `table` after this migration (`up`) or before it.
fn key(columns: &[&str], up: bool) -> String {
    if up {
        format!("\"owner_id\", {}", quoted(columns))
    } else {
        quoted(columns)
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => postgres(conn, true).await,
            _ => {
                for table in REFERRED {
                    conn.execute_unprepared(&format!("DROP INDEX \"uq_{table}_owner_id\""))
                        .await?;
                }
                for (name, _, _) in REDUNDANT {
                    conn.execute_unprepared(&format!("DROP INDEX \"{name}\""))
                        .await?;
                }
                // Before the rebuilds, which make each table's indexes again as they stand.
                referring(conn, true).await?;
                for (table, columns) in KEYED {
                    rebuild(conn, table, |sql| sqlite_key(sql, table, columns, true)).await?;
                }
                Ok(())
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => postgres(conn, false).await,
            _ => {
                referring(conn, false).await?;
                for (table, columns) in KEYED {
                    rebuild(conn, table, |sql| sqlite_key(sql, table, columns, false)).await?;
                }
                redundant_again(conn).await?;
                for table in REFERRED {
                    conn.execute_unprepared(&format!(
                        "CREATE UNIQUE INDEX \"uq_{table}_owner_id\" \
                         ON \"{table}\" (\"owner_id\", \"id\")"
                    ))
                    .await?;
                }
                Ok(())
            }
        }
    }
}

/// PostgreSQL, either way: the references that point at the keys are dropped, the keys
/// changed, and the references made again (their names and actions unchanged).
async fn postgres<C: ConnectionTrait>(conn: &C, up: bool) -> Result<(), DbErr> {
    for (table, name, ..) in REFERENCES {
        conn.execute_unprepared(&format!(
            "ALTER TABLE \"{table}\" DROP CONSTRAINT \"{name}\""
        ))
        .await?;
    }
    referring(conn, up).await?;
    if up {
        for table in REFERRED {
            conn.execute_unprepared(&format!(
                "ALTER TABLE \"{table}\" DROP CONSTRAINT \"uq_{table}_owner_id\""
            ))
            .await?;
        }
        for (name, ..) in REDUNDANT {
            conn.execute_unprepared(&format!("DROP INDEX \"{name}\""))
                .await?;
        }
    }
    for (table, columns) in KEYED {
        let current = primary_key_name(conn, table).await?;
        conn.execute_unprepared(&format!(
            "ALTER TABLE \"{table}\" DROP CONSTRAINT \"{current}\", \
             ADD CONSTRAINT \"{table}_pkey\" PRIMARY KEY ({})",
            key(columns, up)
        ))
        .await?;
    }
    if !up {
        redundant_again(conn).await?;
        postgres_owner_uniques(conn).await?;
    }
    for (table, name, column, referred, on_delete) in REFERENCES {
        conn.execute_unprepared(&format!(
            "ALTER TABLE \"{table}\" ADD {}",
            postgres_owner_key(name, column, referred, on_delete)
        ))
        .await?;
    }
    Ok(())
}

/// The name of `table`'s primary key on PostgreSQL.
async fn primary_key_name<C: ConnectionTrait>(conn: &C, table: &str) -> Result<String, DbErr> {
    conn.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT conname::text FROM pg_constraint \
         WHERE conrelid = to_regclass(quote_ident($1)) AND contype = 'p'",
        [table.into()],
    ))
    .await?
    .ok_or_else(|| DbErr::Migration(format!("{table} has no primary key")))?
    .try_get_by_index(0)
}

/// SQLite's `CREATE TABLE` of `table` (after its name) with its primary key led by `owner_id`
/// (`up`) or back as it was. Each clause must be found exactly once, or the schema is not the
/// one this migration knows and it fails.
fn sqlite_key(sql: &str, table: &str, columns: &[&str], up: bool) -> Result<String, DbErr> {
    // The pairs (before, after) of the edit up; down swaps them.
    let mut edits: Vec<(String, String)> = Vec::new();
    if columns == ["id"] {
        let unique = if SQLITE_UNIQUE_ID.contains(&table) {
            "UNIQUE (\"id\"), "
        } else {
            ""
        };
        edits.push((
            "\"id\" uuid_text NOT NULL PRIMARY KEY, ".to_owned(),
            "\"id\" uuid_text NOT NULL, ".to_owned(),
        ));
        // Table constraints follow the columns; each of these tables has a reference to
        // its owner, the first of its constraints.
        edits.push((
            "FOREIGN KEY (\"owner_id\") REFERENCES \"user\"".to_owned(),
            format!(
                "PRIMARY KEY (\"owner_id\", \"id\"), {unique}\
                 FOREIGN KEY (\"owner_id\") REFERENCES \"user\""
            ),
        ));
    } else {
        edits.push((
            format!("PRIMARY KEY ({})", key(columns, false)),
            format!("PRIMARY KEY ({})", key(columns, true)),
        ));
    }
    let mut sql = sql.to_owned();
    for (before, after) in edits {
        let (from, to) = if up { (before, after) } else { (after, before) };
        if sql.matches(from.as_str()).count() != 1 {
            return Err(DbErr::Migration(format!(
                "{table}: expected `{from}` once in `{sql}`"
            )));
        }
        sql = sql.replacen(from.as_str(), &to, 1);
    }
    Ok(sql)
}
