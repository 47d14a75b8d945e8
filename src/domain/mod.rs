//! Validated types and pure rules. Nothing here touches the database or HTTP.

/// Account fields: email, password, display name, time zone.
pub mod account;
