//! Liveness and readiness probes for orchestrators and load balancers.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::startup::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_healthz).service(get_readyz);
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
struct Health {
    /// Always `ok` when the process answers.
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "database": "sqlite", "migration": "m20261126_000001_create_user_and_idempotency_key"}))]
struct Readiness {
    /// Always `ready` on 200.
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// Name of the newest applied migration; null when none is applied.
    migration: Option<String>,
}

/// Liveness
///
/// Answers 200 while the process runs; touches no database.
#[utoipa::path(
    tag = "ops",
    security(()),
    responses((status = 200, description = "The process is alive.", body = Health))
)]
#[get("/healthz")]
async fn get_healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Readiness
///
/// Answers 200 when a database round trip succeeds, with the backend and the schema version;
/// 503 when the database cannot be reached.
#[utoipa::path(
    tag = "ops",
    security(()),
    responses(
        (status = 200, description = "The database answers.", body = Readiness),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
#[get("/readyz")]
async fn get_readyz(state: web::Data<AppState>) -> Result<web::Json<Readiness>, ApiError> {
    state.db.ping().await?;
    let migration = state.db.migration_version().await?;
    Ok(web::Json(Readiness {
        status: "ready",
        database: state.db.backend_name(),
        migration,
    }))
}
