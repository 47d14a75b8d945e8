//! How many of an owner's contacts carry each tag, kept by the application in the transaction
//! of every write that adds or removes a tag, so the tag list reads one row per tag instead
//! of counting every tagged contact. Existing tags are counted here.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TagCount::Table)
                    .col(ColumnDef::new(TagCount::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(TagCount::Tag).string_len(40).not_null())
                    .col(ColumnDef::new(TagCount::Contacts).big_integer().not_null())
                    .primary_key(Index::create().col(TagCount::OwnerId).col(TagCount::Tag))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tag_count_owner")
                            .from(TagCount::Table, TagCount::OwnerId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO tag_count (owner_id, tag, contacts) \
                 SELECT owner_id, tag, COUNT(*) FROM contact_tag GROUP BY owner_id, tag",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TagCount::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TagCount {
    Table,
    OwnerId,
    Tag,
    Contacts,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
