//! Rapport: a REST/JSON API for relationship-building.

/// The memory allocators' settings.
pub mod allocator;
/// HTTP handlers, DTOs and the pieces every endpoint shares.
pub mod api;
/// Credentials: passwords, access and refresh tokens, personal tokens, throttling, scopes.
pub mod auth;
/// The benchmark data set of `rapport seed-bench`, written in bulk.
pub mod bench_seed;
/// Command-line interface: serve, migrate, openapi, seed-demo, seed-bench.
pub mod cli;
/// The current time, at the precision stored, and the application's clock.
pub mod clock;
/// Settings from defaults, `rapport.toml` and `RAPPORT_*` variables.
pub mod config;
/// Connections, the read handle that retries lost connections, the write path, migrations.
pub mod db;
/// The demo account and network of `rapport seed-demo`.
pub mod demo;
/// Validated domain types and pure rules.
pub mod domain;
/// `ApiError` and RFC 9457 problem details.
pub mod error;
/// The OpenAPI document and its shared components.
pub mod openapi;
/// Owner-scoped database operations, one module per resource.
pub mod services;
/// Building and running the HTTP server.
pub mod startup;
/// The tracing subscriber, the current request id and the request span.
pub mod telemetry;
