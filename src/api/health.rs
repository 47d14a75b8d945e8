//! Liveness and readiness probes for orchestrators and load balancers.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::state::AppState;
use crate::error::{ApiError, ProblemCode};

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
/// 503 when the database cannot be reached, or while it has no room for writes (after a
/// write failed with `storage_full`, until a write succeeds; each call then tries a small
/// write itself).
#[utoipa::path(
    tag = "ops",
    security(()),
    responses(
        (status = 200, description = "The database answers.", body = Readiness),
        (status = 503, response = crate::openapi::NotReady),
    )
)]
#[get("/readyz")]
async fn get_readyz(state: web::Data<AppState>) -> Result<web::Json<Readiness>, ApiError> {
    state.db.ping().await?;
    if state.db.storage_full() {
        match state.db.probe_write().await {
            Ok(()) => {}
            Err(ApiError::StorageFull(_)) => {
                return Err(ApiError::new(
                    ProblemCode::ServiceUnavailable,
                    "The database has no room for writes.",
                ));
            }
            Err(err) => return Err(err),
        }
    }
    let migration = state.db.migration_version().await?;
    Ok(web::Json(Readiness {
        status: "ready",
        database: state.db.backend_name(),
        migration,
    }))
}

/// Middleware: tells the database handle whether writes find room, from the answers to
/// requests that change data (507 `storage_full`, or a 2xx).
pub async fn watch_storage(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.call(req).await?.map_into_boxed_body();
    if let Some(state) = state {
        let status = response.status();
        if status == StatusCode::INSUFFICIENT_STORAGE {
            state.db.note_storage(false);
        } else if writes && status.is_success() {
            state.db.note_storage(true);
        }
    }
    Ok(response)
}
