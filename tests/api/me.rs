//! `/v1/me`: profile, password, account deletion.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_problem, spawn_app};

#[tokio::test]
async fn get_me_returns_the_callers_account_only() {
    let app = spawn_app().await;
    let (ada, bob) = (app.create_user().await, app.create_user().await);
    let me: Value = app
        .get_as("/v1/me", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], ada.id.as_str());
    assert_eq!(me["email"], ada.email.as_str());
    let theirs: Value = app
        .get_as("/v1/me", &bob.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["id"], bob.id.as_str());

    let response = app.get_as("/v1/me", &ada.access_token).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let cached = app
        .client
        .get(app.url("/v1/me"))
        .bearer_auth(&ada.access_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status().as_u16(), 304);
    let renamed = app
        .request(
            Method::PATCH,
            "/v1/me",
            Some(&ada.access_token),
            Some(&json!({"display_name": "Ada K"})),
        )
        .await;
    assert_ne!(
        renamed.headers()["etag"],
        etag.as_str(),
        "a write changes the version"
    );
}

#[tokio::test]
async fn patch_me_is_a_merge_patch_of_name_and_time_zone() {
    let app = spawn_app().await;
    let (ada, bob) = (app.create_user().await, app.create_user().await);
    let bob_before: Value = app
        .get_as("/v1/me", &bob.access_token)
        .await
        .json()
        .await
        .unwrap();
    let patch = |body: Value| {
        let app = &app;
        let token = ada.access_token.clone();
        async move {
            app.request(Method::PATCH, "/v1/me", Some(&token), Some(&body))
                .await
        }
    };

    let response = patch(json!({"time_zone": "Pacific/Auckland"})).await;
    assert_eq!(response.status().as_u16(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["time_zone"], "Pacific/Auckland");
    assert_eq!(
        me["display_name"], "Test User",
        "absent fields are unchanged"
    );

    let me: Value = patch(json!({"display_name": "  Ada King "}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Ada King");
    assert_eq!(me["time_zone"], "Pacific/Auckland");

    let after: Value = app
        .get_as("/v1/me", &bob.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, bob_before, "another account is untouched");
}

#[tokio::test]
async fn patch_me_rejects_null_invalid_read_only_and_unknown_fields_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user().await;
    let before: Value = app
        .get_as("/v1/me", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    let cases = [
        (
            json!({"display_name": null}),
            "display_name",
            "not_nullable",
        ),
        (
            json!({"time_zone": "Nowhere/Special"}),
            "time_zone",
            "invalid_time_zone",
        ),
        (json!({"display_name": ""}), "display_name", "required"),
        (
            json!({"id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"}),
            "id",
            "read_only",
        ),
        (
            json!({"created_at": "2020-01-01T00:00:00Z"}),
            "created_at",
            "read_only",
        ),
        (
            json!({"display_nmae": "typo"}),
            "display_nmae",
            "unknown_field",
        ),
        (
            json!({"email": "new@example.com"}),
            "email",
            "unknown_field",
        ),
    ];
    for (body, field, code) in cases {
        let response = app
            .request(
                Method::PATCH,
                "/v1/me",
                Some(&ada.access_token),
                Some(&body),
            )
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }
    let after: Value = app
        .get_as("/v1/me", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_credential() {
    let app = spawn_app().await;
    let ada = app.create_user().await;
    let personal = app.personal_token(&ada, &["read"]).await;
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let app = &app;
        let token = ada.access_token.clone();
        async move {
            app.request(Method::POST, "/v1/me/password", Some(&token), Some(&body))
                .await
        }
    };

    let wrong = assert_problem(
        change("not my password", "a brand new secret").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(wrong["errors"][0]["field"], "current_password");
    let weak = assert_problem(change(PASSWORD, "short").await, 422, "validation_failed").await;
    assert_eq!(weak["errors"][0]["field"], "new_password");
    assert_eq!(
        app.login(&ada.email, PASSWORD).await.status().as_u16(),
        200,
        "unchanged so far"
    );

    assert_eq!(
        change(PASSWORD, "a brand new secret")
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(app.login(&ada.email, PASSWORD).await.status().as_u16(), 401);
    assert_eq!(
        app.login(&ada.email, "a brand new secret")
            .await
            .status()
            .as_u16(),
        200
    );
    let refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": ada.refresh_token}),
        )
        .await;
    assert_problem(refresh, 401, "invalid_token").await;
    assert_problem(app.get_as("/v1/me", &personal).await, 401, "invalid_token").await;
}

#[tokio::test]
async fn deleting_the_account_removes_every_row_it_owns_and_nothing_else() {
    let app = spawn_app().await;
    let (ada, bob) = (app.create_user().await, app.create_user().await);
    // The same rows for both, in every table: then Ada's deletion must leave exactly half.
    for user in [&ada, &bob] {
        app.personal_token(user, &["read"]).await;
        let token = Some(user.access_token.as_str());
        let feed = app
            .request(Method::POST, "/v1/me/calendar-token", token, None)
            .await;
        assert_eq!(feed.status().as_u16(), 201);
        let contact: Value = app
            .client
            .post(app.url("/v1/contacts"))
            .bearer_auth(&user.access_token)
            .header("idempotency-key", "first-contact")
            .json(&json!({"full_name": "Friend", "tags": ["mentor"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let conversation = json!({"occurred_at": "2026-11-20T08:30:00Z", "channel": "call",
            "summary": "Call", "participant_ids": [contact["id"]]});
        let offer = json!({"contact_id": contact["id"], "kind": "news", "title": "News",
            "topics": ["launches"]});
        let ask = json!({"contact_id": contact["id"], "kind": "advice", "title": "Advice"});
        for (path, body) in [
            ("/v1/conversations", conversation),
            ("/v1/value-offers", offer),
            ("/v1/asks", ask),
        ] {
            let response = app.request(Method::POST, path, token, Some(&body)).await;
            assert_eq!(response.status().as_u16(), 201, "{path}");
        }
    }
    let before = app.table_counts().await;
    for (table, count) in &before {
        assert!(
            *count > 0 && count % 2 == 0,
            "{table} has rows of both users: {before:?}"
        );
    }

    let wrong = app
        .request(
            Method::DELETE,
            "/v1/me",
            Some(&ada.access_token),
            Some(&json!({"password": "not my password"})),
        )
        .await;
    assert_problem(wrong, 422, "validation_failed").await;
    assert_eq!(app.table_counts().await, before, "nothing deleted");

    let deleted = app
        .request(
            Method::DELETE,
            "/v1/me",
            Some(&ada.access_token),
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(deleted.status().as_u16(), 204);

    // Bob's rows are all that is left: one of each kind Ada had.
    let after = app.table_counts().await;
    for (table, count) in &before {
        assert_eq!(after[table], count / 2, "rows left in {table}: {after:?}");
    }
    assert_eq!(
        app.get_as("/v1/me", &bob.access_token)
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(app.login(&ada.email, PASSWORD).await.status().as_u16(), 401);
}

/// Credentials change only from a login: a write personal token cannot change the password,
/// delete the account, mint another token or issue a calendar feed URL.
#[tokio::test]
async fn personal_tokens_cannot_change_credentials() {
    let app = spawn_app().await;
    let ada = app.create_user().await;
    let script = app.personal_token(&ada, &["write"]).await;
    let attempts = [
        (
            Method::POST,
            "/v1/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": "another long passphrase"})),
        ),
        (
            Method::DELETE,
            "/v1/me",
            Some(json!({"password": PASSWORD})),
        ),
        (
            Method::POST,
            "/v1/tokens",
            Some(json!({"name": "child", "scopes": ["write"]})),
        ),
        (Method::POST, "/v1/me/calendar-token", None),
    ];
    for (method, path, body) in attempts {
        let response = app
            .request(method, path, Some(&script), body.as_ref())
            .await;
        assert_problem(response, 403, "insufficient_scope").await;
    }
    // Nothing changed: the password still logs in, and the script's token still works.
    assert_eq!(app.login(&ada.email, PASSWORD).await.status().as_u16(), 200);
    assert_eq!(app.get_as("/v1/me", &script).await.status().as_u16(), 200);
}

/// Wrong current passwords count like failed logins: once the address's allowance is used up,
/// the password change is refused unchecked, even with the right password.
#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_logins() {
    let app = crate::helpers::spawn_app_with(|s| s.login_failures_per_ip = 3).await;
    let ada = app.create_user().await;
    let change = |current: &'static str| {
        let body = json!({"current_password": current, "new_password": "another long passphrase"});
        let (app, token) = (&app, ada.access_token.clone());
        async move {
            app.request(Method::POST, "/v1/me/password", Some(&token), Some(&body))
                .await
        }
    };
    for _ in 0..3 {
        assert_problem(change("wrong password!").await, 422, "validation_failed").await;
    }
    assert_problem(change(PASSWORD).await, 429, "rate_limited").await;
    let delete = app
        .request(
            Method::DELETE,
            "/v1/me",
            Some(&ada.access_token),
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_problem(delete, 429, "rate_limited").await;
    assert_eq!(
        app.get_as("/v1/me", &ada.access_token)
            .await
            .status()
            .as_u16(),
        200
    );
}
