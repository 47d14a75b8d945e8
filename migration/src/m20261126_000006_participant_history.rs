//! Gives each participant row a copy of its conversation's `occurred_at` and
//! `thank_you_status`, and indexes them after the contact, so a user's history per contact
//! (count, first, last, thank-yous owed) is one scan of that index with no join. The join it
//! replaces looked each row's conversation up by its random primary key in an index shared by
//! every user. The application writes both copies with the row and rewrites them whenever the
//! conversation's date or thank-you status changes; this migration fills them in for the rows
//! that exist. They are nullable only because SQLite cannot add a NOT NULL column without a
//! default.
//!
//! The new index `(owner_id, contact_id, occurred_at, thank_you_status, conversation_id)`
//! still starts with `(owner_id, contact_id)` and still carries `conversation_id`, so it
//! replaces `(owner_id, contact_id, conversation_id)` for the contact filter and the timeline.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NARROW: &str = "idx_participant_owner_contact";
const HISTORY: &str = "idx_participant_owner_contact_history";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Participant::Table)
                    .add_column(
                        ColumnDef::new(Participant::OccurredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Participant::Table)
                    .add_column(
                        ColumnDef::new(Participant::ThankYouStatus)
                            .string_len(16)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        let copy = |column: Conversation| {
            Query::select()
                .column((Conversation::Table, column))
                .from(Conversation::Table)
                .and_where(
                    Expr::col((Conversation::Table, Conversation::Id))
                        .equals((Participant::Table, Participant::ConversationId)),
                )
                .to_owned()
        };
        manager
            .exec_stmt(
                Query::update()
                    .table(Participant::Table)
                    .value(
                        Participant::OccurredAt,
                        Expr::expr(SimpleExpr::SubQuery(
                            None,
                            Box::new(copy(Conversation::OccurredAt).into_sub_query_statement()),
                        )),
                    )
                    .value(
                        Participant::ThankYouStatus,
                        Expr::expr(SimpleExpr::SubQuery(
                            None,
                            Box::new(copy(Conversation::ThankYouStatus).into_sub_query_statement()),
                        )),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(HISTORY)
                    .table(Participant::Table)
                    .col(Participant::OwnerId)
                    .col(Participant::ContactId)
                    .col(Participant::OccurredAt)
                    .col(Participant::ThankYouStatus)
                    .col(Participant::ConversationId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(NARROW)
                    .table(Participant::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NARROW)
                    .table(Participant::Table)
                    .col(Participant::OwnerId)
                    .col(Participant::ContactId)
                    .col(Participant::ConversationId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(HISTORY)
                    .table(Participant::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Participant::ThankYouStatus, Participant::OccurredAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Participant::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Participant {
    #[sea_orm(iden = "conversation_participant")]
    Table,
    ConversationId,
    ContactId,
    OwnerId,
    OccurredAt,
    ThankYouStatus,
}

#[derive(DeriveIden)]
enum Conversation {
    Table,
    Id,
    OccurredAt,
    ThankYouStatus,
}
