//! Each claim of an idempotency key gets a token of its own, so that the write a request makes
//! can store the response under the key in its own transaction only while the claim is still
//! that request's (a claim abandoned by a dead process and taken over by a retry is not).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKey::Table)
                    .add_column(ColumnDef::new(IdempotencyKey::Claim).uuid().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKey::Table)
                    .drop_column(IdempotencyKey::Claim)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum IdempotencyKey {
    Table,
    Claim,
}
