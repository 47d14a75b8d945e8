//! Storage faults on the write path: a full database refuses writes with 507 and loses none
//! it acknowledged, and a writer connection left inside a transaction is never reused.

use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, on_postgres, spawn_app};

async fn create_contact(
    app: &TestApp,
    user: &TestUser,
    name: &str,
    notes: &str,
) -> reqwest::Response {
    let body = json!({"full_name": name, "notes": notes});
    app.request(
        Method::POST,
        "/v1/contacts",
        Some(&user.access_token),
        Some(&body),
    )
    .await
}

async fn is_readable(app: &TestApp, user: &TestUser, id: &str) -> bool {
    app.get_as(&format!("/v1/contacts/{id}"), &user.access_token)
        .await
        .status()
        == 200
}

/// Runs one statement on SQLite's writer connection, outside any transaction of the driver.
async fn on_the_writer(app: &TestApp, sql: &str) -> Vec<sea_orm::QueryResult> {
    app.db
        .writer()
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .expect("statement on the writer")
}

/// SQLite's `max_page_count` gives the same `SQLITE_FULL` as a full disk (scripts/disk_full.py
/// fills a real filesystem): every write is then 507 or lands, `/readyz` says 503, and raising
/// the limit again lets the next write land and `/readyz` recover. SQLite only: PostgreSQL has
/// no per-connection storage limit to reach.
#[tokio::test]
async fn a_full_database_answers_507_and_acknowledges_only_what_it_keeps() {
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    let pages = on_the_writer(&app, "PRAGMA page_count").await;
    let limit: i64 = pages[0].try_get_by_index::<i64>(0).expect("page_count") + 12;
    // The limit holds for one connection: set it again before every write, as a disk stays
    // full whichever connection writes to it.
    let fill = format!("PRAGMA max_page_count = {limit}");

    let notes = "n".repeat(19_000);
    let (mut kept, mut refused) = (Vec::new(), 0);
    for i in 0..40 {
        on_the_writer(&app, &fill).await;
        let response = create_contact(&app, &user, &format!("Contact {i}"), &notes).await;
        if response.status() == 201 {
            let created: Value = response.json().await.expect("a contact");
            kept.push(created["id"].as_str().expect("an id").to_owned());
        } else {
            let retry_after = response.headers().get("retry-after").cloned();
            assert_problem(response, 507, "storage_full").await;
            assert!(retry_after.is_some(), "507 without Retry-After");
            refused += 1;
        }
    }
    assert!(
        refused >= 36,
        "only {refused} of 40 writes refused: the limit did not hold"
    );
    for id in &kept {
        assert!(
            is_readable(&app, &user, id).await,
            "acknowledged {id} is missing"
        );
    }
    on_the_writer(&app, &fill).await;
    assert_problem(app.get("/readyz").await, 503, "service_unavailable").await;

    on_the_writer(&app, "PRAGMA max_page_count = 1073741823").await;
    assert_eq!(
        app.get("/readyz").await.status(),
        200,
        "ready once there is room"
    );
    let response = create_contact(&app, &user, "After", &notes).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("a contact");
    assert!(is_readable(&app, &user, created["id"].as_str().expect("an id")).await);
}

/// A connection that SQLite says is inside a transaction (here one begun behind the driver's
/// back, as a failed `COMMIT` can leave it) goes back to the pool only to be replaced: the next
/// write lands and is visible to other connections.
#[tokio::test]
async fn a_writer_left_inside_a_transaction_is_replaced_before_the_next_write() {
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    on_the_writer(&app, "BEGIN IMMEDIATE").await;
    let response = create_contact(&app, &user, "Ada", "").await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("a contact");
    assert!(is_readable(&app, &user, created["id"].as_str().expect("an id")).await);
}
