use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(ColumnDef::new(User::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(User::Email)
                            .string_len(254)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(User::PasswordHash)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(User::DisplayName).string_len(200).not_null())
                    .col(ColumnDef::new(User::TimeZone).string_len(64).not_null())
                    .col(
                        ColumnDef::new(User::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(User::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKey::Table)
                    .col(ColumnDef::new(IdempotencyKey::OwnerId).uuid().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKey::Key)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKey::RequestHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKey::ResponseStatus)
                            .small_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKey::ResponseHeaders)
                            .json()
                            .null(),
                    )
                    .col(ColumnDef::new(IdempotencyKey::ResponseBody).blob().null())
                    .col(
                        ColumnDef::new(IdempotencyKey::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKey::OwnerId)
                            .col(IdempotencyKey::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_idempotency_key_owner")
                            .from(IdempotencyKey::Table, IdempotencyKey::OwnerId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // Expired keys are purged by age; this keeps that sweep off the primary key.
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_key_created_at")
                    .table(IdempotencyKey::Table)
                    .col(IdempotencyKey::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKey::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(User::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Email,
    PasswordHash,
    DisplayName,
    TimeZone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKey {
    Table,
    OwnerId,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseHeaders,
    ResponseBody,
    CreatedAt,
}
