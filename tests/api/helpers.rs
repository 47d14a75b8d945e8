//! `spawn_app()`: the real application on port 0 with a database of its own — a temporary
//! SQLite file, or a fresh PostgreSQL database when `RAPPORT_TEST_DATABASE_URL` is set.

use std::io::Write;
use std::sync::{LazyLock, Once};

use rapport::config::{LogFormat, Secret, Settings};
use rapport::db::Db;
use rapport::startup::Application;
use sea_orm::{ConnectionTrait, Database};

pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The PostgreSQL server's maintenance URL, when the suite runs on PostgreSQL.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("RAPPORT_TEST_DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
}

pub fn on_postgres() -> bool {
    postgres_admin_url().is_some()
}

static INIT: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        rapport::telemetry::init(LogFormat::Pretty, "info,sqlx=warn", std::io::stdout);
    } else {
        rapport::telemetry::init(LogFormat::Pretty, "info,sqlx=warn", std::io::sink);
    }
});

static BANNER: Once = Once::new();

fn announce_backend() {
    BANNER.call_once(|| {
        let backend = match postgres_admin_url() {
            Some(url) => format!(
                "PostgreSQL ({})",
                rapport::config::redact_url_password(&url)
            ),
            None => "SQLite (a temporary file per test)".to_owned(),
        };
        // Written to the real stderr, past the harness's output capture, so it shows once.
        let _ = writeln!(
            std::io::stderr(),
            "rapport integration tests: backend = {backend}"
        );
    });
}

/// A database that lives as long as the test.
pub enum TestDatabase {
    /// The directory is deleted when the test ends.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    pub async fn create() -> (Self, String) {
        match postgres_admin_url() {
            Some(admin_url) => {
                let name = format!("rapport_test_{}", uuid::Uuid::now_v7().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                admin.close().await.expect("close the admin connection");
                let url = replace_database(&admin_url, &name);
                (Self::Postgres { admin_url, name }, url)
            }
            None => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("rapport.db").display()
                );
                (Self::Sqlite { _dir: dir }, url)
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Self::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(drop_postgres_database(&admin_url, &name));
            })
            .join();
            if dropped.is_err() {
                let _ = writeln!(std::io::stderr(), "could not drop a test database");
            }
        }
    }
}

pub async fn drop_postgres_database(admin_url: &str, name: &str) {
    if let Ok(admin) = Database::connect(admin_url).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
        let _ = admin.close().await;
    }
}

/// `postgres://u@h:5432/postgres` → `postgres://u@h:5432/<name>`.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("a database path in the URL");
    format!("{server}/{name}{query}")
}

/// Settings for a test application on `database_url`.
pub fn test_settings(database_url: String) -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        database_url,
        jwt_secret: Some(Secret::new(TEST_SECRET)),
        workers: 2,
        ..Settings::default()
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub database: TestDatabase,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with the settings adjusted first.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&INIT);
    announce_backend();
    let (database, url) = TestDatabase::create().await;
    let mut settings = test_settings(url);
    customize(&mut settings);
    let application = Application::build(settings)
        .await
        .expect("build the application");
    let address = format!("http://127.0.0.1:{}", application.port());
    let db = application.db().clone();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client"),
        db,
        database,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Makes the database unreachable: on PostgreSQL the database is dropped under the running
    /// server; on SQLite, where an open file cannot be taken away, the pools are closed.
    pub async fn lose_database(&self) {
        match &self.database {
            TestDatabase::Postgres { admin_url, name } => {
                drop_postgres_database(admin_url, name).await;
            }
            TestDatabase::Sqlite { .. } => self.db.close().await.expect("close the pools"),
        }
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id header")
        .to_owned();
    let body: serde_json::Value = response.json().await.expect("a JSON problem body");
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code);
    assert_eq!(
        body["type"],
        format!("/problems/{}", code.replace('_', "-"))
    );
    assert_eq!(body["request_id"], request_id.as_str());
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}
