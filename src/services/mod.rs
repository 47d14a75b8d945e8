//! Owner-scoped queries and mutations, one module per resource: the only code that uses
//! `entity::*`. Every function that touches user data takes the owner's id first.

/// Accounts: register, look up, update, change password, delete.
pub mod accounts;
/// Contacts and their tags.
pub mod contacts;
/// Conversations and their participants.
pub mod conversations;
/// Stored responses for `Idempotency-Key` replays.
pub mod idempotency;
/// Personal access tokens for scripts.
pub mod personal_tokens;
/// Refresh-token families: issue, rotate with reuse detection, revoke.
pub mod sessions;

use sea_orm::{DbErr, SqlErr};

/// True when `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
