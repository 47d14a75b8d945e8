//! `Application::build`: database, migrations, secret, listener and the HTTP server.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use base64::Engine;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::fallback::{RouteTable, fallback};
use crate::api::headers::HeadLimit;
use crate::api::json::BodyLimit;
use crate::api::state::AppState;
use crate::api::{self, idempotency, request_id};
use crate::auth::jwt::JwtKeys;
use crate::auth::password::Hasher;
use crate::auth::throttle::Throttles;
use crate::clock::Clock;
use crate::config::{DatabaseKind, Secret, Settings};
use crate::db::{self, Db};
use crate::openapi::ApiDoc;
use crate::telemetry::RapportRootSpan;

pub struct Application {
    port: u16,
    db: Db,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// Builds the application around `clock` (tests pin it).
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let jwt_secret = resolve_jwt_secret(&settings)?;
        let db = db::connect(&settings).await?;
        if settings.run_migrations {
            crate::services::ledger::migrate(&db, clock.now())
                .await
                .context("cannot apply database migrations")?;
        }
        if db.backend() == sea_orm::DbBackend::Sqlite {
            // One process owns a SQLite file: a claim still pending was left by one that died.
            match crate::services::idempotency::release_all_pending(&db).await {
                Ok(0) => {}
                Ok(released) => {
                    tracing::info!(released, "released idempotency keys of a stopped process")
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not release pending idempotency keys")
                }
            }
        }
        let address = settings.socket_addr()?;
        let listener = TcpListener::bind(address)
            .with_context(|| format!("cannot listen on {address} (setting `bind`)"))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            db: db.clone(),
            idempotency_wait: Duration::from_millis(settings.idempotency_wait_ms),
            clock,
            jwt: JwtKeys::new(&jwt_secret),
            throttles: Throttles::new(
                settings.login_failures_per_account,
                settings.login_failures_per_ip,
                settings.registrations_per_ip,
            ),
            passwords: Hasher::new(),
            public_url: match &settings.public_url {
                Some(url) => url.trim_end_matches('/').to_owned(),
                None => format!("http://{}", listener.local_addr()?),
            },
        });
        let server = serve(listener, state, &settings)?;
        tokio::spawn(purge_idempotency_keys(db.clone()));
        tracing::info!(port, backend = db.backend_name(), "listening");
        Ok(Self { port, db, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application's database handles (tests use them to inspect and to break things).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests are allowed to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Deletes expired idempotency keys at start-up and once an hour after, off the request path.
async fn purge_idempotency_keys(db: Db) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match crate::services::idempotency::purge_expired(&db, crate::clock::now()).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(err) => tracing::warn!(error = %err, "could not purge idempotency keys"),
        }
    }
}

fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let spec = crate::openapi::build();
    let routes = web::Data::new(RouteTable::from_spec(&spec));
    let body_limit = web::Data::new(BodyLimit {
        max_bytes: settings.max_body_bytes,
        timeout: Duration::from_millis(settings.body_timeout_ms),
    });
    let head_limit = web::Data::new(HeadLimit {
        max_bytes: settings.max_header_bytes,
    });
    let origins = settings.cors_allowed_origins.clone();
    let mut server = HttpServer::new(move || {
        // Called on each worker's thread as it starts.
        state.db.settle_http_worker();
        let (app, _) = App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .configure(api::configure)
            .split_for_parts();
        app.app_data(state.clone())
            .app_data(head_limit.clone())
            .app_data(routes.clone())
            .app_data(body_limit.clone())
            .app_data(api::query_config())
            .app_data(api::path_config())
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec.clone()))
            .service(web::resource("/docs").get(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }))
            .default_service(web::to(fallback))
            .wrap(from_fn(idempotency::middleware))
            .wrap(from_fn(api::health::watch_storage))
            .wrap(Condition::new(
                !origins.is_empty(),
                api::cors::cors(&origins),
            ))
            .wrap(from_fn(api::cors::problem_for_refusal))
            .wrap(from_fn(api::headers::limit))
            .wrap(TracingLogger::<RapportRootSpan>::new())
            .wrap(from_fn(api::headers::middleware))
            .wrap(from_fn(request_id::middleware))
    })
    .listen(listener)?
    .shutdown_timeout(30);
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    Ok(server.run())
}

/// The configured secret; else, on SQLite, the one kept in `rapport.secret` beside the database
/// (generated with mode 0600 on first start); on PostgreSQL a configured secret is required.
pub fn resolve_jwt_secret(settings: &Settings) -> anyhow::Result<Secret> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    match settings.database_kind()? {
        DatabaseKind::Postgres => anyhow::bail!(
            "setting `jwt_secret` is required with PostgreSQL so that every instance signs the \
             same tokens: set RAPPORT_JWT_SECRET to at least 32 random characters \
             (e.g. `openssl rand -base64 48`)"
        ),
        DatabaseKind::Sqlite(None) => {
            tracing::warn!(
                "no jwt_secret configured for an in-memory database: using a random one, so \
                 tokens will not survive a restart"
            );
            Ok(Secret::new(random_secret()?))
        }
        DatabaseKind::Sqlite(Some(db_path)) => load_or_create_secret(&secret_path(&db_path)),
    }
}

/// `data/rapport.db` → `data/rapport.secret`.
pub fn secret_path(db_path: &Path) -> PathBuf {
    db_path.with_file_name("rapport.secret")
}

fn random_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<Secret> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= crate::config::MIN_SECRET_LEN => {
            return Ok(Secret::new(text.trim()));
        }
        Ok(_) => anyhow::bail!(
            "{} is shorter than {} characters; delete it to generate a new one",
            path.display(),
            crate::config::MIN_SECRET_LEN
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", path.display()));
        }
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let secret = random_secret()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    tracing::warn!(
        path = %path.display(),
        "no jwt_secret configured: generated one and stored it beside the database; keep the \
         file private and set RAPPORT_JWT_SECRET in production"
    );
    Ok(Secret::new(secret))
}
