//! One integration-test binary: every test spawns the real server on its own database.

mod auth;
mod config;
mod contacts;
mod demo;
mod docker;
mod errors;
mod faults;
mod health;
mod helpers;
mod idempotency;
mod intelligence;
mod isolation;
mod layers;
mod ledger;
mod me;
mod migrations;
mod openapi;
mod pools;
mod records;
mod tenancy;
mod tokens;
mod write_path;
