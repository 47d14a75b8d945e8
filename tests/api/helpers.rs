//! `spawn_app()`: the real application on port 0 with a database of its own — a temporary
//! SQLite file, or a fresh PostgreSQL database when `RAPPORT_TEST_DATABASE_URL` is set.

use std::io::Write;
use std::sync::{LazyLock, Once};

use chrono::{DateTime, Utc};
use rapport::clock::Clock;
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
    /// The URL of the test's database, to start another server on it.
    pub database_url: String,
    /// The application's clock, pinned at `PINNED_AT`; tests move it instead of sleeping.
    pub clock: Clock,
}

/// Where every test application's clock starts: Wednesday 4 March 2026, 12:00 UTC.
pub fn pinned_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-04T12:00:00Z")
        .expect("a valid instant")
        .to_utc()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with the settings adjusted first.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&INIT);
    announce_backend();
    let (database, url) = TestDatabase::create().await;
    let mut settings = test_settings(url.clone());
    customize(&mut settings);
    let clock = Clock::pinned(pinned_at());
    let application = Application::build_with_clock(settings, clock.clone())
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
        clock,
        database,
        database_url: url,
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

/// A registered, logged-in user.
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// Any request; `token` becomes `Authorization: Bearer …`, `body` is sent as JSON.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, path, None, Some(body))
            .await
    }

    pub async fn register(&self, email: &str, password: &str) -> reqwest::Response {
        let body = serde_json::json!({
            "email": email, "password": password, "display_name": "Test User"
        });
        self.post_json("/v1/auth/register", &body).await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        let body = serde_json::json!({"email": email, "password": password});
        self.post_json("/v1/auth/token", &body).await
    }

    /// Registers a user with a unique email and logs them in.
    pub async fn create_user(&self) -> TestUser {
        let email = format!("user-{}@example.com", uuid::Uuid::now_v7().simple());
        let registered = self.register(&email, PASSWORD).await;
        assert_eq!(registered.status().as_u16(), 201, "register");
        let user: serde_json::Value = registered.json().await.unwrap();
        let tokens: serde_json::Value = self.login(&email, PASSWORD).await.json().await.unwrap();
        TestUser {
            id: user["id"].as_str().unwrap().to_owned(),
            email,
            password: PASSWORD.to_owned(),
            access_token: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates a personal access token for `user` and returns its secret.
    pub async fn personal_token(&self, user: &TestUser, scopes: &[&str]) -> String {
        let body = serde_json::json!({"name": "script", "scopes": scopes});
        let response = self
            .request(
                reqwest::Method::POST,
                "/v1/tokens",
                Some(&user.access_token),
                Some(&body),
            )
            .await;
        assert_eq!(response.status().as_u16(), 201);
        let created: serde_json::Value = response.json().await.unwrap();
        created["token"].as_str().unwrap().to_owned()
    }

    /// Rows of every table, by table name (the migrations' bookkeeping and the readiness
    /// probe's row excluded: no user owns them).
    pub async fn table_counts(&self) -> std::collections::BTreeMap<String, i64> {
        use sea_orm::{ConnectionTrait, Statement};
        let conn = self.db.reader();
        let backend = conn.get_database_backend();
        let list = if on_postgres() {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        };
        let rows = conn
            .query_all_raw(Statement::from_string(backend, list))
            .await
            .unwrap();
        let mut counts = std::collections::BTreeMap::new();
        for row in rows {
            let name: String = row.try_get("", "name").unwrap();
            // Bookkeeping, not user data: applied migrations, the writer's health probe, and
            // the owners whose activity or due dates a migration left to count (none in a new
            // database).
            let bookkeeping = [
                "seaql_migrations",
                "writer_probe",
                "activity_pending",
                "due_date_pending",
            ];
            if bookkeeping.contains(&name.as_str()) {
                continue;
            }
            let count_sql = format!("SELECT COUNT(*) AS n FROM \"{name}\"");
            let row = conn
                .query_one_raw(Statement::from_string(backend, count_sql))
                .await
                .unwrap()
                .unwrap();
            counts.insert(name, row.try_get::<i64>("", "n").unwrap());
        }
        counts
    }
}

/// A problem body without its per-request id, for comparing two answers.
pub async fn problem_without_request_id(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let mut body: serde_json::Value = response.json().await.unwrap();
    body.as_object_mut().unwrap().remove("request_id");
    (status, body)
}
