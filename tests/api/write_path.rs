use chrono::Utc;
use entity::user;
use futures_util::future::join_all;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};

use crate::helpers::spawn_app;

/// 200 writers at once through the write path: no "database is locked", no lost row.
#[tokio::test]
async fn concurrent_writers_lose_nothing_and_never_fail() {
    let app = spawn_app().await;
    let writes = (0..200).map(|i| {
        let db = app.db.clone();
        tokio::spawn(async move {
            let txn = db.begin_write().await?;
            // Read-then-write in one transaction: the pattern that upgrades a SQLite lock.
            let before = user::Entity::find().count(&txn).await?;
            let now = Utc::now();
            user::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                email: Set(format!("writer{i}@example.com")),
                password_hash: Set("x".into()),
                display_name: Set(format!("Writer {i} after {before}")),
                time_zone: Set("UTC".into()),
                weekly_conversation_goal: Set(0),
                weekly_new_people_goal: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
            txn.commit().await
        })
    });
    let results = join_all(writes).await;
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|r| match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        failures.first()
    );
    let count = user::Entity::find().count(app.db.reader()).await.unwrap();
    assert_eq!(count, 200);
}
