//! The HTTP layer: one module per resource, each owning its routes and DTOs, plus the pieces
//! they share.

/// Asks.
pub mod asks;
/// Registration, login, refresh and logout.
pub mod auth;
/// The `Auth` extractor: bearer tokens authenticated.
pub mod bearer;
/// The follow-up calendar feed.
pub mod calendar;
/// Contacts and tags.
pub mod contacts;
/// Conversations and their participants.
pub mod conversations;
/// CORS, with its refusals as problems.
pub mod cors;
/// `ETag`, `If-None-Match` and `If-Match`.
pub mod etag;
/// 404 and 405 for requests no route takes.
pub mod fallback;
/// `HEAD` as `GET`, `nosniff` and `no-store` on every response.
pub mod headers;
/// `/healthz` and `/readyz`.
pub mod health;
/// `Idempotency-Key` replays for every `POST`.
pub mod idempotency;
/// Follow-ups, suggestions, statistics and goals.
pub mod insights;
/// The JSON body extractor with problem responses for every way a body can be wrong.
pub mod json;
/// The caller's own account.
pub mod me;
/// Value offers.
pub mod offers;
/// Keyset pagination shared by every list.
pub mod pagination;
/// JSON merge-patch fields.
pub mod patch;
/// `/problems/{slug}`: documentation of each problem type.
pub mod problems;
/// The handlers' halves that offers, asks and conversations share.
pub mod records;
/// `X-Request-Id`: taken or made, and echoed on every response.
pub mod request_id;
/// What every handler can reach: the database, the clock, keys and limits.
pub mod state;
/// Personal access tokens.
pub mod tokens;

use actix_web::web;
use actix_web::{HttpRequest, error::QueryPayloadError};

use crate::error::ApiError;

/// Registers every documented route. Used by the server and by `rapport openapi`, so the
/// spec is generated from the same calls that route requests.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(problems::configure)
        .configure(auth::configure)
        .configure(me::configure)
        .configure(tokens::configure)
        .configure(contacts::configure)
        .configure(conversations::configure)
        .configure(offers::configure)
        .configure(asks::configure)
        .configure(insights::configure)
        .configure(calendar::configure);
}

/// Query-string errors as 400 problems.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req: &HttpRequest| {
        ApiError::invalid_query(err.to_string()).into()
    })
}

/// A path segment that does not parse (an id that is not a UUID) names nothing: 404.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into())
}
