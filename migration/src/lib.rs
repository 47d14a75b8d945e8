//! Rapport's schema, as an ordered list of migrations that run unchanged on SQLite and PostgreSQL.
//! A migration that has landed is never edited: change the schema with a new one.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_user_and_idempotency_key;
mod m20261126_000002_create_refresh_and_personal_tokens;
mod m20261126_000003_create_core_resources;
mod m20261126_000004_add_goals_and_calendar_feed;
mod m20261126_000005_cover_conversation_ledger;
mod m20261126_000006_participant_history;
mod m20261126_000007_index_next_steps;
mod m20261130_000008_create_writer_probe;
mod m20261130_000009_add_idempotency_claim;
mod m20261201_000010_contact_ledger;
mod m20261201_000011_index_follow_up_streams;
mod m20261201_000012_suggestion_rank;
mod m20261201_000013_idea_topics;
mod m20261201_000014_tag_counts;
mod m20261201_000015_index_activity_ranges;
mod m20261201_000016_activity;
mod m20261201_000017_follow_up_due_dates;
mod m20261203_000018_owner_scoped_references;
mod m20261203_000019_owner_primary_keys;
mod m20261204_000020_index_check_ins_by_cadence;
mod m20261204_000021_index_open_next_steps;
mod sqlite;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_user_and_idempotency_key::Migration),
            Box::new(m20261126_000002_create_refresh_and_personal_tokens::Migration),
            Box::new(m20261126_000003_create_core_resources::Migration),
            Box::new(m20261126_000004_add_goals_and_calendar_feed::Migration),
            Box::new(m20261126_000005_cover_conversation_ledger::Migration),
            Box::new(m20261126_000006_participant_history::Migration),
            Box::new(m20261126_000007_index_next_steps::Migration),
            Box::new(m20261130_000008_create_writer_probe::Migration),
            Box::new(m20261130_000009_add_idempotency_claim::Migration),
            Box::new(m20261201_000010_contact_ledger::Migration),
            Box::new(m20261201_000011_index_follow_up_streams::Migration),
            Box::new(m20261201_000012_suggestion_rank::Migration),
            Box::new(m20261201_000013_idea_topics::Migration),
            Box::new(m20261201_000014_tag_counts::Migration),
            Box::new(m20261201_000015_index_activity_ranges::Migration),
            Box::new(m20261201_000016_activity::Migration),
            Box::new(m20261201_000017_follow_up_due_dates::Migration),
            Box::new(m20261203_000018_owner_scoped_references::Migration),
            Box::new(m20261203_000019_owner_primary_keys::Migration),
            Box::new(m20261204_000020_index_check_ins_by_cadence::Migration),
            Box::new(m20261204_000021_index_open_next_steps::Migration),
        ]
    }
}
