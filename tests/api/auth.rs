//! Registration, login, refresh rotation, logout and throttling.

use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, assert_problem, problem_without_request_id, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn register_returns_201_with_the_account_and_no_secret() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/v1/auth/register",
            &json!({"email": "Ada@Example.COM", "password": PASSWORD, "display_name": " Ada "}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["location"], "/v1/me");
    assert!(response.headers().contains_key("etag"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["display_name"], "Ada");
    assert_eq!(body["time_zone"], "UTC");
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    let text = body.to_string();
    assert!(
        !text.contains("argon2") && !text.contains(PASSWORD) && body.get("password_hash").is_none()
    );
}

#[tokio::test]
async fn register_refuses_a_duplicate_email_in_any_letter_case() {
    let app = spawn_app().await;
    assert_eq!(
        app.register("ada@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        201
    );
    assert_problem(
        app.register("ADA@example.COM", PASSWORD).await,
        409,
        "email_taken",
    )
    .await;
    assert_eq!(app.table_counts().await["user"], 1);
}

#[tokio::test]
async fn register_reports_every_invalid_field_at_once() {
    let app = spawn_app().await;
    let body = json!({"email": "not-an-email", "password": "short", "display_name": "  ",
                      "time_zone": "Mars/Olympus"});
    let problem = assert_problem(
        app.post_json("/v1/auth/register", &body).await,
        422,
        "validation_failed",
    )
    .await;
    let mut fields: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            ("display_name", "required"),
            ("email", "invalid_email"),
            ("password", "too_short"),
            ("time_zone", "invalid_time_zone")
        ]
    );
    assert_eq!(app.table_counts().await["user"], 0);
}

#[tokio::test]
async fn password_length_is_checked_at_9_10_128_and_129_characters() {
    let app = spawn_app().await;
    let password = |n: usize| "ab".repeat(n).chars().take(n).collect::<String>();
    let problem = assert_problem(
        app.register("a@example.com", &password(9)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "too_short");
    let problem = assert_problem(
        app.register("a@example.com", &password(129)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "too_long");
    assert_eq!(
        app.register("b@example.com", &password(10))
            .await
            .status()
            .as_u16(),
        201
    );
    assert_eq!(
        app.register("c@example.com", &password(128))
            .await
            .status()
            .as_u16(),
        201
    );
}

#[tokio::test]
async fn register_rejects_extra_fields_and_creates_nothing() {
    let app = spawn_app().await;
    for (extra, code) in [("owner_id", "read_only"), ("is_admin", "unknown_field")] {
        let mut body =
            json!({"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada"});
        body[extra] = json!(true);
        let problem = assert_problem(
            app.post_json("/v1/auth/register", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], extra);
        assert_eq!(problem["errors"][0]["code"], code);
    }
    assert_eq!(app.table_counts().await["user"], 0);
}

#[tokio::test]
async fn a_5_mb_password_is_413_and_creates_nothing() {
    let app = spawn_app().await;
    let body = json!({"email": "ada@example.com", "password": "x".repeat(5 * 1024 * 1024), "display_name": "Ada"});
    assert_problem(
        app.post_json("/v1/auth/register", &body).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(app.table_counts().await["user"], 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_and_malformed_json_is_400_with_the_position() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/auth/register"))
        .header("content-type", "text/plain")
        .body("email=ada@example.com")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;

    let response = app
        .client
        .post(app.url("/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\": \"ada@example.com\",\n \"password\": }")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 400, "malformed_json").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("line 2 column"),
        "{problem}"
    );
}

#[tokio::test]
async fn login_returns_a_bearer_pair_that_works() {
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let response = app.login(" ADA@example.com", PASSWORD).await;
    assert_eq!(response.status().as_u16(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["refresh_expires_in"], 30 * 24 * 3600);
    assert_eq!(tokens["refresh_token"].as_str().unwrap().len(), 43);
    let me = app
        .get_as("/v1/me", tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status().as_u16(), 200);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let unknown = problem_without_request_id(app.login("bob@example.com", PASSWORD).await).await;
    let wrong =
        problem_without_request_id(app.login("ada@example.com", "wrong password!").await).await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown, wrong);
    assert_eq!(unknown.1["code"], "invalid_credentials");
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.post_json("/v1/auth/refresh", &json!({"refresh_token": token}))
                .await
        }
    };

    let first = refresh(user.refresh_token.clone()).await;
    assert_eq!(first.status().as_u16(), 200);
    let pair: Value = first.json().await.unwrap();
    let second_token = pair["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, user.refresh_token);
    assert_eq!(
        app.get_as("/v1/me", pair["access_token"].as_str().unwrap())
            .await
            .status()
            .as_u16(),
        200
    );

    // The first token again: theft. Its family, including the second token, is revoked.
    let reused = refresh(user.refresh_token.clone()).await;
    assert_eq!(
        reused.headers()["www-authenticate"],
        r#"Bearer realm="rapport", error="invalid_token""#
    );
    assert_problem(reused, 401, "invalid_token").await;
    assert_problem(refresh(second_token).await, 401, "invalid_token").await;

    // Another login is another family and still works.
    let other: Value = app.login(&user.email, PASSWORD).await.json().await.unwrap();
    let token = other["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(token).await.status().as_u16(), 200);
}

#[tokio::test]
async fn an_unknown_refresh_token_is_401() {
    let app = spawn_app().await;
    let response = app
        .post_json("/v1/auth/refresh", &json!({"refresh_token": "made-up"}))
        .await;
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_family() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let rotated: Value = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": user.refresh_token}),
        )
        .await
        .json()
        .await
        .unwrap();
    let current = rotated["refresh_token"].as_str().unwrap();
    let logout = app
        .post_json("/v1/auth/logout", &json!({"refresh_token": current}))
        .await;
    assert_eq!(logout.status().as_u16(), 204);
    let again = app
        .post_json("/v1/auth/refresh", &json!({"refresh_token": current}))
        .await;
    assert_problem(again, 401, "invalid_token").await;
}

fn assert_rate_limit_headers(response: &reqwest::Response, limit: u32, window_seconds: u64) {
    let header =
        |name: &str| -> u64 { response.headers()[name].to_str().unwrap().parse().unwrap() };
    assert!((1..=window_seconds).contains(&header("retry-after")));
    assert_eq!(header("ratelimit-limit"), u64::from(limit));
    assert_eq!(header("ratelimit-remaining"), 0);
    assert_eq!(header("ratelimit-reset"), header("retry-after"));
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_a_success_resets_the_count() {
    let app = spawn_app().await;
    // Registered but never logged in from here: the per-account limit applies in full.
    let email = format!("user-{}@example.com", uuid::Uuid::now_v7().simple());
    assert_eq!(app.register(&email, PASSWORD).await.status().as_u16(), 201);
    for _ in 0..4 {
        assert_eq!(
            app.login(&email, "wrong password!").await.status().as_u16(),
            401
        );
    }
    assert_eq!(
        app.login(&email, PASSWORD).await.status().as_u16(),
        200,
        "reset"
    );

    let other = format!("other-{}@example.com", uuid::Uuid::now_v7().simple());
    assert_eq!(app.register(&other, PASSWORD).await.status().as_u16(), 201);
    for _ in 0..5 {
        assert_eq!(
            app.login(&other, "wrong password!").await.status().as_u16(),
            401
        );
    }
    // Even the right password is refused now, without being checked.
    let limited = app.login(&other, PASSWORD).await;
    assert_rate_limit_headers(&limited, 5, 60);
    assert_problem(limited, 429, "rate_limited").await;
    // Another account from the same address is not affected.
    let third = app.create_user().await;
    assert_eq!(
        app.login(&third.email, PASSWORD).await.status().as_u16(),
        200
    );
}

/// Strangers failing on purpose lock an account only for addresses that never logged in to it:
/// the owner's usual address keeps getting in (the per-address limit still applies to it).
#[tokio::test]
async fn failed_logins_from_elsewhere_do_not_lock_out_an_address_that_logged_in_before() {
    let app = spawn_app().await;
    let owner = app.create_user().await; // logs in from 127.0.0.1
    let stranger = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("a client on another loopback address");
    let attempt = |password: &'static str| {
        stranger
            .post(app.url("/v1/auth/token"))
            .json(&json!({"email": owner.email, "password": password}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("wrong password!").await.unwrap().status().as_u16(),
            401
        );
    }
    let locked = attempt(PASSWORD).await.unwrap();
    assert_problem(locked, 429, "rate_limited").await;
    for _ in 0..3 {
        let wrong = app.login(&owner.email, "wrong password!").await;
        assert_eq!(
            wrong.status().as_u16(),
            401,
            "a trusted address is not locked out"
        );
    }
    assert_eq!(
        app.login(&owner.email, PASSWORD).await.status().as_u16(),
        200
    );
}

/// Concurrent wrong passwords cannot outrun the count: with a per-account limit of 5, at most
/// 5 of 40 simultaneous attempts are checked (401), and the rest are refused unchecked (429).
#[tokio::test]
async fn concurrent_failed_logins_check_no_more_passwords_than_the_limit() {
    let app = spawn_app().await;
    let email = format!("user-{}@example.com", uuid::Uuid::now_v7().simple());
    assert_eq!(app.register(&email, PASSWORD).await.status().as_u16(), 201);
    let attempts = (0..40).map(|_| app.login(&email, "wrong password!"));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 35), "{statuses:?}");
}

#[tokio::test]
async fn failed_logins_are_limited_per_client_address() {
    let app = spawn_app_with(|s| s.login_failures_per_ip = 3).await;
    for i in 0..3 {
        let response = app
            .login(&format!("nobody{i}@example.com"), "wrong password!")
            .await;
        assert_eq!(response.status().as_u16(), 401);
    }
    let limited = app
        .login("someone-else@example.com", "wrong password!")
        .await;
    assert_rate_limit_headers(&limited, 3, 60);
    assert_problem(limited, 429, "rate_limited").await;
}

#[tokio::test]
async fn registrations_are_limited_per_client_address() {
    let app = spawn_app_with(|s| s.registrations_per_ip = 2).await;
    assert_eq!(
        app.register("a@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        201
    );
    assert_eq!(
        app.register("b@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        201
    );
    let limited = app.register("c@example.com", PASSWORD).await;
    assert_rate_limit_headers(&limited, 2, 3600);
    assert_problem(limited, 429, "rate_limited").await;
    assert_eq!(app.table_counts().await["user"], 2);
}
