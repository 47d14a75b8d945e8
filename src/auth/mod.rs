//! Credentials: passwords, access tokens, opaque tokens, throttling, and what a token grants.
//! Nothing here knows HTTP or the database; `api::bearer` authenticates requests with it.

/// HS256 access tokens.
pub mod jwt;
/// Random opaque tokens and their stored hashes.
pub mod opaque;
/// Argon2id hashing off the async workers.
pub mod password;
/// Failure counters for login and registration throttling.
pub mod throttle;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a token may do. Access tokens from a login have both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `GET` requests.
    Read,
    /// Every other method.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    /// Sorted, de-duplicated, space-separated; `write` implies `read`.
    pub fn join(scopes: &[Scope]) -> String {
        let mut all = scopes.to_vec();
        if all.contains(&Scope::Write) {
            all.push(Scope::Read);
        }
        all.sort_unstable();
        all.dedup();
        all.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    pub fn split(stored: &str) -> Vec<Scope> {
        stored
            .split_whitespace()
            .filter_map(|s| match s {
                "read" => Some(Scope::Read),
                "write" => Some(Scope::Write),
                _ => None,
            })
            .collect()
    }
}

/// The authenticated caller, with the account's time zone read in the same statement that
/// proves the account still exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub user_id: Uuid,
    pub scopes: Vec<Scope>,
    pub time_zone: String,
    /// Authenticated by a personal access token rather than a login's access token.
    pub personal_token: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_implies_read_and_scopes_round_trip() {
        assert_eq!(Scope::join(&[Scope::Write]), "read write");
        assert_eq!(Scope::join(&[Scope::Read, Scope::Read]), "read");
        assert_eq!(Scope::split("read write"), vec![Scope::Read, Scope::Write]);
    }
}
