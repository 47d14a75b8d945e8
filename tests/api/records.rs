//! Conversations, value offers, asks, the timeline, and what deleting does to them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, problem_without_request_id, spawn_app};
use crate::isolation::{Probe, assert_isolated};

impl TestApp {
    pub async fn create(&self, user: &TestUser, path: &str, body: Value) -> Value {
        let response = self
            .request(Method::POST, path, Some(&user.access_token), Some(&body))
            .await;
        assert_eq!(response.status().as_u16(), 201, "POST {path} {body}");
        response.json().await.unwrap()
    }

    pub async fn patch(&self, user: &TestUser, path: &str, body: Value) -> reqwest::Response {
        self.request(Method::PATCH, path, Some(&user.access_token), Some(&body))
            .await
    }
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| id(i).to_owned())
        .collect()
}

async fn contact(app: &TestApp, user: &TestUser, name: &str) -> Value {
    app.create(user, "/v1/contacts", json!({"full_name": name}))
        .await
}

async fn conversation(
    app: &TestApp,
    user: &TestUser,
    participants: &[&Value],
    extra: Value,
) -> Value {
    let mut body = json!({
        "occurred_at": "2026-11-20T08:30:00Z", "channel": "coffee", "summary": "Coffee",
        "participant_ids": participants.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(),
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.create(user, "/v1/conversations", body).await
}

#[tokio::test]
async fn a_conversation_round_trips_and_stamps_the_thank_you() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let (ada, bob) = (
        contact(&app, &user, "Ada").await,
        contact(&app, &user, "Bob").await,
    );
    let created = conversation(
        &app,
        &user,
        &[&ada, &bob, &ada],
        json!({"initiated_by": "me", "duration_minutes": 45, "learned": "Hiring SREs",
               "next_step": "Send the article", "next_step_due_on": "2026-11-27"}),
    )
    .await;
    let mut expected = vec![id(&ada).to_owned(), id(&bob).to_owned()];
    expected.sort();
    assert_eq!(
        created["participant_ids"],
        json!(expected),
        "sorted, de-duplicated"
    );
    assert_eq!(created["thank_you_status"], "owed");
    assert!(created["thank_you_sent_at"].is_null());
    let path = format!("/v1/conversations/{}", id(&created));
    assert_eq!(app.list(&user, &path).await, created);

    // Each PATCH must answer 200 with the record as then stored: a problem body, read as
    // JSON, would have null fields too.
    let patched = |body: Value| {
        let (app, user, path) = (&app, &user, &path);
        async move {
            let response = app.patch(user, path, body).await;
            assert_eq!(response.status().as_u16(), 200, "PATCH {path}");
            let answered: Value = response.json().await.unwrap();
            assert_eq!(
                app.list(user, path).await,
                answered,
                "the answer is what is stored"
            );
            answered
        }
    };
    let sent = patched(json!({"thank_you_status": "sent"})).await;
    assert!(
        sent["thank_you_sent_at"].is_string(),
        "stamped when it becomes sent"
    );
    let given = patched(json!({"thank_you_sent_at": "2026-11-21T10:00:00Z"})).await;
    assert_eq!(given["thank_you_sent_at"], "2026-11-21T10:00:00Z");
    let owed = patched(json!({"thank_you_status": "owed"})).await;
    assert_eq!(owed["thank_you_status"], "owed");
    assert!(owed["thank_you_sent_at"].is_null());
    let narrowed = patched(json!({"participant_ids": [ada["id"]]})).await;
    assert_eq!(narrowed["participant_ids"], json!([ada["id"]]));

    let deleted = app
        .request(Method::DELETE, &path, Some(&user.access_token), None)
        .await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_problem(
        app.get_as(&path, &user.access_token).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn conversation_validation_names_each_field() {
    let app = spawn_app().await;
    let (user, other) = (app.create_user().await, app.create_user().await);
    let ada = contact(&app, &user, "Ada").await;
    let theirs = contact(&app, &other, "Theirs").await;
    let base = json!({"occurred_at": "2026-11-20T08:30:00Z", "channel": "call", "summary": "Call",
                      "participant_ids": [ada["id"]]});
    let with = |changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let many: Vec<String> = (0..10_000)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let cases = [
        (
            with(json!({"participant_ids": []})),
            "participant_ids",
            "required",
        ),
        (
            with(json!({"participant_ids": many[..51]})),
            "participant_ids",
            "too_many",
        ),
        (
            with(json!({"participant_ids": many})),
            "participant_ids",
            "too_many",
        ),
        (
            with(json!({"participant_ids": [uuid::Uuid::now_v7()]})),
            "participant_ids[0]",
            "unknown_contact",
        ),
        (
            with(json!({"duration_minutes": 1441})),
            "duration_minutes",
            "out_of_range",
        ),
        (
            with(json!({"duration_minutes": -1})),
            "duration_minutes",
            "out_of_range",
        ),
        (with(json!({"summary": " "})), "summary", "required"),
        (
            with(json!({"channel": "pigeon"})),
            "channel",
            "invalid_type",
        ),
        (
            with(json!({"occurred_at": null})),
            "occurred_at",
            "required",
        ),
        (
            with(json!({"thank_you_sent_at": "2026-11-21T10:00:00Z"})),
            "thank_you_sent_at",
            "requires_sent",
        ),
    ];
    for (body, field, code) in cases {
        let response = app
            .request(
                Method::POST,
                "/v1/conversations",
                Some(&user.access_token),
                Some(&body),
            )
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{field}");
        assert_eq!(problem["errors"][0]["code"], code, "{field}");
    }
    // Another user's contact is refused exactly like a missing one.
    let attempt = |participant: &Value| {
        let body = with(json!({"participant_ids": [participant]}));
        let app = &app;
        let token = user.access_token.clone();
        async move {
            problem_without_request_id(
                app.request(Method::POST, "/v1/conversations", Some(&token), Some(&body))
                    .await,
            )
            .await
        }
    };
    assert_eq!(
        attempt(&theirs["id"]).await,
        attempt(&json!(uuid::Uuid::now_v7())).await
    );
    assert_eq!(app.table_counts().await["conversation"], 0);
}

#[tokio::test]
async fn conversation_lists_filter_sort_and_paginate() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let (ada, bob) = (
        contact(&app, &user, "Ada").await,
        contact(&app, &user, "Bob").await,
    );
    let early = conversation(
        &app,
        &user,
        &[&ada],
        json!({"occurred_at": "2026-10-01T09:00:00Z",
        "channel": "email", "summary": "Intro email", "learned": "Moving to Lisbon"}),
    )
    .await;
    let middle = conversation(
        &app,
        &user,
        &[&ada, &bob],
        json!({"occurred_at": "2026-11-01T09:00:00Z",
        "thank_you_status": "sent"}),
    )
    .await;
    let late = conversation(
        &app,
        &user,
        &[&bob],
        json!({"occurred_at": "2026-11-20T09:00:00Z",
        "channel": "meal", "summary": "Dinner"}),
    )
    .await;
    let list = |query: String| {
        let (app, user) = (&app, &user);
        async move { ids(&app.list(user, &format!("/v1/conversations?{query}")).await) }
    };
    assert_eq!(
        list(String::new()).await,
        [id(&late), id(&middle), id(&early)],
        "newest first"
    );
    assert_eq!(
        list("sort=occurred_at".into()).await,
        [id(&early), id(&middle), id(&late)]
    );
    assert_eq!(
        list(format!("contact_id={}", id(&ada))).await,
        [id(&middle), id(&early)]
    );
    assert_eq!(list("channel=meal".into()).await, [id(&late)]);
    assert_eq!(list("thank_you_status=sent".into()).await, [id(&middle)]);
    assert_eq!(
        list("from=2026-10-15T00:00:00Z&to=2026-11-15T00:00:00Z".into()).await,
        [id(&middle)]
    );
    assert_eq!(
        list("q=lisb".into()).await,
        [id(&early)],
        "learned is searched"
    );
    assert_eq!(list("q=dinner".into()).await, [id(&late)]);

    let first = app.list(&user, "/v1/conversations?limit=2").await;
    assert_eq!(first["has_more"], true);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .list(&user, &format!("/v1/conversations?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(ids(&second), [id(&early)]);
    assert!(second["next_cursor"].is_null());
    let wrong_sort = app
        .get_as(
            &format!("/v1/conversations?sort=occurred_at&cursor={cursor}"),
            &user.access_token,
        )
        .await;
    assert_problem(wrong_sort, 400, "invalid_cursor").await;
    assert_problem(
        app.get_as("/v1/conversations?channel=pigeon", &user.access_token)
            .await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn offers_move_forward_and_stamp_their_timestamps() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let (ada, bob) = (
        contact(&app, &user, "Ada").await,
        contact(&app, &user, "Bob").await,
    );
    let offer = app
        .create(&user, "/v1/value-offers", json!({"contact_id": ada["id"], "kind": "introduction",
            "title": "Meet Bob", "introduced_contact_id": bob["id"], "topics": ["Hiring", "hiring", "SRE"],
            "url": "https://example.com/bob"}))
        .await;
    assert_eq!(offer["status"], "idea");
    assert_eq!(offer["topics"], json!(["hiring", "sre"]));
    assert!(offer["offered_at"].is_null() && offer["responded_at"].is_null());
    let path = format!("/v1/value-offers/{}", id(&offer));

    let offered: Value = app
        .patch(&user, &path, json!({"status": "offered"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(offered["offered_at"].is_string() && offered["responded_at"].is_null());
    let answered: Value = app
        .patch(&user, &path, json!({"status": "acknowledged"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answered["offered_at"], offered["offered_at"], "kept");
    assert!(answered["responded_at"].is_string());
    for back in ["idea", "offered", "declined"] {
        let response = app.patch(&user, &path, json!({"status": back})).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["code"], "invalid_transition", "{back}");
    }
    assert_eq!(app.list(&user, &path).await, answered, "nothing changed");

    let cases = [
        (
            json!({"contact_id": ada["id"], "kind": "introduction", "title": "Self",
                "introduced_contact_id": ada["id"]}),
            "introduced_contact_id",
            "same_as_recipient",
        ),
        (
            json!({"contact_id": ada["id"], "kind": "article", "title": "T", "url": "ftp://x.example"}),
            "url",
            "invalid_url",
        ),
        (
            json!({"contact_id": ada["id"], "kind": "article", "title": "T",
                "conversation_id": uuid::Uuid::now_v7()}),
            "conversation_id",
            "unknown_conversation",
        ),
        (
            json!({"contact_id": uuid::Uuid::now_v7(), "kind": "article", "title": "T"}),
            "contact_id",
            "unknown_contact",
        ),
        (
            json!({"contact_id": ada["id"], "kind": "gift", "title": "T"}),
            "kind",
            "invalid_type",
        ),
        (
            json!({"contact_id": ada["id"], "kind": "article", "title": ""}),
            "title",
            "required",
        ),
    ];
    for (body, field, code) in cases {
        let response = app
            .request(
                Method::POST,
                "/v1/value-offers",
                Some(&user.access_token),
                Some(&body),
            )
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }

    let article = app
        .create(
            &user,
            "/v1/value-offers",
            json!({"contact_id": bob["id"], "kind": "article",
            "title": "Caching", "status": "offered", "topics": ["builds"]}),
        )
        .await;
    assert!(article["offered_at"].is_string(), "created already offered");
    let list = |query: &str| {
        let path = format!("/v1/value-offers?{query}");
        let (app, user) = (&app, &user);
        async move { ids(&app.list(user, &path).await) }
    };
    assert_eq!(list("").await, [id(&article), id(&offer)], "newest first");
    assert_eq!(list("sort=created_at").await, [id(&offer), id(&article)]);
    assert_eq!(
        list(&format!("contact_id={}", id(&bob))).await,
        [id(&article)]
    );
    assert_eq!(list("status=acknowledged").await, [id(&offer)]);
    assert_eq!(list("kind=article").await, [id(&article)]);
    assert_eq!(list("topic=SRE").await, [id(&offer)]);
    assert!(list("topic=sr").await.is_empty(), "whole topics only");
    // LIKE's wildcards in the user's text are plain characters, on both backends.
    for wildcard in ["%25", "_", "s_e", "%25%25", "%5C"] {
        assert!(
            list(&format!("topic={wildcard}")).await.is_empty(),
            "topic={wildcard}"
        );
    }
}

#[tokio::test]
async fn asks_move_forward_and_stamp_their_timestamps() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let ada = contact(&app, &user, "Ada").await;
    let ask = app
        .create(
            &user,
            "/v1/asks",
            json!({"contact_id": ada["id"], "kind": "informational_interview",
            "title": "20 minutes on hiring"}),
        )
        .await;
    assert_eq!(ask["status"], "planned");
    let path = format!("/v1/asks/{}", id(&ask));
    let asked: Value = app
        .patch(&user, &path, json!({"status": "asked"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(asked["asked_at"].is_string() && asked["resolved_at"].is_null());
    let granted: Value = app
        .patch(&user, &path, json!({"status": "granted"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(granted["resolved_at"].is_string());
    let back = app.patch(&user, &path, json!({"status": "asked"})).await;
    let problem = assert_problem(back, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "invalid_transition");

    let other = app
        .create(
            &user,
            "/v1/asks",
            json!({"contact_id": ada["id"], "kind": "referral", "title": "Referral"}),
        )
        .await;
    let status = app.list(&user, "/v1/asks?status=granted").await;
    assert_eq!(ids(&status), [id(&ask)]);
    let kind = app.list(&user, "/v1/asks?kind=referral").await;
    assert_eq!(ids(&kind), [id(&other)]);
    let bad = app
        .request(
            Method::POST,
            "/v1/asks",
            Some(&user.access_token),
            Some(&json!({"contact_id": ada["id"], "kind": "favour", "title": "T"})),
        )
        .await;
    assert_problem(bad, 422, "validation_failed").await;
}

#[tokio::test]
async fn the_timeline_lists_a_contacts_records_newest_first_one_page_at_a_time() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let (ada, bob) = (
        contact(&app, &user, "Ada").await,
        contact(&app, &user, "Bob").await,
    );
    let old = conversation(
        &app,
        &user,
        &[&ada, &bob],
        json!({"occurred_at": "2026-01-10T09:00:00Z"}),
    )
    .await;
    conversation(&app, &user, &[&bob], json!({})).await;
    let offer = app
        .create(
            &user,
            "/v1/value-offers",
            json!({"contact_id": ada["id"], "kind": "news", "title": "News"}),
        )
        .await;
    let ask = app
        .create(
            &user,
            "/v1/asks",
            json!({"contact_id": ada["id"], "kind": "advice", "title": "Advice"}),
        )
        .await;
    let path = format!("/v1/contacts/{}/timeline", id(&ada));
    let page = app.list(&user, &path).await;
    let types: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ask", "value_offer", "conversation"]);
    assert_eq!(ids(&page), [id(&ask), id(&offer), id(&old)]);
    assert_eq!(page["data"][2]["summary"], "Coffee");

    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("{path}?limit=1&cursor={c}"),
            None => format!("{path}?limit=1"),
        };
        let page = app.list(&user, &query).await;
        walked.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, [id(&ask), id(&offer), id(&old)]);
    let missing = format!("/v1/contacts/{}/timeline", uuid::Uuid::now_v7());
    assert_problem(
        app.get_as(&missing, &user.access_token).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn deleting_contacts_and_conversations_cascades_as_documented() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let (ada, bob, cy) = (
        contact(&app, &user, "Ada").await,
        contact(&app, &user, "Bob").await,
        contact(&app, &user, "Cy").await,
    );
    let solo = conversation(&app, &user, &[&ada], json!({})).await;
    let shared = conversation(&app, &user, &[&ada, &bob], json!({})).await;
    app.create(
        &user,
        "/v1/value-offers",
        json!({"contact_id": ada["id"], "kind": "news", "title": "To Ada"}),
    )
    .await;
    app.create(
        &user,
        "/v1/asks",
        json!({"contact_id": ada["id"], "kind": "advice", "title": "Of Ada"}),
    )
    .await;
    let intro = app
        .create(&user, "/v1/value-offers", json!({"contact_id": bob["id"], "kind": "introduction",
            "title": "Meet Ada", "introduced_contact_id": ada["id"], "conversation_id": shared["id"]}))
        .await;
    let ask_in_conversation = app
        .create(
            &user,
            "/v1/asks",
            json!({"contact_id": cy["id"], "kind": "advice", "title": "Of Cy",
            "conversation_id": solo["id"]}),
        )
        .await;
    let before = app.table_counts().await;

    let delete = |path: String| {
        let (app, user) = (&app, &user);
        async move {
            app.request(Method::DELETE, &path, Some(&user.access_token), None)
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(delete(format!("/v1/contacts/{}", id(&ada))).await, 204);
    let after = app.table_counts().await;
    assert_eq!(after["contact"], before["contact"] - 1);
    assert_eq!(
        after["conversation"],
        before["conversation"] - 1,
        "the solo conversation goes"
    );
    assert_eq!(
        after["conversation_participant"],
        before["conversation_participant"] - 2
    );
    assert_eq!(
        after["value_offer"],
        before["value_offer"] - 1,
        "offers to Ada go"
    );
    assert_eq!(after["ask"], before["ask"] - 1, "asks of Ada go");
    let intro_now = app
        .list(&user, &format!("/v1/value-offers/{}", id(&intro)))
        .await;
    assert!(intro_now["introduced_contact_id"].is_null());
    let ask_now = app
        .list(&user, &format!("/v1/asks/{}", id(&ask_in_conversation)))
        .await;
    assert!(
        ask_now["conversation_id"].is_null(),
        "its conversation (solo) was deleted"
    );
    let shared_now = app
        .list(&user, &format!("/v1/conversations/{}", id(&shared)))
        .await;
    assert_eq!(shared_now["participant_ids"], json!([bob["id"]]));

    assert_eq!(
        delete(format!("/v1/conversations/{}", id(&shared))).await,
        204
    );
    let intro_now = app
        .list(&user, &format!("/v1/value-offers/{}", id(&intro)))
        .await;
    assert!(intro_now["conversation_id"].is_null());
}

#[tokio::test]
async fn conversations_offers_asks_and_timelines_are_invisible_to_other_users() {
    let app = spawn_app().await;
    let (owner, intruder) = (app.create_user().await, app.create_user().await);
    let ada = contact(&app, &owner, "Ada").await;
    contact(&app, &intruder, "Someone").await;
    let talk = conversation(&app, &owner, &[&ada], json!({})).await;
    let offer = app
        .create(
            &owner,
            "/v1/value-offers",
            json!({"contact_id": ada["id"], "kind": "news", "title": "N"}),
        )
        .await;
    let ask = app
        .create(
            &owner,
            "/v1/asks",
            json!({"contact_id": ada["id"], "kind": "advice", "title": "A"}),
        )
        .await;
    for (path, list, patch) in [
        (
            format!("/v1/conversations/{}", id(&talk)),
            "/v1/conversations",
            json!({"summary": "Hijacked"}),
        ),
        (
            format!("/v1/value-offers/{}", id(&offer)),
            "/v1/value-offers",
            json!({"title": "Hijacked"}),
        ),
        (
            format!("/v1/asks/{}", id(&ask)),
            "/v1/asks",
            json!({"title": "Hijacked"}),
        ),
    ] {
        let probe = Probe {
            path,
            list: Some(list),
            patch: Some(patch),
            delete: true,
        };
        assert_isolated(&app, &owner, &intruder, probe).await;
    }
    let timeline = format!("/v1/contacts/{}/timeline", id(&ada));
    let theirs =
        problem_without_request_id(app.get_as(&timeline, &intruder.access_token).await).await;
    let missing = format!("/v1/contacts/{}/timeline", uuid::Uuid::now_v7());
    assert_eq!(theirs.0, 404);
    assert_eq!(
        theirs,
        problem_without_request_id(app.get_as(&missing, &intruder.access_token).await).await
    );
    let filtered = app
        .list(
            &intruder,
            &format!("/v1/conversations?contact_id={}", id(&ada)),
        )
        .await;
    assert_eq!(filtered["data"], json!([]));
}

#[tokio::test]
async fn if_match_guards_patch_and_delete_of_conversations_offers_and_asks() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let ada = contact(&app, &user, "Ada").await;
    let talk = conversation(&app, &user, &[&ada], json!({})).await;
    let offer = app
        .create(
            &user,
            "/v1/value-offers",
            json!({"contact_id": ada["id"], "kind": "news", "title": "N"}),
        )
        .await;
    let ask = app
        .create(
            &user,
            "/v1/asks",
            json!({"contact_id": ada["id"], "kind": "advice", "title": "A"}),
        )
        .await;
    for (path, patch) in [
        (
            format!("/v1/conversations/{}", id(&talk)),
            json!({"summary": "Changed"}),
        ),
        (
            format!("/v1/value-offers/{}", id(&offer)),
            json!({"title": "Changed"}),
        ),
        (
            format!("/v1/asks/{}", id(&ask)),
            json!({"title": "Changed"}),
        ),
    ] {
        let fetched = app.get_as(&path, &user.access_token).await;
        let etag = fetched.headers()["etag"].to_str().unwrap().to_owned();
        let before: Value = fetched.json().await.unwrap();
        let conditional = |method: Method, if_match: &str, body: Option<&Value>| {
            let mut request = app
                .client
                .request(method, app.url(&path))
                .bearer_auth(&user.access_token)
                .header("if-match", if_match.to_owned());
            if let Some(body) = body {
                request = request.json(body);
            }
            request.send()
        };
        let stale = conditional(Method::PATCH, "\"stale\"", Some(&patch))
            .await
            .unwrap();
        assert_problem(stale, 412, "precondition_failed").await;
        let stale = conditional(Method::DELETE, "\"stale\"", None)
            .await
            .unwrap();
        assert_problem(stale, 412, "precondition_failed").await;
        assert_eq!(
            app.list(&user, &path).await,
            before,
            "{path}: nothing changed"
        );

        let patched = conditional(Method::PATCH, &etag, Some(&patch))
            .await
            .unwrap();
        assert_eq!(patched.status().as_u16(), 200, "{path}");
        let new_etag = patched.headers()["etag"].to_str().unwrap().to_owned();
        let old = conditional(Method::DELETE, &etag, None).await.unwrap();
        assert_problem(old, 412, "precondition_failed").await;
        let deleted = conditional(Method::DELETE, &new_etag, None).await.unwrap();
        assert_eq!(deleted.status().as_u16(), 204, "{path}");
        let again = conditional(Method::DELETE, &new_etag, None).await.unwrap();
        assert_problem(again, 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_conversation_with_someone_elses_contact_is_refused_and_leaves_nothing_behind() {
    let app = spawn_app().await;
    let (owner, other) = (app.create_user().await, app.create_user().await);
    let ada = contact(&app, &owner, "Ada").await;
    let theirs = contact(&app, &other, "Not yours").await;
    // Ada twice, then someone else's contact: the error names the place in the request.
    let participants = [id(&ada), id(&ada), id(&theirs)];
    let body = json!({
        "occurred_at": "2026-11-20T08:30:00Z", "channel": "coffee", "summary": "Coffee",
        "participant_ids": participants,
    });
    let response = app
        .request(
            Method::POST,
            "/v1/conversations",
            Some(&owner.access_token),
            Some(&body),
        )
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "participant_ids[2]");
    assert_eq!(problem["errors"][0]["code"], "unknown_contact");
    for user in [&owner, &other] {
        let page = app.list(user, "/v1/conversations").await;
        assert_eq!(page["data"], json!([]), "no conversation was stored");
    }
    let timeline = app
        .list(&owner, &format!("/v1/contacts/{}/timeline", id(&ada)))
        .await;
    assert_eq!(timeline["data"], json!([]), "no participant row was stored");
}

/// A PATCH checks the references it changes, whichever record it is, and answers what was
/// stored: someone else's contact or conversation, or an introduction of the recipient, is
/// refused and changes nothing; a PATCH that keeps its references (checked when written) and
/// one that moves them to the owner's own are taken.
#[tokio::test]
async fn a_patch_checks_the_references_it_changes() {
    let app = spawn_app().await;
    let (owner, other) = (app.create_user().await, app.create_user().await);
    let (ada, grace) = (
        contact(&app, &owner, "Ada").await,
        contact(&app, &owner, "Grace").await,
    );
    let theirs = contact(&app, &other, "Not yours").await;
    let talk = conversation(&app, &owner, &[&ada], json!({})).await;
    let their_talk = conversation(&app, &other, &[&theirs], json!({})).await;
    let offer = app
        .create(
            &owner,
            "/v1/value-offers",
            json!({"contact_id": id(&ada), "kind": "introduction", "title": "Meet Grace",
                "introduced_contact_id": id(&grace), "conversation_id": id(&talk)}),
        )
        .await;
    let ask = app
        .create(
            &owner,
            "/v1/asks",
            json!({"contact_id": id(&ada), "kind": "advice", "title": "Advice",
                "conversation_id": id(&talk)}),
        )
        .await;
    let offer_path = format!("/v1/value-offers/{}", id(&offer));
    let ask_path = format!("/v1/asks/{}", id(&ask));
    let refused = [
        (
            &offer_path,
            json!({"contact_id": id(&theirs)}),
            "contact_id",
            "unknown_contact",
        ),
        (
            &offer_path,
            json!({"introduced_contact_id": id(&theirs)}),
            "introduced_contact_id",
            "unknown_contact",
        ),
        (
            &offer_path,
            json!({"introduced_contact_id": id(&ada)}),
            "introduced_contact_id",
            "same_as_recipient",
        ),
        (
            &offer_path,
            json!({"contact_id": id(&grace)}),
            "introduced_contact_id",
            "same_as_recipient",
        ),
        (
            &offer_path,
            json!({"conversation_id": id(&their_talk)}),
            "conversation_id",
            "unknown_conversation",
        ),
        (
            &ask_path,
            json!({"contact_id": id(&theirs)}),
            "contact_id",
            "unknown_contact",
        ),
        (
            &ask_path,
            json!({"conversation_id": id(&their_talk)}),
            "conversation_id",
            "unknown_conversation",
        ),
    ];
    for (path, body, field, code) in refused {
        let before = app.list(&owner, path).await;
        let response = app.patch(&owner, path, body.clone()).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{path} {body}");
        assert_eq!(problem["errors"][0]["code"], code, "{path} {body}");
        assert_eq!(
            app.list(&owner, path).await,
            before,
            "{path} {body}: unchanged"
        );
    }
    for path in [&offer_path, &ask_path] {
        let response = app.patch(&owner, path, json!({"title": "Kept"})).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let kept: Value = response.json().await.unwrap();
        assert_eq!(kept["title"], "Kept");
        assert_eq!(kept["contact_id"], ada["id"]);
        assert_eq!(kept["conversation_id"], talk["id"]);
        assert_eq!(
            app.list(&owner, path).await,
            kept,
            "{path}: answered as stored"
        );
        let mut moved = json!({"contact_id": id(&grace), "conversation_id": null});
        if path == &offer_path {
            moved["introduced_contact_id"] = Value::Null;
        }
        let response = app.patch(&owner, path, moved).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let moved: Value = response.json().await.unwrap();
        assert_eq!(moved["contact_id"], grace["id"]);
        assert_eq!(moved["conversation_id"], Value::Null);
        assert_eq!(
            app.list(&owner, path).await,
            moved,
            "{path}: answered as stored"
        );
    }
}
