//! Sign-up and sessions: `/v1/auth/*`.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::etag::created;
use crate::api::idempotency::carrying_secret;
use crate::api::json::Json;
use crate::api::me::UserResponse;
use crate::api::state::AppState;
use crate::auth::jwt::ACCESS_TOKEN_SECONDS;
use crate::clock;
use crate::domain::account::{DisplayName, Email, Password, TimeZone, TimeZoneName, collect};
use crate::domain::version::etag;
use crate::error::{ApiError, ProblemCode};
use crate::services::accounts::{self, NewAccount};
use crate::services::sessions::{self, IssuedRefreshToken};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(register_account)
        .service(create_access_token)
        .service(refresh_access_token)
        .service(revoke_session);
}

/// The client's address as seen by this server (not `X-Forwarded-For`, which anyone can set).
pub(crate) fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_default()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "ada@example.com", "password": "correct horse battery",
    "display_name": "Ada Lovelace", "time_zone": "Europe/London"
}))]
struct RegisterRequest {
    /// Lower-cased; unique in any letter case.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 10–128 characters, not one character repeated, not the email address.
    #[schema(min_length = 10, max_length = 128)]
    password: String,
    /// 1–200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, format = "name")]
    display_name: String,
    /// IANA time-zone name; defaults to `UTC`.
    #[schema(value_type = Option<TimeZoneName>)]
    time_zone: Option<String>,
}

/// Register
///
/// Creates an account. Limited per client address (`registrations_per_ip` an hour).
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body(content = RegisterRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new account.", body = UserResponse,
            headers(
                ("Location" = String, description = "`/v1/me`"),
                ("ETag" = String, description = "The account's version."))),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        (status = 429, response = crate::openapi::TooManyRequests),
    )
)]
#[post("/v1/auth/register")]
async fn register_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = client_ip(&req);
    state
        .throttles
        .registrations_per_ip
        .reserve(&ip, Instant::now())
        .map_err(ApiError::rate_limited)?;

    let body = body.0;
    let mut errors = Vec::new();
    let email = collect(Email::parse(&body.email), &mut errors);
    let password = collect(
        Password::parse(
            &body.password,
            "password",
            email.as_ref().map(Email::as_str),
        ),
        &mut errors,
    );
    let display_name = collect(DisplayName::parse(&body.display_name), &mut errors);
    let time_zone = match body.time_zone.as_deref() {
        None => Some(TimeZone::default()),
        Some(zone) => collect(TimeZone::parse(zone), &mut errors),
    };
    let (Some(email), Some(password), Some(display_name), Some(time_zone)) =
        (email, password, display_name, time_zone)
    else {
        return Err(ApiError::validation(errors));
    };

    let password_hash = state.passwords.hash(password.expose()).await?;
    let account = NewAccount {
        email: email.into_inner(),
        password_hash,
        display_name: display_name.into_inner(),
        time_zone: time_zone.name().to_owned(),
    };
    let user = accounts::register(&state.db, account, state.clock.now()).await?;
    let etag = etag(user.id, user.updated_at);
    Ok(created("/v1/me", &etag, &UserResponse::from(user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery"}))]
struct LoginRequest {
    email: String,
    password: String,
}

/// A new access token and refresh token.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkzIn0.c2lnbmF0dXJl", "token_type": "Bearer",
    "expires_in": 900, "refresh_token": "q4Qm3n1-Yt0pV8...", "refresh_expires_in": 2592000
}))]
struct TokenResponse {
    /// A JWT for `Authorization: Bearer …`.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires (900).
    expires_in: i64,
    /// Opaque; exchange it at `/v1/auth/refresh` for a new pair. It works once.
    refresh_token: String,
    /// Seconds until the refresh token expires (30 days).
    refresh_expires_in: i64,
}

fn token_response(
    state: &AppState,
    user_id: Uuid,
    refresh: IssuedRefreshToken,
) -> Result<HttpResponse, ApiError> {
    Ok(carrying_secret(HttpResponse::Ok().json(TokenResponse {
        access_token: state.jwt.issue(user_id, clock::now())?,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECONDS,
        refresh_token: refresh.token,
        refresh_expires_in: refresh.expires_in_seconds,
    })))
}

/// Log in
///
/// Exchanges email and password for a 15-minute access token and a 30-day refresh token.
/// An unknown email and a wrong password get the same answer after the same work. Failed
/// attempts are limited per account and per client address; a success clears the account's.
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in.", body = TokenResponse),
        (status = 401, response = crate::openapi::Unauthorized),
        crate::openapi::JsonBodyErrors,
        (status = 429, response = crate::openapi::TooManyRequests),
    )
)]
#[post("/v1/auth/token")]
async fn create_access_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = client_ip(&req);
    let account_key = body.0.email.trim().to_lowercase();
    // Counted before the password is checked, so that concurrent attempts cannot outrun it.
    let attempt = state
        .throttles
        .attempt(&account_key, &ip, Instant::now())
        .map_err(ApiError::rate_limited)?;
    let user = accounts::find_by_email(&state.db, &account_key).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let verified = state.passwords.verify(&body.0.password, hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        attempt.failed();
        return Err(ApiError::new(
            ProblemCode::InvalidCredentials,
            "The email or the password is wrong.",
        ));
    };
    attempt.succeeded(Instant::now());
    let refresh = sessions::start(&state.db, user.id, clock::now()).await?;
    token_response(&state, user.id, refresh)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "q4Qm3n1-Yt0pV8..."}))]
struct RefreshRequest {
    refresh_token: String,
}

/// Refresh the access token
///
/// Exchanges a refresh token for a new access token and a new refresh token; the old refresh
/// token stops working. Presenting a refresh token that was already exchanged revokes every
/// token of that login (it was probably stolen) and answers 401.
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body(content = RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A new pair.", body = TokenResponse),
        (status = 401, response = crate::openapi::Unauthorized),
        crate::openapi::JsonBodyErrors,
    )
)]
#[post("/v1/auth/refresh")]
async fn refresh_access_token(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, refresh) =
        sessions::rotate(&state.db, &body.0.refresh_token, clock::now()).await?;
    token_response(&state, user_id, refresh)
}

/// Log out
///
/// Revokes the given refresh token and every token rotated from the same login. Access
/// tokens already issued stay valid until they expire (15 minutes at most).
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body(content = RefreshRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Logged out."),
        (status = 401, response = crate::openapi::Unauthorized),
        crate::openapi::JsonBodyErrors,
    )
)]
#[post("/v1/auth/logout")]
async fn revoke_session(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    sessions::revoke(&state.db, &body.0.refresh_token, clock::now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
