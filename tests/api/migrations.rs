//! Pending migrations apply together or not at all.

use migration::{Migrator, MigratorTrait};
use rapport::db;
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{TestDatabase, test_settings};

#[tokio::test]
async fn a_migration_that_fails_halfway_leaves_the_schema_as_it_was() {
    let (_database, url) = TestDatabase::create().await;
    let db = db::connect(&test_settings(url))
        .await
        .expect("connect to the test database");
    let before = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261126_000006_participant_history")
        .expect("the participant history migration") as u32;
    Migrator::up(db.writer(), Some(before))
        .await
        .expect("the migrations before it");
    // It adds two columns to conversation_participant, one statement each. With the second
    // one already there, it fails after the first has run.
    db.writer()
        .execute_unprepared(
            "ALTER TABLE conversation_participant ADD COLUMN thank_you_status VARCHAR(16)",
        )
        .await
        .expect("add the clashing column");

    let failed = db::migrate_up(&db).await;

    assert!(failed.is_err(), "the clash must fail the migration");
    let first_step = db
        .reader()
        .query_all_raw(Statement::from_string(
            db.backend(),
            "SELECT occurred_at FROM conversation_participant",
        ))
        .await;
    assert!(
        first_step.is_err(),
        "the column added before the failure must be gone"
    );
    let applied = Migrator::get_applied_migrations(db.reader())
        .await
        .expect("read the applied migrations");
    assert_eq!(applied.len() as u32, before);
}
