//! The caller's own account: `/v1/me`.

use actix_web::http::StatusCode;
use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::auth::client_ip;
use crate::api::bearer::Auth;
use crate::api::etag::{Conditions, conditional_ok, with_etag};
use crate::api::json::Json;
use crate::api::patch::Patch;
use crate::api::state::AppState;
use crate::clock;
use crate::domain::account::{DisplayName, Password, TimeZone, TimeZoneName};
use crate::domain::version::etag;
use crate::error::{ApiError, FieldError};
use crate::services::accounts::{self, ProfileChanges, User};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_me)
        .service(update_me)
        .service(change_password)
        .service(delete_me);
}

/// An account as its owner sees it. The password hash never leaves the server.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "email": "ada@example.com",
    "display_name": "Ada Lovelace", "time_zone": "Europe/London",
    "weekly_conversation_goal": 5, "weekly_new_people_goal": 1,
    "created_at": "2026-11-26T09:46:22Z", "updated_at": "2026-11-26T09:46:22Z"
}))]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    /// IANA time-zone name; "local date" in every relationship rule.
    pub time_zone: String,
    /// Conversations a week you aim for, 0–100; 0 when no goal is set.
    pub weekly_conversation_goal: i32,
    /// People met for the first time a week you aim for, 0–100; 0 when no goal is set.
    pub weekly_new_people_goal: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            time_zone: user.time_zone,
            weekly_conversation_goal: user.weekly_conversation_goal,
            weekly_new_people_goal: user.weekly_new_people_goal,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Get my account
///
/// Your profile, time zone and weekly goals. The password hash never leaves the server.
#[utoipa::path(
    tag = "me",
    params(crate::openapi::IfNoneMatchHeader),
    responses(
        (status = 400, response = crate::openapi::BadRequest),
        (status = 200, description = "The caller's account.", body = UserResponse,
            headers(("ETag" = String, description = "The account's version."))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match."),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/me")]
async fn get_me(
    auth: Auth,
    state: web::Data<AppState>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    let user = current_user(&state, &auth).await?;
    let etag = etag(user.id, user.updated_at);
    Ok(conditional_ok(
        &conditions,
        &etag,
        &UserResponse::from(user),
    ))
}

/// Writable fields of the account. `email`, `id` and the timestamps are read-only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"display_name": "Ada King", "time_zone": "Europe/Paris", "weekly_conversation_goal": 5}))]
struct UpdateMeRequest {
    /// 1–200 characters, not blank; stored trimmed. Cannot be null.
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 200, format = "name")]
    display_name: Patch<String>,
    /// An IANA time-zone name. Cannot be null.
    #[serde(default)]
    #[schema(value_type = TimeZoneName)]
    time_zone: Patch<String>,
    /// Conversations a week you aim for, 0–100 (0 removes the goal). Cannot be null.
    #[serde(default)]
    #[schema(value_type = i32, minimum = 0, maximum = 100)]
    weekly_conversation_goal: Patch<i32>,
    /// New people a week you aim for, 0–100 (0 removes the goal). Cannot be null.
    #[serde(default)]
    #[schema(value_type = i32, minimum = 0, maximum = 100)]
    weekly_new_people_goal: Patch<i32>,
}

/// A weekly goal: 0–100.
fn goal(field: &str, patch: Patch<i32>, errors: &mut Vec<FieldError>) -> Option<i32> {
    match patch.not_null(field, errors) {
        Some(goal @ 0..=100) => Some(goal),
        Some(_) => {
            errors.push(FieldError::new(
                field,
                "out_of_range",
                "must be between 0 and 100",
            ));
            None
        }
        None => None,
    }
}

/// Update my account
///
/// JSON merge patch: absent fields stay as they are. Unknown and read-only fields are 422.
#[utoipa::path(
    tag = "me",
    request_body(content = UpdateMeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated account.", body = UserResponse,
            headers(("ETag" = String, description = "The new version."))),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[patch("/v1/me")]
async fn update_me(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<UpdateMeRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut errors = Vec::new();
    let display_name = body
        .display_name
        .not_null("display_name", &mut errors)
        .and_then(|name| DisplayName::parse(&name).map_err(|e| errors.push(e)).ok());
    let time_zone = body
        .time_zone
        .not_null("time_zone", &mut errors)
        .and_then(|zone| TimeZone::parse(&zone).map_err(|e| errors.push(e)).ok());
    let weekly_conversation_goal = goal(
        "weekly_conversation_goal",
        body.weekly_conversation_goal,
        &mut errors,
    );
    let weekly_new_people_goal = goal(
        "weekly_new_people_goal",
        body.weekly_new_people_goal,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let changes = ProfileChanges {
        display_name: display_name.map(DisplayName::into_inner),
        time_zone: time_zone.map(|zone| zone.name().to_owned()),
        weekly_conversation_goal,
        weekly_new_people_goal,
    };
    let user =
        accounts::update_profile(&state.db, auth.user_id(), changes, state.clock.now()).await?;
    let etag = etag(user.id, user.updated_at);
    Ok(with_etag(StatusCode::OK, &etag, &UserResponse::from(user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "correct horse battery", "new_password": "staple battery horse correct"}))]
struct ChangePasswordRequest {
    current_password: String,
    /// 10–128 characters, not one character repeated, not the email address.
    #[schema(min_length = 10, max_length = 128)]
    new_password: String,
}

/// Change my password
///
/// Checks the current password, stores the new one, and revokes every refresh token and
/// personal access token of the account: other sessions and scripts must authenticate again.
/// Access tokens already issued stay valid until they expire (15 minutes at most).
/// Needs a login's access token: a personal access token is refused (403). Wrong passwords
/// count with the failed logins of the account and the address (429 once either is used up).
#[utoipa::path(
    tag = "me",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body(content = ChangePasswordRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Changed; every other credential is revoked."),
        (status = 409, response = crate::openapi::IdempotencyConflict),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[post("/v1/me/password")]
async fn change_password(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    auth.require_login()?;
    let user = current_user(&state, &auth).await?;
    let new_password = Password::parse(&body.0.new_password, "new_password", Some(&user.email))
        .map_err(|e| ApiError::validation(vec![e]))?;
    check_password(
        &state,
        &req,
        &body.0.current_password,
        "current_password",
        &user,
    )
    .await?;
    let hash = state.passwords.hash(new_password.expose()).await?;
    accounts::change_password(&state.db, user.id, hash, clock::now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "correct horse battery"}))]
struct DeleteMeRequest {
    /// The account's password, to confirm.
    password: String,
}

/// Delete my account
///
/// Permanently deletes the account and every row it owns: contacts, conversations, value offers,
/// asks, tokens. Requires the password and a login's access token: a personal access token is
/// refused (403). Wrong passwords count with the failed logins of the account and the address
/// (429 once either is used up).
#[utoipa::path(
    tag = "me",
    request_body(content = DeleteMeRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "The account and all its data are gone."),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[delete("/v1/me")]
async fn delete_me(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<DeleteMeRequest>,
) -> Result<HttpResponse, ApiError> {
    auth.require_login()?;
    let user = current_user(&state, &auth).await?;
    check_password(&state, &req, &body.0.password, "password", &user).await?;
    accounts::delete(&state.db, user.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn current_user(state: &AppState, auth: &Auth) -> Result<User, ApiError> {
    accounts::find(&state.db, auth.user_id())
        .await?
        .ok_or_else(ApiError::account_gone)
}

/// 422 naming `field` when `candidate` is not the account's password; throttled like a login,
/// with which it shares the account's and the address's counts (429 once they are used up).
async fn check_password(
    state: &AppState,
    req: &HttpRequest,
    candidate: &str,
    field: &str,
    user: &User,
) -> Result<(), ApiError> {
    let attempt = state
        .throttles
        .attempt(&user.email.to_lowercase(), &client_ip(req), Instant::now())
        .map_err(ApiError::rate_limited)?;
    if state
        .passwords
        .verify(candidate, Some(user.password_hash.clone()))
        .await?
    {
        attempt.succeeded(Instant::now());
        Ok(())
    } else {
        attempt.failed();
        Err(ApiError::validation(vec![FieldError::new(
            field,
            "incorrect_password",
            "is not the account's password",
        )]))
    }
}
