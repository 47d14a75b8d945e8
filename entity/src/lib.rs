//! Storage shapes of Rapport, one module per table. No business logic lives here: services turn
//! these models into domain types and DTOs.

/// Replayable responses of `POST` requests sent with an `Idempotency-Key`.
pub mod idempotency_key;
/// Long-lived tokens (`rpt_…`) for scripts, stored as SHA-256 hashes.
pub mod personal_token;
/// Rotating refresh tokens, stored as SHA-256 hashes, grouped in families.
pub mod refresh_token;
/// Accounts: one row per person using Rapport.
pub mod user;
