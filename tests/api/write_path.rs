use std::sync::Arc;

use chrono::Utc;
use entity::{contact_tag, user};
use futures_util::future::{BoxFuture, join_all};
use rapport::db::Write;
use rapport::error::ApiError;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryTrait, Set,
};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::helpers::{on_postgres, spawn_app};

/// 200 writers at once through the write path: no "database is locked", no lost row.
#[tokio::test]
async fn concurrent_writers_lose_nothing_and_never_fail() {
    let app = spawn_app().await;
    let writes = (0..200).map(|i| {
        let db = app.db.clone();
        tokio::spawn(async move {
            db.write(move |txn| {
                Box::pin(async move {
                    // Read-then-write in one transaction: the pattern that upgrades a SQLite
                    // lock.
                    let before = user::Entity::find().count(txn).await?;
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
                    .insert(txn)
                    .await?;
                    Ok(())
                })
            })
            .await
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

/// A user row for the group-commit tests, under a unique email.
fn new_user(email: String) -> user::ActiveModel {
    let now = Utc::now();
    user::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        email: Set(email),
        password_hash: Set("x".into()),
        display_name: Set("Writer".into()),
        time_zone: Set("UTC".into()),
        weekly_conversation_goal: Set(0),
        weekly_new_people_goal: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Starts a write that holds the writer until the returned gate opens, and returns once that
/// write is running.
async fn hold_the_writer(
    db: &rapport::db::Db,
) -> (Arc<Semaphore>, JoinHandle<Result<(), ApiError>>) {
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(Semaphore::new(0));
    let holder = spawn_write(db, {
        let (gate, entered) = (gate.clone(), entered.clone());
        move |_txn| {
            let (gate, entered) = (gate.clone(), entered.clone());
            Box::pin(async move {
                entered.add_permits(1);
                let _pass = gate.acquire().await.map_err(anyhow::Error::from)?;
                Ok(())
            })
        }
    });
    entered.acquire().await.unwrap().forget();
    (gate, holder)
}

/// Waits until `n` writes are queued behind the held one (SQLite only).
async fn until_waiting(db: &rapport::db::Db, n: usize) {
    while db
        .group_commit_state()
        .is_some_and(|(waiting, _)| waiting < n)
    {
        tokio::task::yield_now().await;
    }
}

/// Every user's email, sorted.
async fn emails(db: &rapport::db::Db) -> Vec<String> {
    let mut emails: Vec<String> = user::Entity::find()
        .all(db.reader())
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    emails.sort();
    emails
}

/// Starts `work` through the write path in a task of its own.
fn spawn_write<T, W>(db: &rapport::db::Db, work: W) -> JoinHandle<Result<T, ApiError>>
where
    T: Send + 'static,
    W: for<'t> Fn(&'t rapport::db::Txn<'t>) -> BoxFuture<'t, Result<T, ApiError>> + Send + 'static,
{
    let db = db.clone();
    tokio::spawn(async move { db.write(work).await })
}

fn insert_user(db: &rapport::db::Db, email: String) -> JoinHandle<Result<(), ApiError>> {
    spawn_write(db, move |txn| {
        let email = email.clone();
        Box::pin(async move {
            new_user(email).insert(txn).await?;
            Ok(())
        })
    })
}

/// Writes that queue while the writer is busy commit together, in one transaction.
#[tokio::test]
async fn writes_queued_behind_the_writer_commit_together() {
    let app = spawn_app().await;
    let db = &app.db;
    assert_eq!(db.group_commit_state().is_some(), !on_postgres());
    let (gate, holder) = hold_the_writer(db).await;
    let commits_before = db.group_commit_state().map(|(_, commits)| commits);
    let writes: Vec<_> = (0..10)
        .map(|i| insert_user(db, format!("batched{i}@example.com")))
        .collect();
    until_waiting(db, 10).await;
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    for write in join_all(writes).await {
        write.unwrap().unwrap();
    }
    assert_eq!(user::Entity::find().count(db.reader()).await.unwrap(), 10);
    if let Some(before) = commits_before {
        // The holder's commit, then one for all ten.
        let (_, after) = db.group_commit_state().unwrap();
        assert_eq!(after - before, 2);
    }
}

/// A write that fails inside a batch leaves nothing behind and fails no other write.
#[tokio::test]
async fn a_failing_write_in_a_batch_leaves_nothing_and_fails_no_other() {
    let app = spawn_app().await;
    let db = &app.db;
    let (gate, holder) = hold_the_writer(db).await;
    let mut writes: Vec<_> = (0..3)
        .map(|i| insert_user(db, format!("before{i}@example.com")))
        .collect();
    let failing = spawn_write(db, |txn| {
        Box::pin(async move {
            new_user("failing@example.com".into()).insert(txn).await?;
            Err::<(), _>(ApiError::invalid_query("refused after writing"))
        })
    });
    writes.extend((0..3).map(|i| insert_user(db, format!("after{i}@example.com"))));
    until_waiting(db, 7).await;
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    let err = failing.await.unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        ApiError::invalid_query("refused after writing").to_string()
    );
    for write in join_all(writes).await {
        write.unwrap().unwrap();
    }
    let emails = emails(db).await;
    assert_eq!(emails.len(), 6, "{emails:?}");
    assert!(!emails.contains(&"failing@example.com".to_owned()));
}

/// A write that panics fails its own request with an error, and neither the writes that
/// shared its batch nor the writer after it.
#[tokio::test]
async fn a_panicking_write_fails_only_itself() {
    let app = spawn_app().await;
    let db = &app.db;
    let (gate, holder) = hold_the_writer(db).await;
    let before = insert_user(db, "before-panic@example.com".into());
    let panicking = spawn_write::<(), _>(db, |txn| {
        Box::pin(async move {
            new_user("panicking@example.com".into()).insert(txn).await?;
            panic!("a bug in a write");
        })
    });
    let after = insert_user(db, "after-panic@example.com".into());
    until_waiting(db, 3).await;
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    // SQLite's writer answers the request with an error; elsewhere the panic is the caller's.
    let panicked = panicking.await;
    assert!(!matches!(panicked, Ok(Ok(()))), "{panicked:?}");
    before.await.unwrap().unwrap();
    after.await.unwrap().unwrap();
    insert_user(db, "later@example.com".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        emails(db).await,
        [
            "after-panic@example.com",
            "before-panic@example.com",
            "later@example.com"
        ]
    );
}

/// A batch whose `COMMIT` fails is rolled back and its writes run again one by one: only the
/// write that cannot commit fails, and the writer's connection is left fit for the next one.
#[tokio::test]
async fn a_batch_whose_commit_fails_loses_only_the_write_that_cannot_commit() {
    let app = spawn_app().await;
    let db = &app.db;
    let (gate, holder) = hold_the_writer(db).await;
    let first = insert_user(db, "first@example.com".into());
    let dangling = spawn_write(db, |txn| {
        Box::pin(async move {
            if txn.get_database_backend() == DbBackend::Sqlite {
                // Foreign keys checked at COMMIT: the insert succeeds, the commit not.
                txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
                    .await?;
            }
            contact_tag::ActiveModel {
                contact_id: Set(uuid::Uuid::now_v7()),
                tag: Set("nobody".into()),
                owner_id: Set(uuid::Uuid::now_v7()),
            }
            .insert(txn)
            .await?;
            Ok(())
        })
    });
    let second = insert_user(db, "second@example.com".into());
    until_waiting(db, 3).await;
    let commits_before = db.group_commit_state().map(|(_, commits)| commits);
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    assert!(dangling.await.unwrap().is_err());
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    insert_user(db, "later@example.com".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        emails(db).await,
        [
            "first@example.com",
            "later@example.com",
            "second@example.com"
        ]
    );
    assert_eq!(
        contact_tag::Entity::find()
            .count(db.reader())
            .await
            .unwrap(),
        0
    );
    if let Some(before) = commits_before {
        // The holder's, then first and second alone after the batch's failed COMMIT, then later.
        let (_, after) = db.group_commit_state().unwrap();
        assert_eq!(after - before, 4);
    }
}

/// Starts a write that only defers the insert of a user under `email`.
fn defer_user(db: &rapport::db::Db, email: &str) -> JoinHandle<Result<(), ApiError>> {
    let email = email.to_owned();
    spawn_write(db, move |txn| {
        let email = email.clone();
        Box::pin(async move {
            let insert = user::Entity::insert(new_user(email)).build(txn.get_database_backend());
            txn.defer(insert).await?;
            Ok(())
        })
    })
}

/// On SQLite, what a write of a batch leaves deferred goes with the next write's first call:
/// five writes that only defer an insert each reach the driver in one call, before the
/// batch commits.
#[tokio::test]
async fn deferred_statements_of_a_batch_share_its_calls() {
    let app = spawn_app().await;
    let db = &app.db;
    let (gate, holder) = hold_the_writer(db).await;
    let writes: Vec<_> = (0..5)
        .map(|i| defer_user(db, &format!("deferred{i}@example.com")))
        .collect();
    until_waiting(db, 5).await;
    let calls = db.calls_run();
    db.log_statements();
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    for write in join_all(writes).await {
        write.unwrap().unwrap();
    }
    let calls = db.calls_run() - calls;
    // What else ran meanwhile (the idempotency sweeper's reads), one call each.
    let logged = db.take_statements();
    let others = logged
        .iter()
        .filter(|s| !s.sql.contains("\"user\""))
        .count();
    assert_eq!(logged.len() - others, 5, "{logged:?}");
    let expected = if on_postgres() { 5 } else { 1 };
    assert_eq!(
        calls - others as u64,
        expected,
        "calls for five deferred inserts"
    );
    assert_eq!(emails(db).await.len(), 5);
}

/// A statement one write of a batch deferred fails in the next write's call, which cannot
/// tell that failure from its own: here the next write even ignores it and carries on. The
/// batch still runs each write again alone, so the failure is the deferring write's, and
/// every other write stands; likewise when the batch's last deferred statement fails.
#[tokio::test]
async fn a_deferred_statement_that_fails_in_another_writes_call_fails_only_its_own_write() {
    let app = spawn_app().await;
    let db = &app.db;
    insert_user(db, "taken@example.com".into())
        .await
        .unwrap()
        .unwrap();
    let (gate, holder) = hold_the_writer(db).await;
    let first = defer_user(db, "taken@example.com");
    let forgiving = spawn_write(db, |txn| {
        Box::pin(async move {
            // Whatever fails here is taken as harmless: only this write's own insert matters.
            let _ = txn.execute_unprepared("SELECT 1").await;
            let insert = user::Entity::insert(new_user("forgiving@example.com".into()))
                .build(txn.get_database_backend());
            txn.defer(insert).await?;
            Ok(())
        })
    });
    let plain = defer_user(db, "plain@example.com");
    until_waiting(db, 3).await;
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    let taken = |result: Result<(), ApiError>| {
        let err = format!("{:?}", result.unwrap_err());
        assert!(err.to_lowercase().contains("unique"), "{err}");
    };
    taken(first.await.unwrap());
    forgiving.await.unwrap().unwrap();
    plain.await.unwrap().unwrap();
    // The batch's last deferred statement fails at its end.
    let (gate, holder) = hold_the_writer(db).await;
    let before = defer_user(db, "before@example.com");
    let last = defer_user(db, "taken@example.com");
    until_waiting(db, 2).await;
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    before.await.unwrap().unwrap();
    taken(last.await.unwrap());
    assert_eq!(
        emails(db).await,
        [
            "before@example.com",
            "forgiving@example.com",
            "plain@example.com",
            "taken@example.com"
        ]
    );
}
