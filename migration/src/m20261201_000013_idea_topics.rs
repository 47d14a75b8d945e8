//! The topics of the value offers still at the `idea` stage, one row each with the offer's
//! creation instant, and an index `(owner_id, topic, created_at, offer_id)`: the ideas on one
//! topic, oldest first, without reading every idea. Rows are kept by the application in the
//! transaction of every offer write; existing ideas are copied here from their JSON topics.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_idea_topic_owner_topic";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdeaTopic::Table)
                    .col(ColumnDef::new(IdeaTopic::OfferId).uuid().not_null())
                    .col(ColumnDef::new(IdeaTopic::Topic).text().not_null())
                    .col(ColumnDef::new(IdeaTopic::OwnerId).uuid().not_null())
                    .col(
                        ColumnDef::new(IdeaTopic::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdeaTopic::OfferId)
                            .col(IdeaTopic::Topic),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_idea_topic_offer")
                            .from(IdeaTopic::Table, IdeaTopic::OfferId)
                            .to(ValueOffer::Table, ValueOffer::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(IdeaTopic::Table)
                    .col(IdeaTopic::OwnerId)
                    .col(IdeaTopic::Topic)
                    .col(IdeaTopic::CreatedAt)
                    .col(IdeaTopic::OfferId)
                    .to_owned(),
            )
            .await?;
        let topics = match manager.get_database_backend() {
            DbBackend::Postgres => "json_array_elements_text(v.topics) AS t(value)",
            _ => "json_each(v.topics) AS t",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO idea_topic (offer_id, topic, owner_id, created_at) \
                 SELECT DISTINCT v.id, t.value, v.owner_id, v.created_at \
                 FROM value_offer AS v, {topics} WHERE v.status = 'idea'"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdeaTopic::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum IdeaTopic {
    Table,
    OfferId,
    Topic,
    OwnerId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ValueOffer {
    Table,
    Id,
}
