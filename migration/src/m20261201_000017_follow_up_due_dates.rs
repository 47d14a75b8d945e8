//! Each open follow-up's due date, stored on the row it comes from: an owed thank-you's on each
//! of its conversation's participant rows, an idea's on its offer, an ask awaiting an answer on
//! the ask. The date is the local date (in the owner's time zone) of the conversation, the
//! idea's creation or the ask, plus the kind's delay; null when the row is not open. With an
//! index on `(owner_id, due date, id)` each kind is read in the list's own order, a page at a
//! time, instead of by instant and then re-sorted by id within a date.
//!
//! The instant-ordered indexes of `m20261201_000011` for thank-yous and asks served only that
//! read and are dropped; the offers' `(owner_id, status, created_at, id)` also serves the
//! offer list filtered by status and stays.
//!
//! The application fills in the dates of existing rows after this migration (it needs each
//! owner's time zone), owner by owner from `due_date_pending`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Table, new column, the index on it (name, columns after the owner and the date).
const DUE: [(&str, &str, &str, &[&str]); 3] = [
    (
        "conversation_participant",
        "thank_you_due_on",
        "idx_participant_owner_thank_you_due",
        &["conversation_id", "contact_id"],
    ),
    (
        "value_offer",
        "deliver_due_on",
        "idx_value_offer_owner_deliver_due",
        &["id"],
    ),
    (
        "ask",
        "follow_up_due_on",
        "idx_ask_owner_follow_up_due",
        &["id"],
    ),
];

/// The indexes this migration replaces: name, table, columns.
const REPLACED: [(&str, &str, &[&str]); 2] = [
    (
        "idx_participant_owner_owed",
        "conversation_participant",
        &[
            "owner_id",
            "thank_you_status",
            "occurred_at",
            "conversation_id",
            "contact_id",
        ],
    ),
    (
        "idx_ask_owner_status_asked",
        "ask",
        &["owner_id", "status", "asked_at", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, index, rest) in DUE {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(ColumnDef::new(Alias::new(column)).date().null())
                        .to_owned(),
                )
                .await?;
            let mut create = Index::create();
            create
                .name(index)
                .table(Alias::new(table))
                .col(Alias::new("owner_id"))
                .col(Alias::new(column));
            for col in rest {
                create.col(Alias::new(*col));
            }
            manager.create_index(create.to_owned()).await?;
        }
        for (name, table, _) in REPLACED {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        // The owners whose open rows are still to be dated: the application dates each one's
        // and deletes its row in one transaction, so a process stopped part way leaves the
        // rest to the next start.
        manager
            .create_table(
                Table::create()
                    .table(DueDatePending::Table)
                    .col(
                        ColumnDef::new(DueDatePending::OwnerId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_due_date_pending_owner")
                            .from(DueDatePending::Table, DueDatePending::OwnerId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(DueDatePending::Table)
                    .columns([DueDatePending::OwnerId])
                    .select_from(
                        Query::select()
                            .column(User::Id)
                            .from(User::Table)
                            .to_owned(),
                    )
                    .map_err(|err| DbErr::Migration(err.to_string()))?
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DueDatePending::Table).to_owned())
            .await?;
        for (name, table, cols) in REPLACED {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table));
            for col in cols {
                index.col(Alias::new(*col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        for (table, column, index, _) in DUE {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum DueDatePending {
    Table,
    OwnerId,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
