//! Widens the conversation index `(owner_id, occurred_at, id)` with `thank_you_status`, so a
//! query on a user's conversations by date and thank-you status (the owed thank-yous of the
//! follow-ups, the list's `thank_you_status` filter) decides from the index which rows to read,
//! instead of looking every conversation up in the table. It was added for the whole-history
//! read, which migration 000006 later moved to the participant rows. The narrower index it
//! replaces is a prefix of the new one, so every query that used it can use the new one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NARROW: &str = "idx_conversation_owner_occurred_at";
const COVERING: &str = "idx_conversation_owner_occurred_at_status";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(COVERING, &["occurred_at", "id", "thank_you_status"]))
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(NARROW)
                    .table(Conversation::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(NARROW, &["occurred_at", "id"]))
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(COVERING)
                    .table(Conversation::Table)
                    .to_owned(),
            )
            .await
    }
}

fn index(name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(name)
        .table(Conversation::Table)
        .col(Alias::new("owner_id"));
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

#[derive(DeriveIden)]
enum Conversation {
    Table,
}
