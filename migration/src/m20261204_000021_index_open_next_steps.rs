//! The follow-ups' index of next steps holds the open ones only: `(owner_id,
//! next_step_due_on, id)` over the conversations whose `next_step` is set and not done,
//! replacing the same index over every conversation. Most conversations have no next step or
//! a done one; with them in the index, the stream had to read past them, and a plan made
//! without the statement's values (PostgreSQL's generic plans, SQLite's every plan) could not
//! tell how few of the owner's rows are open: on a network whose statistics show no open step
//! PostgreSQL preferred a sequential scan of every conversation. Over the open steps only,
//! the index's order is the stream's, whatever the values.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_conversation_owner_open_next_step";
const OLD: &str = "idx_conversation_owner_next_step";
const COLUMNS: [&str; 3] = ["owner_id", "next_step_due_on", "id"];

fn index(name: &str) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Alias::new("conversation"));
    for col in COLUMNS {
        index.col(Alias::new(col));
    }
    index
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop()
        .name(name)
        .table(Alias::new("conversation"))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut open = index(NAME);
        open.and_where(Expr::col(Alias::new("next_step")).is_not_null())
            .and_where(Expr::col(Alias::new("next_step_done_at")).is_null());
        manager.create_index(open).await?;
        manager.drop_index(drop(OLD)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(index(OLD)).await?;
        manager.drop_index(drop(NAME)).await
    }
}
