//! Indexes that give the statistics each dated record of a range of time, so that a count
//! over a range reads that range instead of all of the owner's rows: participant rows by
//! their conversation's time (covering the contact, for the people of a range), offers by
//! the time they were given, asks by the time they were made.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Name, table, columns.
const INDEXES: [(&str, &str, &[&str]); 3] = [
    (
        "idx_participant_owner_occurred",
        "conversation_participant",
        &["owner_id", "occurred_at", "contact_id"],
    ),
    (
        "idx_value_offer_owner_offered",
        "value_offer",
        &["owner_id", "offered_at"],
    ),
    ("idx_ask_owner_asked", "ask", &["owner_id", "asked_at"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table));
            for col in cols {
                index.col(Alias::new(*col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
