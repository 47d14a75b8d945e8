//! `rapport seed-demo`: the demo network shows a newcomer something useful at once.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn the_demo_network_fills_follow_ups_suggestions_and_stats_and_reseeds_cleanly() {
    let app = spawn_app().await;
    let login = rapport::demo::seed(&app.db, app.clock.now()).await.unwrap();
    let counts = app.table_counts().await;
    // Seeding again replaces the account and everything it owned.
    let again = rapport::demo::seed(&app.db, app.clock.now()).await.unwrap();
    assert_ne!(again.user_id, login.user_id);
    assert_eq!(app.table_counts().await, counts);
    let differences = rapport::services::ledger::verify(&app.db, app.clock.now())
        .await
        .unwrap();
    assert!(differences.is_empty(), "{differences:?}");

    let tokens: Value = app
        .login(again.email, again.password)
        .await
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let app = &app;
    let get = |path: &'static str| async move {
        let response = app.get_as(path, token).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.json::<Value>().await.unwrap()
    };

    let contacts = get("/v1/contacts?limit=100").await;
    let people = contacts["data"].as_array().unwrap();
    assert_eq!(people.len(), 12);
    let relationship = |name: &str| {
        people
            .iter()
            .find(|c| c["full_name"] == name)
            .map(|c| c["relationship"].clone())
            .unwrap()
    };
    assert_eq!(relationship("Katherine Johnson")["reciprocity"], "taking");
    assert_eq!(relationship("Alan Turing")["health"], "cold");
    assert_eq!(relationship("Linus Chen")["one_off"], true);
    assert!(
        relationship("Radia Perlman")["thank_yous_owed"]
            .as_i64()
            .unwrap()
            > 0
    );

    let follow_ups = get("/v1/follow-ups?within_days=14&limit=100").await;
    let kinds: BTreeSet<&str> = follow_ups["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "thank_you",
            "check_in",
            "next_step",
            "deliver_offer",
            "ask_follow_up"
        ])
    );

    let suggestions = get("/v1/suggestions").await;
    let data = suggestions["data"].as_array().unwrap();
    assert!(data.len() >= 5, "{suggestions}");
    let reasons: BTreeSet<&str> = data.iter().map(|s| s["reason"].as_str().unwrap()).collect();
    for reason in ["thank_you_owed", "offer_something_first", "going_cold"] {
        assert!(reasons.contains(reason), "{reason} in {reasons:?}");
    }
    let katherine = data
        .iter()
        .find(|s| s["contact_name"] == "Katherine Johnson")
        .unwrap();
    assert_eq!(katherine["reason"], "offer_something_first");
    assert!(katherine["suggested_offer"]["title"].is_string());

    let stats = get("/v1/stats").await;
    assert!(stats["total"]["conversations"].as_i64().unwrap() >= 10);
    let goals = get("/v1/goals").await;
    assert_eq!(goals["conversations"]["goal"], 3);
}

#[tokio::test]
async fn the_bench_data_set_has_the_documented_shape_and_reseeds_cleanly() {
    use rapport::bench_seed::{self, Size};

    let app = spawn_app().await;
    let size = Size {
        users: 2,
        contacts_per_user: 30,
    };
    let indexes = index_definitions(&app).await;
    assert!(indexes.len() > 20, "{indexes:?}");
    let written = bench_seed::seed(&app.db, size, app.clock.now())
        .await
        .unwrap();
    // The load drops the secondary indexes and makes them again: all of them, as they were.
    assert_eq!(index_definitions(&app).await, indexes);
    let counts = app.table_counts().await;
    assert_eq!((written.users, written.contacts), (2, 60));
    assert_eq!(counts["contact"], 60);
    assert_eq!(counts["conversation"], 60 * 5);
    assert_eq!(counts["value_offer"], 60 * 2);
    assert_eq!(counts["ask"], 60);
    let participants = counts["conversation_participant"];
    assert!(
        (300..=900).contains(&participants),
        "1–3 per conversation: {participants}"
    );
    // The ledger it writes alongside the records is the one they give.
    let differences = rapport::services::ledger::verify(&app.db, app.clock.now())
        .await
        .unwrap();
    assert!(differences.is_empty(), "{differences:?}");
    // Seeding again replaces the bench users rather than adding to them.
    bench_seed::seed(&app.db, size, app.clock.now())
        .await
        .unwrap();
    assert_eq!(app.table_counts().await["contact"], 60);

    let login = app.login(&bench_seed::email(1), bench_seed::PASSWORD).await;
    assert_eq!(login.status().as_u16(), 200);
    let token: Value = login.json().await.unwrap();
    let page: Value = app
        .get_as(
            "/v1/contacts?limit=100",
            token["access_token"].as_str().unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 30);
    let conversations: i64 = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["relationship"]["conversation_count"].as_i64().unwrap())
        .sum();
    assert!(
        conversations >= 150,
        "each contact took part in its own 5 or more"
    );
}

/// Every index of the database, by name, with its definition.
async fn index_definitions(app: &TestApp) -> Vec<(String, Option<String>)> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let backend = app.db.backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT indexname, indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() ORDER BY indexname"
        }
        _ => "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name",
    };
    app.db
        .reader()
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("the indexes")
        .iter()
        .map(|row| {
            row.try_get_many_by_index()
                .expect("a name and a definition")
        })
        .collect()
}
