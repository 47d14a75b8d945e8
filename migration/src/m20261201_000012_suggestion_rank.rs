//! What suggestions rank by, stored on each contact so the best contacts are found with an
//! index instead of scoring the whole network: `suggestion_base`, the points that do not
//! depend on the date (thank-yous owed and taking), and `name_key`, the lower-cased name that
//! orders equal scores, compared byte by byte (`COLLATE "C"` on PostgreSQL).
//!
//! Two partial indexes over the contacts not archived: by base, cadence, next check-in, name
//! and id (the order of the due contacts of one base and cadence), and by base, name and id
//! (the contacts with nothing due).
//!
//! Existing rows get `name_key` from SQL's `lower` and `refresh_at` at the epoch, which marks
//! their ledger (the base included) out of date: the application recomputes them after
//! migrating and rewrites every `name_key` SQL's `lower` got wrong (it knows ASCII only).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Index name and columns after `owner_id`.
const INDEXES: [(&str, &[Contact]); 2] = [
    (
        "idx_contact_suggest_due",
        &[
            Contact::SuggestionBase,
            Contact::CadenceDays,
            Contact::NextCheckInOn,
            Contact::NameKey,
            Contact::Id,
        ],
    ),
    (
        "idx_contact_suggest_name",
        &[Contact::SuggestionBase, Contact::NameKey, Contact::Id],
    ),
];

fn columns(backend: DbBackend) -> Vec<ColumnDef> {
    let mut name_key = ColumnDef::new(Contact::NameKey);
    name_key.text().not_null().default("");
    if backend == DbBackend::Postgres {
        name_key.extra("COLLATE \"C\"");
    }
    vec![
        ColumnDef::new(Contact::SuggestionBase)
            .big_integer()
            .not_null()
            .default(0)
            .to_owned(),
        name_key,
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
        for mut column in columns(manager.get_database_backend()) {
            manager
                .alter_table(
                    Table::alter()
                        .table(Contact::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(Contact::Table)
                    .value(Contact::RefreshAt, ChronoDateTimeUtc::UNIX_EPOCH)
                    .value(Contact::NameKey, Func::lower(Expr::col(Contact::FullName)))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(Contact::Table).col(Contact::OwnerId);
            for col in cols {
                index.col(*col);
            }
            index.and_where(Expr::col(Contact::ArchivedAt).is_null());
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Contact::Table).to_owned())
                .await?;
        }
        for column in columns(manager.get_database_backend()).into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Contact::Table)
                        .drop_column(Alias::new(column.get_column_name()))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Contact {
    Table,
    Id,
    OwnerId,
    FullName,
    CadenceDays,
    ArchivedAt,
    RefreshAt,
    NextCheckInOn,
    SuggestionBase,
    NameKey,
}
