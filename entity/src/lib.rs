//! Storage shapes of Rapport, one module per table. No business logic lives here: services turn
//! these models into domain types and DTOs.

/// Replayable responses of `POST` requests sent with an `Idempotency-Key`.
pub mod idempotency_key;
/// Accounts: one row per person using Rapport.
pub mod user;
