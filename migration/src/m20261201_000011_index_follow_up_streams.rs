//! Indexes that give each kind of follow-up in the order of its due date, so that a page of
//! the follow-up list reads a page of each kind instead of every open item of the network:
//! owed thank-yous by conversation time, ideas by creation, asks awaiting an answer by the
//! time they were made, next steps by due date then id (replacing the index without the id).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD_NEXT_STEPS: &str = "idx_conversation_owner_next_step_due";

/// Name, table, columns.
const INDEXES: [(&str, &str, &[&str]); 4] = [
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
        "idx_value_offer_owner_status_created",
        "value_offer",
        &["owner_id", "status", "created_at", "id"],
    ),
    (
        "idx_ask_owner_status_asked",
        "ask",
        &["owner_id", "status", "asked_at", "id"],
    ),
    (
        "idx_conversation_owner_next_step",
        "conversation",
        &["owner_id", "next_step_due_on", "id"],
    ),
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
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_NEXT_STEPS)
                    .table(Alias::new("conversation"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD_NEXT_STEPS)
                    .table(Alias::new("conversation"))
                    .col(Alias::new("owner_id"))
                    .col(Alias::new("next_step_due_on"))
                    .to_owned(),
            )
            .await?;
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
