//! Owner-scoped queries and mutations, one module per resource: the only code that uses
//! `entity::*`. Every function that touches user data takes the owner's id first.

/// Accounts: register, look up, update, change password, delete.
pub mod accounts;
/// Asks: what a user requests.
pub mod asks;
/// Contacts and their tags.
pub mod contacts;
/// Conversations and their participants.
pub mod conversations;
/// Stored responses for `Idempotency-Key` replays.
pub mod idempotency;
/// Value offers: what a user gives.
pub mod offers;
/// Personal access tokens for scripts.
pub mod personal_tokens;
/// Refresh-token families: issue, rotate with reuse detection, revoke.
pub mod sessions;
/// A contact's conversations, offers and asks as one list.
pub mod timeline;

use sea_orm::{DbErr, SqlErr};

/// True when `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
