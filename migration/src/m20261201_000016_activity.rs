//! Per-owner activity counts by the owner's local calendar, kept by the application in the
//! transaction of every write that changes them, so that statistics and goals read one row
//! per day, week or month instead of counting the records of a range.
//!
//! A `day` row counts the conversations of that local date (with their thank-yous sent and
//! owed), the offers given and the asks made, and the contacts whose first and whose last past
//! conversation (the relationship ledger's columns) fall on it; a `week` or `month` row counts
//! the distinct contacts who took part in a conversation in it. Planned conversations are
//! counted on their date like the others: a read uses those counts only for periods that ended
//! before its own day began, and by then every conversation in them is past. The first and
//! last conversations follow the ledger, which a read brings up to date first.
//!
//! The application counts existing records after this migration (it needs each owner's time
//! zone), owner by owner from `activity_pending`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let count = |column: Activity| {
            ColumnDef::new(column)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Activity::Table)
                    .col(ColumnDef::new(Activity::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(Activity::Period).string_len(8).not_null())
                    .col(ColumnDef::new(Activity::StartsOn).date().not_null())
                    .col(count(Activity::Conversations))
                    .col(count(Activity::ThankYousSent))
                    .col(count(Activity::ThankYousOwed))
                    .col(count(Activity::People))
                    .col(count(Activity::Offers))
                    .col(count(Activity::Asks))
                    .col(count(Activity::Firsts))
                    .col(count(Activity::Lasts))
                    .primary_key(
                        Index::create()
                            .col(Activity::OwnerId)
                            .col(Activity::Period)
                            .col(Activity::StartsOn),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_owner")
                            .from(Activity::Table, Activity::OwnerId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The owners whose records are still to be counted: the application counts each one
        // and deletes its row in one transaction, so a process stopped part way leaves the
        // rest to the next start.
        manager
            .create_table(
                Table::create()
                    .table(ActivityPending::Table)
                    .col(
                        ColumnDef::new(ActivityPending::OwnerId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_pending_owner")
                            .from(ActivityPending::Table, ActivityPending::OwnerId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ActivityPending::Table)
                    .columns([ActivityPending::OwnerId])
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
            .drop_table(Table::drop().table(ActivityPending::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Activity::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Activity {
    Table,
    OwnerId,
    Period,
    StartsOn,
    Conversations,
    ThankYousSent,
    ThankYousOwed,
    People,
    Offers,
    Asks,
    Firsts,
    Lasts,
}

#[derive(DeriveIden)]
enum ActivityPending {
    Table,
    OwnerId,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
