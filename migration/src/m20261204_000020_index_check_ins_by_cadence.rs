//! An index of each cadence's check-ins among the contacts not archived, `(owner_id,
//! cadence_days, next_check_in_on, last_conversation_at, id)`. A contact's health is a range of
//! `next_check_in_on` within its cadence (due: from the cadence's due window before today to
//! today), and among the contacts of one cadence that have met, `next_check_in_on` follows
//! `last_conversation_at`: so a health filter sorted by either date reads, for each cadence,
//! the start of its range in the page's order from the index alone, however far along the
//! whole network's order its contacts lie.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_contact_owner_cadence_check_in";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut index = Index::create();
        index.name(NAME).table(Alias::new("contact"));
        for col in [
            "owner_id",
            "cadence_days",
            "next_check_in_on",
            "last_conversation_at",
            "id",
        ] {
            index.col(Alias::new(col));
        }
        index.and_where(Expr::col(Alias::new("archived_at")).is_null());
        manager.create_index(index.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NAME)
                    .table(Alias::new("contact"))
                    .to_owned(),
            )
            .await
    }
}
