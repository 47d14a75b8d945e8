//! Contacts: CRUD, validation, filters, pagination, ETags, idempotency, isolation, deletion.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, assert_problem, problem_without_request_id, spawn_app, spawn_app_with,
};
use crate::isolation::{Probe, assert_isolated};

impl TestApp {
    pub async fn create_contact(&self, user: &TestUser, body: Value) -> Value {
        let response = self
            .request(
                Method::POST,
                "/v1/contacts",
                Some(&user.access_token),
                Some(&body),
            )
            .await;
        assert_eq!(response.status().as_u16(), 201, "create contact {body}");
        response.json().await.unwrap()
    }

    pub async fn list(&self, user: &TestUser, path: &str) -> Value {
        let response = self.get_as(path, &user.access_token).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.json().await.unwrap()
    }
}

fn names(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["full_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_contact_round_trips_through_create_get_patch_and_delete() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let body = json!({
        "full_name": " Grace Hopper ", "preferred_name": "Grace", "email": "Grace@Example.com",
        "phone": "+1 555 0100", "company": "Navy Labs", "title": "Rear Admiral",
        "location": "Arlington", "links": ["https://www.linkedin.com/in/grace"],
        "how_we_met": "PyCon panel", "met_on": "2026-05-14", "tags": ["Mentor", "compilers", "mentor"],
        "interests": ["COBOL"], "notes": "Prefers mornings.", "cadence_days": 60
    });
    let response = app
        .request(
            Method::POST,
            "/v1/contacts",
            Some(&user.access_token),
            Some(&body),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/contacts/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["full_name"], "Grace Hopper");
    assert_eq!(created["email"], "grace@example.com");
    assert_eq!(created["tags"], json!(["compilers", "mentor"]));
    assert_eq!(created["interests"], json!(["cobol"]));
    assert_eq!(created["met_on"], "2026-05-14");
    assert!(created["archived_at"].is_null() && created["introduced_by_id"].is_null());

    let fetched = app.get_as(&location, &user.access_token).await;
    assert_eq!(fetched.headers()["etag"], etag.as_str());
    assert_eq!(fetched.json::<Value>().await.unwrap(), created);

    let patch = json!({"title": "CTO", "phone": null, "tags": ["mentor"]});
    let patched = app
        .request(
            Method::PATCH,
            &location,
            Some(&user.access_token),
            Some(&patch),
        )
        .await;
    assert_eq!(patched.status().as_u16(), 200);
    assert_ne!(patched.headers()["etag"], etag.as_str());
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["title"], "CTO");
    assert!(patched["phone"].is_null());
    assert_eq!(patched["tags"], json!(["mentor"]));
    assert_eq!(patched["company"], "Navy Labs", "absent fields stay");
    assert_eq!(app.list(&user, &location).await, patched);

    let deleted = app
        .request(Method::DELETE, &location, Some(&user.access_token), None)
        .await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_problem(
        app.get_as(&location, &user.access_token).await,
        404,
        "not_found",
    )
    .await;
    let again = app
        .request(Method::DELETE, &location, Some(&user.access_token), None)
        .await;
    assert_problem(again, 404, "not_found").await;
}

#[tokio::test]
async fn every_validation_rule_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let many = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>();
    let cases = vec![
        (json!({"full_name": "  "}), "full_name", "required"),
        (
            json!({"full_name": "x".repeat(201)}),
            "full_name",
            "too_long",
        ),
        (json!({}), "full_name", "required"),
        (
            json!({"full_name": "A", "email": "nope"}),
            "email",
            "invalid_email",
        ),
        (
            json!({"full_name": "A", "links": ["ftp://example.com"]}),
            "links[0]",
            "invalid_url",
        ),
        (
            json!({"full_name": "A", "links": many(11, &|i| format!("https://e.com/{i}"))}),
            "links",
            "too_many",
        ),
        (
            json!({"full_name": "A", "tags": many(21, &|i| format!("t{i}"))}),
            "tags",
            "too_many",
        ),
        (
            json!({"full_name": "A", "tags": ["x".repeat(41)]}),
            "tags[0]",
            "invalid_length",
        ),
        (
            json!({"full_name": "A", "interests": ["ok", ""]}),
            "interests[1]",
            "invalid_length",
        ),
        (
            json!({"full_name": "A", "notes": "n".repeat(20_001)}),
            "notes",
            "too_long",
        ),
        (
            json!({"full_name": "A", "cadence_days": 0}),
            "cadence_days",
            "out_of_range",
        ),
        (
            json!({"full_name": "A", "cadence_days": 731}),
            "cadence_days",
            "out_of_range",
        ),
        (
            json!({"full_name": "A", "met_on": "2026-13-01"}),
            "met_on",
            "invalid_date",
        ),
        (
            json!({"full_name": "A", "met_on": "1-1-1"}),
            "met_on",
            "invalid_date",
        ),
        (
            json!({"full_name": "A", "met_on": "+200000-01-01"}),
            "met_on",
            "invalid_date",
        ),
        (
            json!({"full_name": "A", "introduced_by_id": uuid::Uuid::now_v7()}),
            "introduced_by_id",
            "unknown_contact",
        ),
        (
            json!({"full_name": "A", "id": uuid::Uuid::now_v7()}),
            "id",
            "read_only",
        ),
        (
            json!({"full_name": "A", "owner_id": uuid::Uuid::now_v7()}),
            "owner_id",
            "read_only",
        ),
        (
            json!({"full_name": "A", "archived_at": "2026-01-01T00:00:00Z"}),
            "archived_at",
            "unknown_field",
        ),
        (
            json!({"full_name": "A", "nmae": "typo"}),
            "nmae",
            "unknown_field",
        ),
    ];
    for (body, field, code) in cases {
        let response = app
            .request(
                Method::POST,
                "/v1/contacts",
                Some(&user.access_token),
                Some(&body),
            )
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }
    // Bounds that are allowed.
    let edge = json!({"full_name": "x".repeat(200), "cadence_days": 730,
                      "links": many(10, &|i| format!("https://e.com/{i}")),
                      "tags": many(20, &|i| format!("t{i}")), "notes": "n".repeat(20_000)});
    app.create_contact(&user, edge).await;
    assert_eq!(app.table_counts().await["contact"], 1);
}

#[tokio::test]
async fn patch_rejects_bad_fields_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let contact = app
        .create_contact(&user, json!({"full_name": "Ada", "company": "Engines"}))
        .await;
    let path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
    let cases = [
        (json!({"full_name": null}), "full_name", "not_nullable"),
        (
            json!({"introduced_by_id": contact["id"]}),
            "introduced_by_id",
            "self_reference",
        ),
        (
            json!({"created_at": "2026-01-01T00:00:00Z"}),
            "created_at",
            "read_only",
        ),
        (
            json!({"company": "ok", "cadence_days": -3}),
            "cadence_days",
            "out_of_range",
        ),
    ];
    for (body, field, code) in cases {
        let response = app
            .request(Method::PATCH, &path, Some(&user.access_token), Some(&body))
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }
    assert_eq!(app.list(&user, &path).await, contact);
}

#[tokio::test]
async fn references_to_another_users_contact_are_the_same_422_as_a_missing_one() {
    let app = spawn_app().await;
    let (ada, bob) = (app.create_user().await, app.create_user().await);
    let bobs = app
        .create_contact(&bob, json!({"full_name": "Bob's friend"}))
        .await;
    let attempt = |introducer: Value| {
        let app = &app;
        let token = ada.access_token.clone();
        async move {
            let body = json!({"full_name": "New", "introduced_by_id": introducer});
            problem_without_request_id(
                app.request(Method::POST, "/v1/contacts", Some(&token), Some(&body))
                    .await,
            )
            .await
        }
    };
    let theirs = attempt(bobs["id"].clone()).await;
    let missing = attempt(json!(uuid::Uuid::now_v7())).await;
    assert_eq!(theirs.0, 422);
    assert_eq!(theirs, missing);

    let introducer = app
        .create_contact(&ada, json!({"full_name": "Introducer"}))
        .await;
    let introduced = app
        .create_contact(
            &ada,
            json!({"full_name": "Introduced", "introduced_by_id": introducer["id"]}),
        )
        .await;
    assert_eq!(introduced["introduced_by_id"], introducer["id"]);
}

#[tokio::test]
async fn filters_search_archive_and_sort() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let ada = app
        .create_contact(
            &user,
            json!({"full_name": "Ada Lovelace", "company": "Analytical Engines",
                                      "tags": ["math", "mentor"], "notes": "Poetical science"}),
        )
        .await;
    app.create_contact(
        &user,
        json!({"full_name": "Charles Babbage", "company": "Analytical Engines",
                                      "tags": ["math"], "email": "charles@engines.example"}),
    )
    .await;
    let grace = app
        .create_contact(
            &user,
            json!({"full_name": "Grace Hopper", "company": "Navy", "tags": ["mentor"],
                                      "title": "Rear Admiral"}),
        )
        .await;
    let list = |query: &str| {
        let path = format!("/v1/contacts?{query}");
        let (app, user) = (&app, &user);
        async move { app.list(user, &path).await }
    };

    assert_eq!(names(&list("q=lov").await), ["Ada Lovelace"]);
    assert_eq!(names(&list("q=LOVE%20ada").await), ["Ada Lovelace"]);
    assert!(
        names(&list("q=ove").await).is_empty(),
        "prefixes of words only"
    );
    assert_eq!(
        names(&list("q=poet").await),
        ["Ada Lovelace"],
        "notes are searched"
    );
    assert_eq!(
        names(&list("q=engines").await).len(),
        2,
        "company and email"
    );
    assert_eq!(names(&list("q=admiral").await), ["Grace Hopper"], "title");
    assert_eq!(names(&list("tag=math").await).len(), 2);
    assert_eq!(
        names(&list("tag=math&tag=MENTOR").await),
        ["Ada Lovelace"],
        "every tag"
    );
    assert_eq!(names(&list("company=navy").await), ["Grace Hopper"]);

    let sorted = names(&list("sort=full_name").await);
    assert_eq!(sorted, ["Ada Lovelace", "Charles Babbage", "Grace Hopper"]);
    let reversed = names(&list("sort=-full_name").await);
    assert_eq!(
        reversed,
        ["Grace Hopper", "Charles Babbage", "Ada Lovelace"]
    );
    assert_eq!(names(&list("sort=-created_at").await)[0], "Grace Hopper");

    let grace_path = format!("/v1/contacts/{}", grace["id"].as_str().unwrap());
    let archived: Value = app
        .request(
            Method::PATCH,
            &grace_path,
            Some(&user.access_token),
            Some(&json!({"archived_at": "2026-11-01T12:00:00Z"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        names(&list("").await).len(),
        2,
        "archived contacts are hidden"
    );
    assert_eq!(names(&list("archived=true").await), ["Grace Hopper"]);
    assert_eq!(names(&list("archived=all").await).len(), 3);
    assert_eq!(
        names(&list("sort=-updated_at&archived=all").await)[0],
        "Grace Hopper"
    );
    let since = archived["updated_at"].as_str().unwrap().replace('+', "%2B");
    assert_eq!(
        names(&list(&format!("updated_since={since}&archived=all")).await),
        ["Grace Hopper"]
    );

    let tags: Value = app.list(&user, "/v1/tags").await;
    assert_eq!(
        tags["data"],
        json!([{"tag": "math", "contacts": 2}, {"tag": "mentor", "contacts": 2}])
    );
    assert_eq!(ada["tags"], json!(["math", "mentor"]));

    for bad in [
        "sort=name",
        "archived=maybe",
        "limit=0",
        "limit=101",
        "limit=ten",
        "colour=red",
        "updated_since=yesterday",
    ] {
        let response = app
            .get_as(&format!("/v1/contacts?{bad}"), &user.access_token)
            .await;
        assert_problem(response, 400, "invalid_query").await;
    }
    // Empty parameters mean absent.
    assert_eq!(
        names(&list("cursor=&tag=&q=&sort=full_name&archived=all").await),
        sorted
    );
    let cursor = app
        .get_as("/v1/contacts?cursor=bm9wZQ", &user.access_token)
        .await;
    assert_problem(cursor, 400, "invalid_cursor").await;
}

/// Walks every page of `path` (which has no `?`), creating a contact after each page.
async fn walk(
    app: &TestApp,
    user: &TestUser,
    sort: &str,
    inserted: &mut Vec<String>,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/contacts?limit=50&sort={sort}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.list(user, &path).await;
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        let created = app
            .create_contact(
                user,
                json!({"full_name": format!("Zz new {}", inserted.len())}),
            )
            .await;
        inserted.push(created["id"].as_str().unwrap().to_owned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert_eq!(page["has_more"], false);
                break;
            }
        }
    }
    seen
}

#[tokio::test]
async fn pagination_finds_every_existing_row_once_while_rows_are_inserted() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let mut existing = BTreeSet::new();
    for i in 0..250 {
        let contact = app
            .create_contact(&user, json!({"full_name": format!("Person {i:03}")}))
            .await;
        existing.insert(contact["id"].as_str().unwrap().to_owned());
    }
    for sort in ["created_at", "-created_at", "full_name", "-updated_at"] {
        let mut inserted = Vec::new();
        let seen = walk(&app, &user, sort, &mut inserted).await;
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no duplicates");
        for id in &existing {
            assert!(unique.contains(id), "{sort}: {id} missing");
        }
        existing.extend(inserted);
    }
}

#[tokio::test]
async fn etags_give_304_and_if_match_guards_writes() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let contact = app.create_contact(&user, json!({"full_name": "Ada"})).await;
    let path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
    let etag = app.get_as(&path, &user.access_token).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();

    let cached = app
        .client
        .get(app.url(&path))
        .bearer_auth(&user.access_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status().as_u16(), 304);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    let weakly_cached = app
        .client
        .get(app.url(&path))
        .bearer_auth(&user.access_token)
        .header("if-none-match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        weakly_cached.status().as_u16(),
        304,
        "If-None-Match compares weakly"
    );
    let stale_cache = app
        .client
        .get(app.url(&path))
        .bearer_auth(&user.access_token)
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale_cache.status().as_u16(), 200);

    let patch = |if_match: &str, body: Value| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(&user.access_token)
            .header("if-match", if_match.to_owned())
            .json(&body)
            .send()
    };
    // If-Match compares strongly: the current tag, marked weak, does not match.
    let weak = patch(&format!("W/{etag}"), json!({"title": "Weak"}))
        .await
        .unwrap();
    assert_problem(weak, 412, "precondition_failed").await;
    let first = patch(&etag, json!({"title": "First"})).await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let stale = patch(&etag, json!({"title": "Second"})).await.unwrap();
    assert_problem(stale, 412, "precondition_failed").await;
    let current = app.list(&user, &path).await;
    assert_eq!(current["title"], "First", "nothing changed");
    assert_eq!(
        patch("*", json!({"title": "Any"}))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    let delete = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&user.access_token)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_problem(delete, 412, "precondition_failed").await;
    assert_eq!(
        app.get_as(&path, &user.access_token)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn concurrent_patches_with_one_if_match_let_exactly_one_win() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let contact = app
        .create_contact(&user, json!({"full_name": "Contended"}))
        .await;
    let path = format!("/v1/contacts/{}", contact["id"].as_str().unwrap());
    let etag = app.get_as(&path, &user.access_token).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let attempts = (0..20).map(|i| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(&user.access_token)
            .header("if-match", etag.clone())
            .json(&json!({"title": format!("writer {i}")}))
            .send()
    });
    let responses: Vec<reqwest::Response> = join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut winners = Vec::new();
    for response in responses {
        match response.status().as_u16() {
            200 => winners.push(response.json::<Value>().await.unwrap()),
            412 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one write wins");
    assert_eq!(
        app.list(&user, &path).await,
        winners[0],
        "the final state is the winner's"
    );
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_reuse_and_dedupe_concurrent_requests() {
    let app = spawn_app().await;
    let (user, other) = (app.create_user().await, app.create_user().await);
    let post = |token: &str, key: &str, body: Value| {
        app.client
            .post(app.url("/v1/contacts"))
            .bearer_auth(token)
            .header("idempotency-key", key.to_owned())
            .json(&body)
            .send()
    };
    let first = post(&user.access_token, "key-1", json!({"full_name": "Once"}))
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (location, etag) = (
        first.headers()["location"].clone(),
        first.headers()["etag"].clone(),
    );
    let body: Value = first.json().await.unwrap();

    let replay = post(&user.access_token, "key-1", json!({"full_name": "Once"}))
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.headers()["location"], location);
    assert_eq!(replay.headers()["etag"], etag);
    assert_eq!(replay.json::<Value>().await.unwrap(), body);

    let reused = post(
        &user.access_token,
        "key-1",
        json!({"full_name": "Different"}),
    )
    .await
    .unwrap();
    assert_problem(reused, 422, "idempotency_key_reused").await;
    let too_long = post(
        &user.access_token,
        &"k".repeat(256),
        json!({"full_name": "X"}),
    )
    .await
    .unwrap();
    assert_problem(too_long, 400, "invalid_idempotency_key").await;
    // Without credentials the answer is 401, whatever the key.
    let anonymous = app
        .client
        .post(app.url("/v1/contacts"))
        .header("idempotency-key", "tab\tis not printable")
        .json(&json!({"full_name": "X"}))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;
    // A token that may not write is refused without using up the key.
    let read = app.personal_token(&user, &["read"]).await;
    let refused = post(&read, "key-3", json!({"full_name": "Scoped"}))
        .await
        .unwrap();
    assert_problem(refused, 403, "insufficient_scope").await;
    let allowed = post(&user.access_token, "key-3", json!({"full_name": "Scoped"}))
        .await
        .unwrap();
    assert_eq!(allowed.status().as_u16(), 201);
    assert!(allowed.headers().get("idempotent-replayed").is_none());
    // Keys are per user.
    let theirs = post(&other.access_token, "key-1", json!({"full_name": "Once"}))
        .await
        .unwrap();
    assert_eq!(theirs.status().as_u16(), 201);
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    assert_eq!(app.table_counts().await["contact"], 3);

    // Twenty parallel retries: one runs, the others wait for it and replay its response.
    let racing = (0..20).map(|_| post(&user.access_token, "key-2", json!({"full_name": "Raced"})));
    let mut answers = Vec::new();
    for response in join_all(racing).await {
        let response = response.unwrap();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let status = response.status().as_u16();
        answers.push((status, replayed, response.text().await.unwrap()));
    }
    assert!(
        answers.iter().all(|(status, ..)| *status == 201),
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|(_, replayed, _)| !replayed).count(),
        1
    );
    assert!(
        answers.iter().all(|(.., body)| *body == answers[0].2),
        "identical bodies"
    );
    let raced = app.list(&user, "/v1/contacts?q=raced").await;
    assert_eq!(
        raced["data"].as_array().unwrap().len(),
        1,
        "one row for one key"
    );
}

#[tokio::test]
async fn a_key_still_running_after_the_wait_is_409() {
    use entity::idempotency_key;
    use sea_orm::{ActiveModelTrait, Set};

    let app = spawn_app_with(|s| s.idempotency_wait_ms = 0).await;
    let user = app.create_user().await;
    let body = json!({"full_name": "Slow"});
    let first = app
        .client
        .post(app.url("/v1/contacts"))
        .bearer_auth(&user.access_token)
        .header("idempotency-key", "slow")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 201);
    // The key of a request that claimed it and has not answered yet: same request, no response.
    let same_request = rapport::api::idempotency::request_hash(
        "POST",
        "/v1/contacts",
        &serde_json::to_vec(&body).unwrap(),
    );
    idempotency_key::ActiveModel {
        owner_id: Set(user.id.parse().unwrap()),
        key: Set("running".into()),
        request_hash: Set(same_request),
        response_status: Set(None),
        response_headers: Set(None),
        response_body: Set(None),
        created_at: Set(chrono::Utc::now()),
        claim: Set(Some(uuid::Uuid::now_v7())),
    }
    .insert(app.db.writer())
    .await
    .unwrap();
    let duplicate = app
        .client
        .post(app.url("/v1/contacts"))
        .bearer_auth(&user.access_token)
        .header("idempotency-key", "running")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(duplicate, 409, "idempotency_key_in_use").await;
}

#[tokio::test]
async fn expired_idempotency_keys_are_purged() {
    use chrono::{Duration, Utc};
    use entity::idempotency_key;
    use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let owner: uuid::Uuid = user.id.parse().unwrap();
    for (key, age) in [
        ("old", Duration::hours(25)),
        ("recent", Duration::hours(23)),
    ] {
        idempotency_key::ActiveModel {
            owner_id: Set(owner),
            key: Set(key.into()),
            request_hash: Set("h".into()),
            response_status: Set(Some(201)),
            response_headers: Set(None),
            response_body: Set(Some(b"{}".to_vec())),
            created_at: Set(Utc::now() - age),
            claim: Set(None),
        }
        .insert(app.db.writer())
        .await
        .unwrap();
    }
    let purged = rapport::services::idempotency::purge_expired(&app.db, Utc::now())
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let left = idempotency_key::Entity::find()
        .count(app.db.reader())
        .await
        .unwrap();
    assert_eq!(left, 1);
}

#[tokio::test]
async fn deleting_a_contact_empties_conversations_and_clears_introductions() {
    use chrono::Utc;
    use entity::{conversation, conversation_participant};
    use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let owner: uuid::Uuid = user.id.parse().unwrap();
    let gone = app
        .create_contact(&user, json!({"full_name": "Leaving"}))
        .await;
    let stays = app
        .create_contact(
            &user,
            json!({"full_name": "Staying", "introduced_by_id": gone["id"]}),
        )
        .await;
    let id = |c: &Value| -> uuid::Uuid { c["id"].as_str().unwrap().parse().unwrap() };
    // One conversation with only the leaving contact, one with both.
    for participants in [vec![id(&gone)], vec![id(&gone), id(&stays)]] {
        let now = Utc::now();
        let conversation_id = uuid::Uuid::now_v7();
        conversation::ActiveModel {
            id: Set(conversation_id),
            owner_id: Set(owner),
            occurred_at: Set(now),
            channel: Set("coffee".into()),
            initiated_by: Set(None),
            duration_minutes: Set(None),
            summary: Set("Coffee".into()),
            notes: Set(None),
            learned: Set(None),
            thank_you_status: Set("owed".into()),
            thank_you_sent_at: Set(None),
            next_step: Set(None),
            next_step_due_on: Set(None),
            next_step_done_at: Set(None),
            search_text: Set(" coffee".into()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(app.db.writer())
        .await
        .unwrap();
        for contact_id in participants {
            conversation_participant::ActiveModel {
                conversation_id: Set(conversation_id),
                contact_id: Set(contact_id),
                owner_id: Set(owner),
                occurred_at: Set(Some(now)),
                thank_you_status: Set(Some("owed".into())),
                thank_you_due_on: Set(Some(now.date_naive() + chrono::Days::new(1))),
            }
            .insert(app.db.writer())
            .await
            .unwrap();
        }
    }

    let path = format!("/v1/contacts/{}", id(&gone));
    let deleted = app
        .request(Method::DELETE, &path, Some(&user.access_token), None)
        .await;
    assert_eq!(deleted.status().as_u16(), 204);

    assert_eq!(
        conversation::Entity::find()
            .count(app.db.reader())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        conversation_participant::Entity::find()
            .count(app.db.reader())
            .await
            .unwrap(),
        1
    );
    let stays_now = app
        .list(&user, &format!("/v1/contacts/{}", id(&stays)))
        .await;
    assert!(stays_now["introduced_by_id"].is_null());
}

#[tokio::test]
async fn contacts_are_invisible_to_other_users() {
    let app = spawn_app().await;
    let (owner, intruder) = (app.create_user().await, app.create_user().await);
    let contact = app
        .create_contact(&owner, json!({"full_name": "Private", "tags": ["secret"]}))
        .await;
    app.create_contact(&intruder, json!({"full_name": "Theirs"}))
        .await;
    let probe = Probe {
        path: format!("/v1/contacts/{}", contact["id"].as_str().unwrap()),
        list: Some("/v1/contacts?archived=all"),
        patch: Some(json!({"title": "Hijacked"})),
        delete: true,
    };
    assert_isolated(&app, &owner, &intruder, probe).await;
    let tags = app.list(&intruder, "/v1/tags").await;
    assert_eq!(
        tags["data"],
        json!([]),
        "another user's tags are not counted"
    );
    let searched = app.list(&intruder, "/v1/contacts?q=private").await;
    assert_eq!(searched["data"], json!([]));
}
