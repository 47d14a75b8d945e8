//! A one-row table that `/readyz` writes to after a write failed for lack of storage, to learn
//! whether the database can be written again before any client write succeeds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WriterProbe::Table)
                    .col(
                        ColumnDef::new(WriterProbe::Id)
                            .small_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WriterProbe::WrittenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WriterProbe::Room).blob().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WriterProbe::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WriterProbe {
    Table,
    Id,
    WrittenAt,
    /// Bytes rewritten by each probe, so that it needs room for a write of that size.
    Room,
}
