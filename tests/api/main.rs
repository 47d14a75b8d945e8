//! One integration-test binary: every test spawns the real server on its own database.

mod config;
mod docker;
mod errors;
mod health;
mod helpers;
mod openapi;
mod write_path;
