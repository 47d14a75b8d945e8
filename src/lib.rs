//! Rapport: a REST/JSON API for relationship-building.

/// HTTP handlers, DTOs and the pieces every endpoint shares.
pub mod api;
/// Command-line interface: serve, migrate, openapi.
pub mod cli;
/// Settings from defaults, `rapport.toml` and `RAPPORT_*` variables.
pub mod config;
/// Connections, the SQLite write path and migrations.
pub mod db;
/// `ApiError` and RFC 9457 problem details.
pub mod error;
/// The OpenAPI document and its shared components.
pub mod openapi;
/// Building and running the HTTP server.
pub mod startup;
/// The tracing subscriber and the request span.
pub mod telemetry;
