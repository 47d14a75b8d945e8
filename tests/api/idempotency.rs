//! `Idempotency-Key` under faults: the response of a create is stored in the transaction of
//! its write, a claim left by a dead process is released, a claim taken over cannot complete,
//! and responses carrying secrets are never stored.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, on_postgres, spawn_app, test_settings};

async fn post_with_key(
    app: &TestApp,
    address: &str,
    user: &TestUser,
    path: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .post(format!("{address}{path}"))
        .bearer_auth(&user.access_token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn contacts_named(app: &TestApp, user: &TestUser, name: &str) -> usize {
    let page: Value = app
        .get_as(
            &format!("/v1/contacts?q={name}&limit=100"),
            &user.access_token,
        )
        .await
        .json()
        .await
        .expect("a page");
    page["data"].as_array().expect("data").len()
}

/// A claim as a process killed mid-request leaves it: no response yet.
async fn leave_pending_claim(
    app: &TestApp,
    user: &TestUser,
    key: &str,
    body: &Value,
    age: chrono::Duration,
) {
    let hash = rapport::api::idempotency::request_hash(
        "POST",
        "/v1/contacts",
        &serde_json::to_vec(body).expect("json"),
    );
    entity::idempotency_key::ActiveModel {
        owner_id: Set(user.id.parse().expect("uuid")),
        key: Set(key.into()),
        request_hash: Set(hash),
        response_status: Set(None),
        response_headers: Set(None),
        response_body: Set(None),
        created_at: Set(chrono::Utc::now() - age),
        claim: Set(Some(uuid::Uuid::now_v7())),
    }
    .insert(app.db.writer())
    .await
    .expect("a pending claim");
}

/// The create's response is stored with the write: the key's row holds exactly the body the
/// client got, and a retry replays it without a second contact.
#[tokio::test]
async fn a_create_stores_its_response_with_the_write_and_a_retry_replays_it() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let body = json!({"full_name": "Keyed Once"});
    let first = post_with_key(&app, &app.address, &user, "/v1/contacts", "k1", &body).await;
    assert_eq!(first.status().as_u16(), 201);
    let first_body = first.bytes().await.expect("body");
    let row = entity::idempotency_key::Entity::find()
        .filter(entity::idempotency_key::Column::Key.eq("k1"))
        .one(app.db.reader())
        .await
        .expect("query")
        .expect("the key's row");
    assert_eq!(row.response_status, Some(201));
    assert_eq!(row.response_body.as_deref(), Some(first_body.as_ref()));
    let retry = post_with_key(&app, &app.address, &user, "/v1/contacts", "k1", &body).await;
    assert_eq!(retry.status().as_u16(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.bytes().await.expect("body"), first_body);
    assert_eq!(contacts_named(&app, &user, "Keyed").await, 1);
}

/// On SQLite one process owns the file, so a claim still pending at start-up was left by one
/// that died before its write committed (a committed write completes its key with it): the
/// retry on the restarted server runs at once, and creates one contact.
#[tokio::test]
async fn a_claim_left_by_a_dead_process_is_released_at_start_up_on_sqlite() {
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    let body = json!({"full_name": "Retried Once"});
    leave_pending_claim(&app, &user, "crashed", &body, chrono::Duration::zero()).await;

    let restarted = rapport::startup::Application::build(test_settings(app.database_url.clone()))
        .await
        .expect("a second server on the same file");
    let address = format!("http://127.0.0.1:{}", restarted.port());
    tokio::spawn(restarted.run_until_stopped());
    let retry = post_with_key(&app, &address, &user, "/v1/contacts", "crashed", &body).await;
    assert_eq!(retry.status().as_u16(), 201);
    let again = post_with_key(&app, &address, &user, "/v1/contacts", "crashed", &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(contacts_named(&app, &user, "Retried").await, 1);
}

/// A claim abandoned long enough is taken over by the retry; the abandoned request, were it
/// still running, could no longer complete the key: its write fails and leaves nothing.
#[tokio::test]
async fn a_taken_over_claim_cannot_complete_and_its_write_rolls_back() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let owner: uuid::Uuid = user.id.parse().expect("uuid");
    let body = json!({"full_name": "Taken Over"});
    let hash = rapport::api::idempotency::request_hash(
        "POST",
        "/v1/contacts",
        &serde_json::to_vec(&body).expect("json"),
    );
    let began = rapport::services::idempotency::begin(
        &app.db,
        owner,
        "slow",
        &hash,
        chrono::Utc::now() - chrono::Duration::minutes(3),
    )
    .await
    .expect("begin");
    let rapport::services::idempotency::Begin::Started(stale) = began else {
        panic!("the first request claims the key");
    };
    // The retry takes the abandoned claim over and completes it.
    let retry = post_with_key(&app, &app.address, &user, "/v1/contacts", "slow", &body).await;
    assert_eq!(retry.status().as_u16(), 201);

    let completion = stale.completing(|_: &rapport::services::contacts::Contact| {
        Ok(rapport::services::idempotency::StoredResponse {
            status: 201,
            headers: Vec::new(),
            body: b"stale".to_vec(),
        })
    });
    let fields = rapport::services::contacts::ContactFields {
        full_name: "Taken Over".into(),
        ..Default::default()
    };
    let late = rapport::services::contacts::create(
        &app.db,
        owner,
        fields,
        chrono::Utc::now(),
        Some(completion),
    )
    .await;
    let err = late.expect_err("the stale claim cannot complete");
    assert_eq!(err.code(), rapport::error::ProblemCode::IdempotencyKeyInUse);
    assert_eq!(
        contacts_named(&app, &user, "Taken").await,
        1,
        "the stale write rolled back"
    );
}

/// Tokens are never stored for replay: a retry with the key creates nothing and is 409, and
/// no stored response holds a secret.
#[tokio::test]
async fn responses_carrying_secrets_are_not_stored_for_replay() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    for (path, body) in [
        ("/v1/tokens", json!({"name": "ci", "scopes": ["read"]})),
        ("/v1/me/calendar-token", json!({})),
    ] {
        let first = post_with_key(&app, &app.address, &user, path, path, &body).await;
        assert_eq!(first.status().as_u16(), 201, "{path}");
        assert_eq!(first.headers()["cache-control"], "no-store", "{path}");
        let retry = post_with_key(&app, &app.address, &user, path, path, &body).await;
        assert_problem(retry, 409, "secret_not_replayed").await;
    }

    let tokens: Value = app
        .get_as("/v1/tokens", &user.access_token)
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(
        tokens["data"].as_array().expect("data").len(),
        1,
        "one token created"
    );
    let stored = entity::idempotency_key::Entity::find()
        .all(app.db.reader())
        .await
        .expect("keys");
    assert_eq!(stored.len(), 2);
    for row in stored {
        let body = String::from_utf8(row.response_body.unwrap_or_default()).expect("utf-8");
        assert!(
            !body.contains("rpt_") && !body.contains("rcal_"),
            "a secret was stored: {body}"
        );
    }
    let count = entity::personal_token::Entity::find()
        .count(app.db.reader())
        .await
        .expect("count");
    assert_eq!(count, 1);
}
