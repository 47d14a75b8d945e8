//! The relationship ledger: each contact row stores what its relationship is derived from
//! (past conversations, first and last of them, thank-yous owed, gives, asks, the next
//! planned conversation) and the local dates on which its health and one-off status change,
//! so lists filter and sort on them with indexes instead of regrouping the whole network's
//! history on every read. The application keeps them exact in the transaction of every write
//! that changes an input.
//!
//! The existing rows get the columns' defaults and `refresh_at` at the epoch, which marks
//! them out of date: the application recomputes rows so marked after migrating (and any read
//! would recompute them first), so the migration itself needs no time-zone arithmetic.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Index name and columns after `owner_id`.
const INDEXES: [(&str, &[Contact]); 5] = [
    (
        "idx_contact_owner_next_check_in",
        &[Contact::NextCheckInOn, Contact::Id],
    ),
    (
        "idx_contact_owner_last_conversation",
        &[Contact::LastConversationAt, Contact::Id],
    ),
    ("idx_contact_owner_refresh", &[Contact::RefreshAt]),
    ("idx_contact_owner_one_off", &[Contact::OneOffOn]),
    (
        "idx_contact_owner_first_conversation",
        &[Contact::FirstConversationAt],
    ),
];

fn columns() -> Vec<ColumnDef> {
    let count = |c: Contact| {
        ColumnDef::new(c)
            .big_integer()
            .not_null()
            .default(0)
            .to_owned()
    };
    let instant = |c: Contact| {
        ColumnDef::new(c)
            .timestamp_with_time_zone()
            .null()
            .to_owned()
    };
    let date = |c: Contact| ColumnDef::new(c).date().null().to_owned();
    vec![
        count(Contact::ConversationCount),
        instant(Contact::FirstConversationAt),
        instant(Contact::LastConversationAt),
        count(Contact::ThankYousOwed),
        count(Contact::Gives),
        count(Contact::Asks),
        count(Contact::Balance),
        instant(Contact::RefreshAt),
        date(Contact::NextCheckInOn),
        date(Contact::ColdOn),
        date(Contact::OneOffOn),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
        for mut column in columns() {
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
                    .to_owned(),
            )
            .await?;
        for (name, cols) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(Contact::Table).col(Contact::OwnerId);
            for col in cols {
                index.col(*col);
            }
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
        for column in columns().into_iter().rev() {
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
    ConversationCount,
    FirstConversationAt,
    LastConversationAt,
    ThankYousOwed,
    Gives,
    Asks,
    Balance,
    RefreshAt,
    NextCheckInOn,
    ColdOn,
    OneOffOn,
}
