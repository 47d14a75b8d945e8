use rapport::error::ProblemCode;
use serde_json::json;

use crate::helpers::{PASSWORD, assert_problem, spawn_app};

#[tokio::test]
async fn unknown_route_returns_404_problem() {
    let app = spawn_app().await;
    let body = assert_problem(app.get("/v1/nothing-here").await, 404, "not_found").await;
    assert!(body.get("errors").is_none(), "errors is only for 422");
}

#[tokio::test]
async fn wrong_method_returns_405_problem_with_allow() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    let allow = response.headers().get("allow").cloned();
    assert_problem(response, 405, "method_not_allowed").await;
    assert_eq!(allow.unwrap(), "GET");
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_in_header_and_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "client-id_1.2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-id_1.2");
    let body = assert_problem(response, 404, "not_found").await;
    assert_eq!(body["request_id"], "client-id_1.2");
}

#[tokio::test]
async fn an_insane_or_missing_request_id_is_replaced_by_a_generated_one() {
    let app = spawn_app().await;
    let too_long = "a".repeat(65);
    let mut seen = Vec::new();
    for given in [
        None,
        Some(too_long.as_str()),
        Some("has space"),
        Some("semi;colon"),
    ] {
        let mut request = app.client.get(app.url("/healthz"));
        if let Some(value) = given {
            request = request.header("x-request-id", value);
        }
        let response = request.send().await.unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "generated id {id:?}");
        assert_ne!(Some(id.as_str()), given);
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "every request gets its own id");
}

#[tokio::test]
async fn every_problem_type_has_a_page() {
    let app = spawn_app().await;
    for &code in ProblemCode::ALL {
        let response = app.get(&code.type_uri()).await;
        assert_eq!(response.status().as_u16(), 200, "{}", code.type_uri());
        let page: serde_json::Value = response.json().await.unwrap();
        assert_eq!(page["type"], code.type_uri());
        assert_eq!(page["code"], code.as_str());
        assert_eq!(page["status"], code.status().as_u16());
        assert!(page["description"].as_str().is_some_and(|d| d.len() > 20));
    }
}

#[tokio::test]
async fn an_unknown_problem_type_is_404() {
    let app = spawn_app().await;
    assert_problem(app.get("/problems/no-such-problem").await, 404, "not_found").await;
    // The page is addressed by the kebab-case slug only.
    assert_problem(app.get("/problems/not_found").await, 404, "not_found").await;
}

#[tokio::test]
async fn docs_redirects_to_swagger_ui_served_from_the_binary() {
    let app = spawn_app().await;
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status().as_u16(), 308);
    assert_eq!(redirect.headers()["location"], "/docs/");

    let page = app.get("/docs/").await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "Swagger UI page");
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no remote assets: {html}"
    );

    let initializer = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    ] {
        let response = app.get(&format!("/docs/{asset}")).await;
        assert_eq!(response.status().as_u16(), 200, "{asset}");
    }
}

/// What the published schema says about inputs is what the server does with them.
#[tokio::test]
async fn inputs_mean_what_the_schema_says() {
    use reqwest::Method;
    use serde_json::{Value, json};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let token = Some(user.access_token.as_str());
    let contact: Value = app
        .request(
            Method::POST,
            "/v1/contacts",
            token,
            // JSON Schema's integers include 30.0.
            Some(&json!({"full_name": "Ada", "cadence_days": 30.0, "tags": ["  x  "]})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(contact["cadence_days"], 30);
    assert_eq!(contact["tags"], json!(["x"]));
    let path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
    let fraction = app
        .request(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"cadence_days": 30.5})),
        )
        .await;
    assert_problem(fraction, 422, "validation_failed").await;

    // Lengths count the text as sent, and blank means ASCII whitespace only.
    for body in [
        json!({"full_name": " \t "}),
        json!({"full_name": format!(" {}", "a".repeat(200))}),
        json!({"links": [" https://example.com"]}),
        json!({"links": ["https://example.com/a b"]}),
    ] {
        let response = app.request(Method::PATCH, &path, token, Some(&body)).await;
        assert_problem(response, 422, "validation_failed").await;
    }

    // A malformed condition is 400; a request invalid anyway answers that, not 412.
    for bad in ["", "abc", "\"a\" \"b\"", "W/"] {
        let response = app
            .client
            .patch(app.url(&path))
            .bearer_auth(&user.access_token)
            .header("if-match", bad)
            .json(&json!({"title": "CTO"}))
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "invalid_condition").await;
    }
    let invalid_and_stale = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&user.access_token)
        .header("if-match", "\"stale\"")
        .json(&json!({"cadence_days": 0}))
        .send()
        .await
        .unwrap();
    assert_problem(invalid_and_stale, 422, "validation_failed").await;
    let stale = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&user.access_token)
        .header("if-match", "\"stale\", W/\"also,stale\"")
        .json(&json!({"cadence_days": 10}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "precondition_failed").await;

    // Empty free text means absent; an empty id, date or number is refused.
    for query in ["q=", "company=", "tag=", "tag=%20", "cursor="] {
        let response = app
            .get_as(&format!("/v1/contacts?{query}"), &user.access_token)
            .await;
        assert_eq!(response.status().as_u16(), 200, "{query}");
    }
    let offers = app
        .get_as("/v1/value-offers?topic=", &user.access_token)
        .await;
    assert_eq!(offers.status().as_u16(), 200);
    for query in [
        "/v1/asks?contact_id=",
        "/v1/contacts?updated_since=",
        "/v1/contacts?limit=",
    ] {
        let response = app.get_as(query, &user.access_token).await;
        assert_problem(response, 400, "invalid_query").await;
    }
}

#[tokio::test]
async fn the_nul_character_is_refused_everywhere_text_is_taken() {
    use reqwest::Method;
    use serde_json::json;

    let app = spawn_app().await;
    let user = app.create_user().await;
    let token = Some(user.access_token.as_str());
    let response = app
        .request(
            Method::POST,
            "/v1/contacts",
            token,
            Some(&json!({"full_name": "A\u{0}da"})),
        )
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "full_name");
    assert_eq!(problem["errors"][0]["code"], "invalid_character");
    let nested = app
        .request(
            Method::POST,
            "/v1/contacts",
            token,
            Some(&json!({"full_name": "Ada", "tags": ["ok", "n\u{0}"]})),
        )
        .await;
    let problem = assert_problem(nested, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "tags[1]");
    let login = app
        .post_json(
            "/v1/auth/token",
            &json!({"email": "a\u{0}@example.com", "password": "x"}),
        )
        .await;
    assert_problem(login, 422, "validation_failed").await;
    let query = app.get_as("/v1/contacts?q=a%00b", &user.access_token).await;
    assert_problem(query, 400, "invalid_query").await;
}

/// Bodies are JSON objects: an array is never mapped onto fields by position, and a key given
/// twice is refused rather than silently taking the last value.
#[tokio::test]
async fn non_object_bodies_are_422_and_duplicate_keys_400_on_real_routes() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let token = Some(user.access_token.as_str());
    let patch_me = app
        .request(
            reqwest::Method::PATCH,
            "/v1/me",
            token,
            Some(&json!(["Mallory", "Pacific/Auckland"])),
        )
        .await;
    let body = assert_problem(patch_me, 422, "validation_failed").await;
    assert!(
        !body.to_string().contains("Request"),
        "no Rust type names: {body}"
    );
    let me: serde_json::Value = app
        .get_as("/v1/me", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Test User");
    assert_eq!(me["time_zone"], "UTC");

    let login = app
        .post_json("/v1/auth/token", &json!([user.email, user.password]))
        .await;
    assert_problem(login, 422, "validation_failed").await;

    let twice = app
        .client
        .post(app.url("/v1/contacts"))
        .bearer_auth(&user.access_token)
        .header("content-type", "application/json")
        .body(r#"{"full_name": "Ada", "full_name": "Mallory"}"#)
        .send()
        .await
        .unwrap();
    let body = assert_problem(twice, 400, "malformed_json").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("duplicate key `full_name`")
    );
}

/// `HEAD` works wherever `GET` does, with the same headers and no body; every response is
/// `nosniff`, and everything under `/v1/` is `no-store`.
#[tokio::test]
async fn head_is_served_like_get_and_responses_carry_their_safety_headers() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let contact = app
        .request(
            reqwest::Method::POST,
            "/v1/contacts",
            Some(&user.access_token),
            Some(&json!({"full_name": "Ada"})),
        )
        .await;
    let path = format!(
        "/v1/contacts/{}",
        contact.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
    );
    let get = app.get_as(&path, &user.access_token).await;
    let head = app
        .request(reqwest::Method::HEAD, &path, Some(&user.access_token), None)
        .await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], get.headers()["etag"]);
    assert_eq!(
        head.headers()["content-length"],
        get.headers()["content-length"]
    );
    assert!(head.bytes().await.unwrap().is_empty());
    for path in [
        "/v1/contacts",
        "/v1/me",
        "/healthz",
        "/v1/nothing-here",
        "/openapi.json",
    ] {
        let head = app
            .request(reqwest::Method::HEAD, path, Some(&user.access_token), None)
            .await;
        assert_ne!(head.status(), 405, "HEAD {path}");
        assert_eq!(
            head.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        let no_store = head
            .headers()
            .get("cache-control")
            .is_some_and(|v| v == "no-store");
        assert_eq!(no_store, path.starts_with("/v1/"), "{path}");
    }
}

/// A body announced and never sent no longer holds the connection: 408 problem after
/// `body_timeout_ms`, through the JSON extractor and through the idempotency middleware alike.
#[tokio::test]
async fn a_body_that_never_arrives_is_408_after_the_body_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = crate::helpers::spawn_app_with(|s| s.body_timeout_ms = 300).await;
    let user = app.create_user().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    for extra in ["", "Idempotency-Key: slow-body\r\n"] {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST /v1/contacts HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n{extra}\r\n{{\"full_name\":",
            user.access_token
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        // The server answers, then closes: read until it does.
        loop {
            let n = stream.read(&mut buffer).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if String::from_utf8_lossy(&answer).contains("\"request_id\"") {
                break;
            }
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{extra:?}: {answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
        assert!(answer.to_lowercase().contains("x-request-id:"), "{answer}");
    }
}

/// A request head over `max_header_bytes`, or with more than 64 header fields, is 431
/// `headers_too_large` with a problem body, a request id and the safety headers; one at the
/// limit is served. Sent on a raw socket, so that the head is exactly the bytes counted: the
/// request line and the header fields with their line ends.
#[tokio::test]
async fn a_head_over_its_limits_is_431_and_one_at_them_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const LIMIT: usize = 2048;
    let app = crate::helpers::spawn_app_with(|s| s.max_header_bytes = LIMIT).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let ask = |head: String| {
        let host = host.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
            stream.write_all(head.as_bytes()).await.unwrap();
            stream.write_all(b"\r\n").await.unwrap();
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await.unwrap();
            String::from_utf8_lossy(&answer).into_owned()
        }
    };
    // `Connection: close` ends each exchange, so the answer is read to its end.
    let start = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    let padded = |size: usize| {
        let pad = size - start.len() - "X-Pad: \r\n".len();
        format!("{start}X-Pad: {}\r\n", "p".repeat(pad))
    };
    let at_limit = padded(LIMIT);
    assert_eq!(at_limit.len(), LIMIT);
    let answer = ask(at_limit).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let fields = |n: usize| {
        let extra: String = (0..n - 2).map(|i| format!("X-F{i}: v\r\n")).collect();
        format!("{start}{extra}")
    };
    let answer = ask(fields(64)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    for (head, detail) in [
        (
            padded(LIMIT + 1),
            format!("take {} bytes; at most {LIMIT}", LIMIT + 1),
        ),
        (fields(65), "has 65 header fields; at most 64".to_owned()),
    ] {
        let answer = ask(head).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        let lower = answer.to_lowercase();
        assert!(
            lower.contains("content-type: application/problem+json"),
            "{answer}"
        );
        assert!(lower.contains("x-request-id:"), "{answer}");
        assert!(
            lower.contains("x-content-type-options: nosniff"),
            "{answer}"
        );
        assert!(
            answer.contains("\"code\":\"headers_too_large\""),
            "{answer}"
        );
        assert!(answer.contains(&detail), "{detail}: {answer}");
    }

    // Under /v1/ too, before authentication: the refusal reads nothing else of the request.
    let response = app
        .client
        .get(app.url("/v1/me"))
        .header("x-pad", "p".repeat(LIMIT))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    assert_problem(response, 431, "headers_too_large").await;
}

/// Every problem code is answered by a real route, checked in full by `assert_problem`
/// (status, type, title, detail, request id); a 500 is forced by dropping a table under the
/// server. The codes whose cause takes a set-up of its own are asserted by the tests named
/// below, and a code in neither list fails this test.
#[tokio::test]
async fn every_problem_code_is_answered_by_a_real_route() {
    use reqwest::Method;
    use sea_orm::ConnectionTrait;

    const ELSEWHERE: &[(&str, &str)] = &[
        (
            "request_timeout",
            "errors::a_body_that_never_arrives_is_408_after_the_body_timeout",
        ),
        (
            "headers_too_large",
            "errors::a_head_over_its_limits_is_431_and_one_at_them_is_served",
        ),
        (
            "service_unavailable",
            "faults::a_full_database_answers_507_and_acknowledges_only_what_it_keeps",
        ),
        (
            "storage_full",
            "faults::a_full_database_answers_507_and_acknowledges_only_what_it_keeps",
        ),
        (
            "database_unavailable",
            "health::readyz_returns_503_when_the_database_is_gone",
        ),
        (
            "secret_not_replayed",
            "idempotency::responses_carrying_secrets_are_not_stored_for_replay",
        ),
        ("busy", "scripts/concurrency.py, the login flood"),
        (
            "cors_rejected",
            "config::a_preflight_from_another_origin_is_a_cors_rejected_problem",
        ),
    ];
    let app = crate::helpers::spawn_app_with(|s| s.idempotency_wait_ms = 20).await;
    let user = app.create_user().await;
    let token = Some(user.access_token.as_str());
    let read_only = app.personal_token(&user, &["read"]).await;
    let contact = app.create_contact(&user, json!({"full_name": "Ada"})).await;
    let contact_path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
    let send = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(&user.access_token)
    };
    let mut seen = Vec::new();
    let mut expect = |code: &'static str| seen.push(code);

    let raw = send(Method::POST, "/v1/contacts")
        .header("content-type", "application/json")
        .body("{");
    assert_problem(raw.send().await.unwrap(), 400, "malformed_json").await;
    expect("malformed_json");
    assert_problem(
        app.get_as("/v1/contacts?limit=0", &user.access_token).await,
        400,
        "invalid_query",
    )
    .await;
    expect("invalid_query");
    let missing = format!("/v1/contacts/{}", uuid::Uuid::now_v7());
    assert_problem(
        app.get_as(&missing, &user.access_token).await,
        404,
        "not_found",
    )
    .await;
    expect("not_found");
    assert_problem(
        send(Method::PUT, "/v1/contacts").send().await.unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    expect("method_not_allowed");
    let huge = json!({"full_name": "x".repeat(1024 * 1024 + 1)});
    assert_problem(
        app.request(Method::POST, "/v1/contacts", token, Some(&huge))
            .await,
        413,
        "payload_too_large",
    )
    .await;
    expect("payload_too_large");
    let text = send(Method::POST, "/v1/contacts")
        .header("content-type", "text/plain")
        .body("Ada");
    assert_problem(text.send().await.unwrap(), 415, "unsupported_media_type").await;
    expect("unsupported_media_type");
    assert_problem(
        app.request(Method::POST, "/v1/contacts", token, Some(&json!({})))
            .await,
        422,
        "validation_failed",
    )
    .await;
    expect("validation_failed");
    assert_problem(
        app.get_as("/v1/contacts?cursor=garbage", &user.access_token)
            .await,
        400,
        "invalid_cursor",
    )
    .await;
    expect("invalid_cursor");
    let reversed = "/v1/stats?from=2026-03-02&to=2026-03-01";
    assert_problem(
        app.get_as(reversed, &user.access_token).await,
        400,
        "invalid_range",
    )
    .await;
    expect("invalid_range");
    let garbage = send(Method::PATCH, &contact_path)
        .header("if-match", "garbage")
        .json(&json!({"title": "x"}));
    assert_problem(garbage.send().await.unwrap(), 400, "invalid_condition").await;
    expect("invalid_condition");
    let stale = send(Method::PATCH, &contact_path)
        .header("if-match", "\"stale\"")
        .json(&json!({"title": "x"}));
    assert_problem(stale.send().await.unwrap(), 412, "precondition_failed").await;
    expect("precondition_failed");
    assert_problem(app.get("/v1/me").await, 401, "unauthorized").await;
    expect("unauthorized");
    assert_problem(app.get_as("/v1/me", "nope").await, 401, "invalid_token").await;
    expect("invalid_token");
    assert_problem(
        app.login(&user.email, "wrong password!").await,
        401,
        "invalid_credentials",
    )
    .await;
    expect("invalid_credentials");
    let as_reader = app
        .request(
            Method::POST,
            "/v1/contacts",
            Some(&read_only),
            Some(&json!({"full_name": "B"})),
        )
        .await;
    assert_problem(as_reader, 403, "insufficient_scope").await;
    expect("insufficient_scope");
    assert_problem(
        app.register(&user.email, PASSWORD).await,
        409,
        "email_taken",
    )
    .await;
    expect("email_taken");
    let locked = format!("locked-{}@example.com", uuid::Uuid::now_v7().simple());
    app.register(&locked, PASSWORD).await;
    for _ in 0..5 {
        app.login(&locked, "wrong password!").await;
    }
    assert_problem(app.login(&locked, PASSWORD).await, 429, "rate_limited").await;
    expect("rate_limited");

    let keyed = |key: &str, name: &str| {
        send(Method::POST, "/v1/contacts")
            .header("idempotency-key", key)
            .json(&json!({"full_name": name}))
            .send()
    };
    assert_problem(
        keyed(&"k".repeat(256), "C").await.unwrap(),
        400,
        "invalid_idempotency_key",
    )
    .await;
    expect("invalid_idempotency_key");
    assert_eq!(keyed("once", "C").await.unwrap().status(), 201);
    assert_problem(
        keyed("once", "D").await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    expect("idempotency_key_reused");
    // A key whose first request is still running (as a claim without a response).
    let hash =
        rapport::api::idempotency::request_hash("POST", "/v1/contacts", br#"{"full_name":"E"}"#);
    let owner: uuid::Uuid = user.id.parse().unwrap();
    let began =
        rapport::services::idempotency::begin(&app.db, owner, "running", &hash, chrono::Utc::now());
    assert!(matches!(
        began.await.unwrap(),
        rapport::services::idempotency::Begin::Started(_)
    ));
    assert_problem(
        keyed("running", "E").await.unwrap(),
        409,
        "idempotency_key_in_use",
    )
    .await;
    expect("idempotency_key_in_use");

    // A failure the server cannot answer otherwise: a table gone from under it.
    app.db
        .writer()
        .execute_unprepared("DROP TABLE tag_count")
        .await
        .unwrap();
    assert_problem(
        app.get_as("/v1/tags", &user.access_token).await,
        500,
        "internal_error",
    )
    .await;
    expect("internal_error");

    for &code in ProblemCode::ALL {
        let code = code.as_str();
        assert!(
            seen.contains(&code) || ELSEWHERE.iter().any(|(c, _)| *c == code),
            "no route is shown to answer {code}"
        );
    }
}

/// One range and one form of dates and instants, enforced before the database, with the same
/// answer on SQLite and PostgreSQL (the suite runs on both): out-of-range dates, years not of
/// four digits, a NUL inside a decoded cursor; and instants kept to the microsecond, a leap
/// second held in its minute.
#[tokio::test]
async fn dates_instants_and_cursors_get_the_same_answer_on_both_backends() {
    use base64::Engine;
    use reqwest::Method;

    let app = spawn_app().await;
    let user = app.create_user().await;
    let token = Some(user.access_token.as_str());
    let contact = app.create_contact(&user, json!({"full_name": "Ada"})).await;
    let conversation = |occurred_at: &str| {
        json!({"occurred_at": occurred_at, "channel": "call", "summary": "Call",
            "participant_ids": [contact["id"]]})
    };
    for (path, body, field) in [
        (
            "/v1/conversations",
            conversation("-4714-01-01T00:00:00Z"),
            "occurred_at",
        ),
        (
            "/v1/conversations",
            conversation("+200000-01-01T00:00:00Z"),
            "occurred_at",
        ),
        (
            "/v1/conversations",
            conversation("0001-01-01T00:00:00+01:00"),
            "occurred_at",
        ),
        (
            "/v1/contacts",
            json!({"full_name": "B", "met_on": "1-1-1"}),
            "met_on",
        ),
        (
            "/v1/contacts",
            json!({"full_name": "B", "met_on": "-4714-01-01"}),
            "met_on",
        ),
    ] {
        let response = app.request(Method::POST, path, token, Some(&body)).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], "invalid_date", "{body}");
    }
    for (query, code) in [
        (
            "/v1/contacts?updated_since=-4714-01-01T00:00:00Z",
            "invalid_range",
        ),
        (
            "/v1/conversations?from=%2B200000-01-01T00:00:00Z",
            "invalid_range",
        ),
        ("/v1/conversations?to=yesterday", "invalid_query"),
        (
            "/v1/stats?from=-262143-01-01&to=-262143-01-01",
            "invalid_range",
        ),
    ] {
        assert_problem(app.get_as(query, &user.access_token).await, 400, code).await;
    }
    let nul = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!(["full_name", "a\u{0}b", uuid::Uuid::now_v7()]).to_string());
    let cursor = app
        .get_as(
            &format!("/v1/contacts?sort=full_name&cursor={nul}"),
            &user.access_token,
        )
        .await;
    assert_problem(cursor, 400, "invalid_cursor").await;
    // A derived sort's value beyond any date, on a page walked along the sort's index and on
    // one read cadence by cadence (a health sorted by one of the dates it follows).
    for sort in ["-last_conversation_at", "next_check_in_on"] {
        let beyond = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!([sort, i64::MAX.to_string(), uuid::Uuid::now_v7()]).to_string());
        for health in ["", "&health=due"] {
            let page = app
                .get_as(
                    &format!("/v1/contacts?sort={sort}{health}&cursor={beyond}"),
                    &user.access_token,
                )
                .await;
            assert_problem(page, 400, "invalid_cursor").await;
        }
    }

    for (sent, kept) in [
        (
            "2026-03-01T10:00:00.123456789Z",
            "2026-03-01T10:00:00.123456Z",
        ),
        ("2026-02-28T23:59:60Z", "2026-02-28T23:59:59.999999Z"),
        ("2026-03-01T12:00:00+02:00", "2026-03-01T10:00:00Z"),
    ] {
        let created = app
            .request(
                Method::POST,
                "/v1/conversations",
                token,
                Some(&conversation(sent)),
            )
            .await;
        assert_eq!(created.status(), 201, "{sent}");
        let created: serde_json::Value = created.json().await.unwrap();
        let path = format!("/v1/conversations/{}", created["id"].as_str().unwrap());
        let read: serde_json::Value = app
            .get_as(&path, &user.access_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(created["occurred_at"], kept, "{sent} as answered");
        assert_eq!(read["occurred_at"], kept, "{sent} as stored");
    }
}

/// Every text field a create operation publishes as a `name`, `line` or `paragraph` is held to
/// its kind's characters by the route itself: the spec's formats and the handlers agree.
#[tokio::test]
async fn text_fields_refuse_the_characters_their_published_kind_refuses() {
    use reqwest::Method;
    use serde_json::{Value, json};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let token = Some(user.access_token.as_str());
    let contact: Value = app
        .request(
            Method::POST,
            "/v1/contacts",
            token,
            Some(&json!({"full_name": "Ada"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let spec = rapport::openapi::build();
    let spec = serde_json::to_value(&spec).unwrap();
    let creates = [
        (
            "/v1/contacts",
            "CreateContactRequest",
            json!({"full_name": "Grace"}),
        ),
        (
            "/v1/conversations",
            "CreateConversationRequest",
            json!({"occurred_at": "2026-11-20T08:30:00Z", "channel": "call", "summary": "Call",
                "participant_ids": [contact["id"]]}),
        ),
        (
            "/v1/value-offers",
            "CreateValueOfferRequest",
            json!({"contact_id": contact["id"], "kind": "news", "title": "News"}),
        ),
        (
            "/v1/asks",
            "CreateAskRequest",
            json!({"contact_id": contact["id"], "kind": "advice", "title": "Advice"}),
        ),
        (
            "/v1/tokens",
            "CreateTokenRequest",
            json!({"name": "ci", "scopes": ["read"]}),
        ),
    ];
    let mut checked = 0;
    for (path, schema, base) in creates {
        let properties = spec["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} has properties"));
        for (field, property) in properties {
            let kind = property["format"].as_str().unwrap_or_default();
            // What each kind must refuse, and what it must keep.
            let (refused, kept): (&[&str], &[&str]) = match kind {
                "name" => (
                    &[
                        "\u{202e}\u{200b}",
                        "\u{1b}[31mred",
                        "two\nlines",
                        "\u{3164}",
                    ],
                    &["Grace\u{a0}Hopper", "李"],
                ),
                "line" => (
                    &["\u{1b}[31mred", "two\nlines", "tab\there"],
                    &["\u{200b}x"],
                ),
                "paragraph" => (&["\u{1b}[2J", "bell\u{7}"], &["first\r\n\tsecond"]),
                _ => continue,
            };
            for text in refused {
                let mut body = base.clone();
                body[field] = json!(text);
                let response = app.request(Method::POST, path, token, Some(&body)).await;
                let problem = assert_problem(response, 422, "validation_failed").await;
                assert_eq!(
                    problem["errors"][0]["field"],
                    field.as_str(),
                    "{path} {text:?}"
                );
                checked += 1;
            }
            for text in kept {
                let mut body = base.clone();
                body[field] = json!(text);
                let response = app.request(Method::POST, path, token, Some(&body)).await;
                assert_eq!(response.status().as_u16(), 201, "{path} {field} {text:?}");
                let created: Value = response.json().await.unwrap();
                assert_eq!(created[field], json!(text), "{path} {field} kept as sent");
                checked += 1;
            }
        }
    }
    // Every create above has text of a kind: a spec that lost its formats fails here.
    assert!(checked >= 60, "only {checked} checks ran");
    let me = app
        .request(
            Method::PATCH,
            "/v1/me",
            token,
            Some(&json!({"display_name": "\u{200b}"})),
        )
        .await;
    let problem = assert_problem(me, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "required");
}

/// A stored value the API never writes (a hand edit, a faulty migration) is a 500 naming
/// nothing to the client, never a default served as if it were the data: each decoded column
/// is corrupted in turn under a real route.
#[tokio::test]
async fn a_corrupt_stored_value_is_an_internal_error_not_a_default() {
    use reqwest::Method;
    use sea_orm::ConnectionTrait;

    let app = spawn_app().await;
    let user = app.create_user().await;
    let token = Some(user.access_token.as_str());
    let app = &app;
    let create = |path: &'static str, body: serde_json::Value| async move {
        let response = app.request(Method::POST, path, token, Some(&body)).await;
        assert_eq!(response.status(), 201, "{path}");
        let created: serde_json::Value = response.json().await.unwrap();
        created["id"].as_str().unwrap().to_owned()
    };
    let contact = create("/v1/contacts", json!({"full_name": "Ada"})).await;
    let conversation = create(
        "/v1/conversations",
        json!({"occurred_at": "2026-03-01T10:00:00Z", "channel": "call", "summary": "Call",
            "participant_ids": [contact]}),
    )
    .await;
    let offer = create(
        "/v1/value-offers",
        json!({"contact_id": contact, "kind": "news", "title": "News"}),
    )
    .await;
    let ask = create(
        "/v1/asks",
        json!({"contact_id": contact, "kind": "advice", "title": "Advice"}),
    )
    .await;
    let cases = [
        ("ask", "status", "'granted-ish'", format!("/v1/asks/{ask}")),
        ("ask", "kind", "'bribe'", "/v1/asks".to_owned()),
        (
            "value_offer",
            "status",
            "'lost'",
            format!("/v1/value-offers/{offer}"),
        ),
        (
            "value_offer",
            "topics",
            "'{\"not\": \"a list\"}'",
            "/v1/value-offers".to_owned(),
        ),
        (
            "conversation",
            "channel",
            "'telepathy'",
            format!("/v1/conversations/{conversation}"),
        ),
        (
            "conversation",
            "thank_you_status",
            "'maybe'",
            "/v1/conversations".to_owned(),
        ),
        (
            "contact",
            "links",
            "'[1, 2]'",
            format!("/v1/contacts/{contact}"),
        ),
        (
            "contact",
            "interests",
            "'\"rust\"'",
            "/v1/contacts".to_owned(),
        ),
    ];
    let json_columns = ["topics", "links", "interests"];
    let backend = app.db.backend();
    let placeholder = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    for (table, column, bad, path) in cases {
        let id = match table {
            "ask" => &ask,
            "value_offer" => &offer,
            "conversation" => &conversation,
            _ => &contact,
        };
        let id: uuid::Uuid = id.parse().unwrap();
        let on_row =
            |sql: String| sea_orm::Statement::from_sql_and_values(backend, sql, [id.into()]);
        let original: String = {
            let read = on_row(format!(
                "SELECT CAST({column} AS TEXT) AS v FROM {table} WHERE id = {placeholder}"
            ));
            let row = app.db.writer().query_one_raw(read).await.unwrap().unwrap();
            row.try_get("", "v").unwrap()
        };
        let value = |literal: &str| match (json_columns.contains(&column), backend) {
            (true, sea_orm::DbBackend::Postgres) => format!("{literal}::jsonb"),
            _ => literal.to_owned(),
        };
        let set = |literal: String| {
            on_row(format!(
                "UPDATE {table} SET {column} = {literal} WHERE id = {placeholder}"
            ))
        };
        app.db.writer().execute_raw(set(value(bad))).await.unwrap();
        let problem = assert_problem(
            app.get_as(&path, &user.access_token).await,
            500,
            "internal_error",
        )
        .await;
        assert!(
            !problem["detail"].as_str().unwrap().contains(column),
            "the cause stays in the log: {problem}"
        );
        let restore = value(&format!("'{}'", original.replace('\'', "''")));
        app.db.writer().execute_raw(set(restore)).await.unwrap();
        let healed = app.get_as(&path, &user.access_token).await;
        assert_eq!(healed.status(), 200, "{table}.{column} restored");
    }
}
