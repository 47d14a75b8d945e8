//! What every handler can reach.

use std::time::Duration;

use crate::auth::jwt::JwtKeys;
use crate::auth::password::Hasher;
use crate::auth::throttle::Throttles;
use crate::clock::Clock;
use crate::db::Db;

/// What every handler can reach, installed once as `web::Data`.
pub struct AppState {
    pub db: Db,
    /// How long a duplicate `Idempotency-Key` waits for the first request (`idempotency_wait_ms`).
    pub idempotency_wait: Duration,
    /// The time records are stamped with and relationships judged by.
    pub clock: Clock,
    pub jwt: JwtKeys,
    pub throttles: Throttles,
    /// Password hashing and checking, a few at a time.
    pub passwords: Hasher,
    /// Where clients reach this server, without a trailing slash (setting `public_url`).
    pub public_url: String,
}
