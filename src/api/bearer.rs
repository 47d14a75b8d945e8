//! The `Auth` extractor every protected handler takes: the request's bearer token (a JWT
//! access token or a personal token), authenticated against the accounts and tokens.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::api::state::AppState;
use crate::auth::{Owner, Scope, opaque};
use crate::clock;
use crate::domain::relationship::Today;
use crate::error::ApiError;
use crate::services::{accounts, personal_tokens};

/// Extractor for protected routes: a bearer JWT access token or a personal token (`rpt_…`).
/// `GET`/`HEAD` need the `read` scope, every other method `write` (403 otherwise).
pub struct Auth(pub Owner);

impl Auth {
    pub fn user_id(&self) -> Uuid {
        self.0.user_id
    }

    /// 403 unless the caller authenticated with a login's access token: credentials (the
    /// password, the account itself, tokens and feed URLs) are changed only from an interactive
    /// session, never by a script's personal token, which could otherwise outlive its own
    /// revocation through a token it minted.
    pub fn require_login(&self) -> Result<(), ApiError> {
        if self.0.personal_token {
            return Err(ApiError::new(
                crate::error::ProblemCode::InsufficientScope,
                "Personal access tokens cannot change credentials; use a login's access token.",
            )
            .with_header(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static(
                    r#"Bearer realm="rapport", error="insufficient_scope""#,
                ),
            ));
        }
        Ok(())
    }

    /// The caller's calendar at `now`, in their account's time zone.
    pub fn today(&self, now: DateTime<Utc>) -> Today {
        Today::new(now, &self.0.time_zone)
    }
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        let needed = if matches!(*req.method(), Method::GET | Method::HEAD) {
            Scope::Read
        } else {
            Scope::Write
        };
        // Already authenticated earlier in this request (by the idempotency middleware).
        let known = req.extensions().get::<Owner>().cloned();
        Box::pin(async move {
            if let Some(owner) = known {
                return require_scope(owner, needed);
            }
            let state = state.ok_or_else(|| anyhow::anyhow!("AppState is not installed"))?;
            let token = match header {
                None => return Err(ApiError::unauthorized()),
                Some(Err(_)) => {
                    return Err(ApiError::invalid_token("Malformed Authorization header."));
                }
                Some(Ok(value)) => bearer_token(&value)?.to_owned(),
            };
            let owner = authenticate(&state, &token).await?.ok_or_else(|| {
                ApiError::invalid_token("The token is invalid, expired or revoked.")
            })?;
            require_scope(owner, needed)
        })
    }
}

fn require_scope(owner: Owner, needed: Scope) -> Result<Auth, ApiError> {
    if owner.scopes.contains(&needed) {
        Ok(Auth(owner))
    } else {
        Err(ApiError::insufficient_scope(needed))
    }
}

fn bearer_token(value: &str) -> Result<&str, ApiError> {
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::invalid_token(
            "Expected `Authorization: Bearer <token>`.",
        ));
    }
    Ok(token)
}

/// The owner behind a request's bearer token, if it has a valid one (no scope check). The
/// result is kept in the request's extensions, where the `Auth` extractor finds it.
pub async fn authenticate_request(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<Owner>, ApiError> {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| bearer_token(v).ok());
    let owner = match token {
        Some(token) => authenticate(state, token).await?,
        None => None,
    };
    if let Some(owner) = &owner {
        req.extensions_mut().insert(owner.clone());
    }
    Ok(owner)
}

async fn authenticate(state: &AppState, token: &str) -> Result<Option<Owner>, ApiError> {
    let now = clock::now();
    if token.starts_with(opaque::PERSONAL_TOKEN_PREFIX) {
        return personal_tokens::authenticate(&state.db, token, now).await;
    }
    let Some(claims) = state.jwt.verify(token) else {
        return Ok(None);
    };
    // A deleted account's tokens must stop working at once, not when they expire.
    let Some(time_zone) = accounts::time_zone(&state.db, claims.sub).await? else {
        return Ok(None);
    };
    Ok(Some(Owner {
        user_id: claims.sub,
        scopes: vec![Scope::Read, Scope::Write],
        time_zone,
        personal_token: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_taken_from_the_header() {
        assert_eq!(bearer_token("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer_token("bearer   abc ").unwrap(), "abc");
        assert!(bearer_token("Basic abc").is_err());
        assert!(bearer_token("Bearer").is_err());
        assert!(bearer_token("Bearer ").is_err());
    }
}
