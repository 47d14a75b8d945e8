use migration::MigratorTrait;

use crate::helpers::{assert_problem, on_postgres, spawn_app};

#[tokio::test]
async fn healthz_returns_200_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_reports_backend_and_newest_migration() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(
        body["database"],
        if on_postgres() { "postgres" } else { "sqlite" }
    );
    let newest = migration::Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap();
    assert_eq!(body["migration"], newest.as_str());
}

#[tokio::test]
async fn readyz_returns_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
    let user = app.create_user().await;

    app.lose_database().await;

    let ready = app.get("/readyz").await;
    assert!(ready.headers().contains_key("retry-after"));
    assert_problem(ready, 503, "database_unavailable").await;
    // Every route that needs the database says so the same way, never 500.
    let contacts = app.get_as("/v1/contacts", &user.access_token).await;
    assert_eq!(contacts.headers()["retry-after"], "5");
    assert_problem(contacts, 503, "database_unavailable").await;
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}

/// On PostgreSQL, a database named in the URL that does not exist yet is created at start-up.
#[tokio::test]
async fn a_missing_postgres_database_is_created_at_start_up() {
    let Some(admin_url) = crate::helpers::postgres_admin_url() else {
        return; // SQLite creates its file by itself (`mode=rwc`), covered by every other test.
    };
    let name = format!("rapport_test_{}", uuid::Uuid::now_v7().simple());
    let settings =
        crate::helpers::test_settings(crate::helpers::replace_database(&admin_url, &name));
    let application = rapport::startup::Application::build(settings)
        .await
        .unwrap();
    let ready = application.db().migration_version().await;
    application.db().close().await.unwrap();
    crate::helpers::drop_postgres_database(&admin_url, &name).await;
    assert!(ready.unwrap().is_some(), "migrated");
}
