//! The `Auth` extractor and personal access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, TestApp, assert_problem, spawn_app};
use crate::isolation::{Probe, assert_isolated};

fn jwt(secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(sub: &str, issued: i64, lifetime: i64) -> Value {
    json!({"sub": sub, "iat": issued, "exp": issued + lifetime, "iss": "rapport",
           "aud": "rapport-api", "jti": uuid::Uuid::now_v7()})
}

async fn assert_invalid_token(app: &TestApp, token: &str, why: &str) {
    let response = app.get_as("/v1/me", token).await;
    assert_eq!(response.status().as_u16(), 401, "{why}");
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="rapport", error="invalid_token""#,
        "{why}"
    );
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_missing_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let response = app.request(Method::GET, "/v1/me", None, None).await;
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="rapport""#
    );
    assert_problem(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn every_kind_of_bad_token_is_401_invalid_token() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let now = Utc::now().timestamp();

    assert_invalid_token(&app, "garbage", "not a JWT").await;
    let other_secret = "another-secret-another-secret-another-secret";
    assert_invalid_token(
        &app,
        &jwt(other_secret, &claims(&user.id, now, 600)),
        "other secret",
    )
    .await;
    assert_invalid_token(
        &app,
        &jwt(TEST_SECRET, &claims(&user.id, now - 3600, 900)),
        "expired",
    )
    .await;
    let mut wrong_iss = claims(&user.id, now, 600);
    wrong_iss["iss"] = json!("someone-else");
    assert_invalid_token(&app, &jwt(TEST_SECRET, &wrong_iss), "wrong issuer").await;
    let mut wrong_aud = claims(&user.id, now, 600);
    wrong_aud["aud"] = json!("another-api");
    assert_invalid_token(&app, &jwt(TEST_SECRET, &wrong_aud), "wrong audience").await;
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&user.id, now, 600).to_string());
    assert_invalid_token(&app, &format!("{none_header}.{payload}."), "alg none").await;
    assert_invalid_token(&app, "rpt_not-a-real-token", "unknown personal token").await;

    let basic = app
        .client
        .get(app.url("/v1/me"))
        .header("authorization", "Basic YWRhOnB3")
        .send()
        .await
        .unwrap();
    assert_problem(basic, 401, "invalid_token").await;

    // The genuine token still works: the failures above were about the tokens.
    assert_eq!(
        app.get_as("/v1/me", &user.access_token)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_deleted_accounts_tokens_stop_working_at_once() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let personal = app.personal_token(&user, &["read"]).await;
    let deleted = app
        .request(
            Method::DELETE,
            "/v1/me",
            Some(&user.access_token),
            Some(&json!({"password": user.password})),
        )
        .await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_invalid_token(&app, &user.access_token, "JWT of a deleted account").await;
    assert_invalid_token(&app, &personal, "personal token of a deleted account").await;
}

#[tokio::test]
async fn personal_tokens_are_shown_once_and_listed_without_secrets() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let body = json!({"name": " nightly export ", "scopes": ["write"], "expires_in_days": 30});
    let response = app
        .request(
            Method::POST,
            "/v1/tokens",
            Some(&user.access_token),
            Some(&body),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created_etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let secret = created["token"].as_str().unwrap();
    assert!(
        secret.starts_with("rpt_") && secret.len() == 4 + 43,
        "{secret}"
    );
    assert_eq!(created["name"], "nightly export");
    assert_eq!(created["scopes"], json!(["read", "write"]));
    assert!(created["last_used_at"].is_null());
    assert_eq!(
        location,
        format!("/v1/tokens/{}", created["id"].as_str().unwrap())
    );

    let me = app.get_as("/v1/me", secret).await;
    assert_eq!(me.status().as_u16(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], user.id.as_str());

    let one = app.get_as(&location, &user.access_token).await;
    assert_ne!(
        one.headers()["etag"],
        created_etag.as_str(),
        "use changes the version"
    );
    let one: Value = one.json().await.unwrap();
    assert!(one["last_used_at"].is_string(), "use is recorded");
    assert!(one.get("token").is_none());
    let list: Value = app
        .get_as("/v1/tokens", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["has_more"], false);
    assert!(list["next_cursor"].is_null());
    assert!(!list.to_string().contains(secret) && list["data"][0].get("token").is_none());
}

#[tokio::test]
async fn a_read_token_cannot_write() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let read = app.personal_token(&user, &["read"]).await;
    assert_eq!(app.get_as("/v1/me", &read).await.status().as_u16(), 200);
    let response = app
        .request(
            Method::PATCH,
            "/v1/me",
            Some(&read),
            Some(&json!({"display_name": "Hacked"})),
        )
        .await;
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="rapport", error="insufficient_scope", scope="write""#
    );
    assert_problem(response, 403, "insufficient_scope").await;
    let me: Value = app.get_as("/v1/me", &read).await.json().await.unwrap();
    assert_eq!(me["display_name"], "Test User", "nothing changed");

    let write = app.personal_token(&user, &["write"]).await;
    let response = app
        .request(
            Method::PATCH,
            "/v1/me",
            Some(&write),
            Some(&json!({"display_name": "Scripted"})),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_revoked_personal_token_is_401() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let secret = app.personal_token(&user, &["read"]).await;
    let list: Value = app
        .get_as("/v1/tokens", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    let id = list["data"][0]["id"].as_str().unwrap();
    let path = format!("/v1/tokens/{id}");
    let revoked = app
        .request(Method::DELETE, &path, Some(&user.access_token), None)
        .await;
    assert_eq!(revoked.status().as_u16(), 204);
    assert_invalid_token(&app, &secret, "revoked").await;
    let again = app
        .request(Method::DELETE, &path, Some(&user.access_token), None)
        .await;
    assert_problem(again, 404, "not_found").await;
}

#[tokio::test]
async fn an_expired_personal_token_is_401() {
    use entity::personal_token;
    use sea_orm::{ActiveModelTrait, Set};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let secret = format!("rpt_{}", "e".repeat(43));
    personal_token::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        owner_id: Set(user.id.parse().unwrap()),
        name: Set("expired".into()),
        token_hash: Set(rapport::auth::opaque::hash(&secret)),
        scopes: Set("read".into()),
        created_at: Set(Utc::now() - chrono::Duration::days(10)),
        last_used_at: Set(None),
        expires_at: Set(Some(Utc::now() - chrono::Duration::days(1))),
    }
    .insert(app.db.writer())
    .await
    .unwrap();
    assert_invalid_token(&app, &secret, "expired personal token").await;
}

#[tokio::test]
async fn creating_a_token_validates_name_scopes_and_expiry() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let body = json!({"name": "", "scopes": [], "expires_in_days": 0});
    let response = app
        .request(
            Method::POST,
            "/v1/tokens",
            Some(&user.access_token),
            Some(&body),
        )
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "scopes", "expires_in_days"]);
    let body = json!({"name": "x", "scopes": ["admin"]});
    let response = app
        .request(
            Method::POST,
            "/v1/tokens",
            Some(&user.access_token),
            Some(&body),
        )
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "scopes[0]");
    assert_eq!(app.table_counts().await["personal_token"], 0);
}

#[tokio::test]
async fn the_token_list_is_paginated_without_gaps_or_duplicates() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let mut created = Vec::new();
    for _ in 0..5 {
        app.personal_token(&user, &["read"]).await;
    }
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tokens?limit=2&cursor={c}"),
            None => "/v1/tokens?limit=2".to_owned(),
        };
        let page: Value = app
            .get_as(&path, &user.access_token)
            .await
            .json()
            .await
            .unwrap();
        for item in page["data"].as_array().unwrap() {
            created.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(created.len(), 5);
    let mut sorted = created.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, created, "oldest first, each once");

    assert_problem(
        app.get_as("/v1/tokens?limit=101", &user.access_token).await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get_as("/v1/tokens?limit=0", &user.access_token).await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get_as("/v1/tokens?cursor=%25%25", &user.access_token)
            .await,
        400,
        "invalid_cursor",
    )
    .await;
}

#[tokio::test]
async fn personal_tokens_are_invisible_to_other_users() {
    let app = spawn_app().await;
    let (owner, intruder) = (app.create_user().await, app.create_user().await);
    app.personal_token(&owner, &["read"]).await;
    let list: Value = app
        .get_as("/v1/tokens", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let id = list["data"][0]["id"].as_str().unwrap();
    let probe = Probe {
        path: format!("/v1/tokens/{id}"),
        list: Some("/v1/tokens"),
        patch: None,
        delete: true,
    };
    assert_isolated(&app, &owner, &intruder, probe).await;
}

/// Like every other list, the token list refuses a parameter it does not know (a typo must
/// not silently widen a filter) and an empty one.
#[tokio::test]
async fn the_token_list_refuses_unknown_and_empty_parameters() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    for query in ["?scope=read", "?limit=", "?limit=10&sort=name"] {
        let response = app
            .get_as(&format!("/v1/tokens{query}"), &user.access_token)
            .await;
        assert_problem(response, 400, "invalid_query").await;
    }
    let ok = app.get_as("/v1/tokens?limit=10", &user.access_token).await;
    assert_eq!(ok.status().as_u16(), 200);
}
