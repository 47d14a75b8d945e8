//! Personal access tokens for scripts: `/v1/tokens`.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::bearer::Auth;
use crate::api::etag::{Conditions, conditional_ok, created};
use crate::api::idempotency::carrying_secret;
use crate::api::json::Json;
use crate::api::pagination::{ListQuery, Page, PageQuery};
use crate::api::state::AppState;
use crate::auth::Scope;
use crate::clock;
use crate::domain::text::name;
use crate::domain::version::etag;
use crate::error::{ApiError, FieldError};
use crate::services::personal_tokens::{self, NewPersonalToken, PersonalToken};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_personal_token)
        .service(list_personal_tokens)
        .service(get_personal_token)
        .service(delete_personal_token);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "weekly export script", "scopes": ["read"], "expires_in_days": 90}))]
struct CreateTokenRequest {
    /// What the token is for, 1–100 characters, not blank.
    #[schema(min_length = 1, max_length = 100, format = "name")]
    name: String,
    /// `read` allows `GET` only; `write` allows everything (and implies `read`).
    #[schema(min_items = 1)]
    scopes: Vec<Scope>,
    /// 1–3650 days; null or absent for a token that does not expire.
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<i64>,
}

/// A personal access token, without its secret.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "name": "weekly export script",
    "scopes": ["read"], "created_at": "2026-11-26T09:46:22Z", "last_used_at": null,
    "expires_at": "2027-02-24T09:46:22Z"
}))]
struct TokenSummary {
    id: Uuid,
    name: String,
    scopes: Vec<Scope>,
    created_at: DateTime<Utc>,
    /// Updated at most once a minute.
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl From<PersonalToken> for TokenSummary {
    fn from(token: PersonalToken) -> Self {
        Self {
            id: token.id,
            name: token.name,
            scopes: Scope::split(&token.scopes),
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            expires_at: token.expires_at,
        }
    }
}

/// A new personal access token, with its secret: shown in this response only.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "name": "weekly export script",
    "scopes": ["read"], "created_at": "2026-11-26T09:46:22Z", "last_used_at": null,
    "expires_at": "2027-02-24T09:46:22Z", "token": "rpt_4m0Zk9w1bQ2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ"
}))]
struct CreatedToken {
    #[serde(flatten)]
    summary: TokenSummary,
    /// `rpt_…`: use as `Authorization: Bearer rpt_…`. Store it now; it cannot be shown again.
    token: String,
}

/// Create a personal access token
///
/// For scripts and automation. The secret is returned once, in this response. Needs a login's
/// access token: a personal access token cannot mint another (403). The secret is not kept for
/// idempotent replays: a retry with the same `Idempotency-Key` creates nothing and is answered
/// 409 `secret_not_replayed`.
#[utoipa::path(
    tag = "tokens",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body(content = CreateTokenRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The token, with its secret.", body = CreatedToken,
            headers(
                ("Location" = String, description = "`/v1/tokens/{id}`"),
                ("ETag" = String, description = "The token's version."))),
        (status = 409, response = crate::openapi::IdempotencyConflict),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[post("/v1/tokens")]
async fn create_personal_token(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<CreateTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    auth.require_login()?;
    let body = body.0;
    let now = clock::now();
    let mut errors = Vec::new();
    let name = name("name", &body.name, 100)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    if body.scopes.is_empty() {
        errors.push(FieldError::new(
            "scopes",
            "required",
            "must name at least one scope",
        ));
    }
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days @ 1..=3650) => Some(now + Duration::days(days)),
        Some(_) => {
            errors.push(FieldError::new(
                "expires_in_days",
                "out_of_range",
                "must be between 1 and 3650",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let new = NewPersonalToken {
        name,
        scopes: body.scopes,
        expires_at,
    };
    let (token, secret) = personal_tokens::create(&state.db, auth.user_id(), new, now).await?;
    let location = format!("/v1/tokens/{}", token.id);
    let etag = etag(token.id, token.created_at);
    let body = CreatedToken {
        summary: token.into(),
        token: secret,
    };
    Ok(carrying_secret(created(&location, &etag, &body)))
}

/// List personal access tokens
///
/// The caller's tokens, oldest first, without their secrets.
#[utoipa::path(
    tag = "tokens",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of tokens.", body = Page<TokenSummary>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/tokens")]
async fn list_personal_tokens(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<PageQuery>,
) -> Result<web::Json<Page<TokenSummary>>, ApiError> {
    let page = query.0.parse()?;
    let (rows, has_more) = personal_tokens::list(&state.db, auth.user_id(), &page).await?;
    let last = rows.last().map(|t| t.id);
    let data = rows.into_iter().map(TokenSummary::from).collect();
    Ok(web::Json(Page::new(data, has_more, last)))
}

/// Get a personal access token
///
/// One of the caller's tokens, without its secret.
#[utoipa::path(
    tag = "tokens",
    params(("id" = Uuid, Path, description = "The token's id."), crate::openapi::IfNoneMatchHeader),
    responses(
        (status = 400, response = crate::openapi::BadRequest),
        (status = 200, description = "The token.", body = TokenSummary,
            headers(("ETag" = String, description = "The token's version (changes when it is used)."))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/v1/tokens/{id}")]
async fn get_personal_token(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    let token = personal_tokens::find(&state.db, auth.user_id(), id.into_inner()).await?;
    let etag = etag(token.id, token.last_used_at.unwrap_or(token.created_at));
    Ok(conditional_ok(
        &conditions,
        &etag,
        &TokenSummary::from(token),
    ))
}

/// Revoke a personal access token
///
/// The token stops working at once.
#[utoipa::path(
    tag = "tokens",
    params(("id" = Uuid, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[delete("/v1/tokens/{id}")]
async fn delete_personal_token(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    personal_tokens::delete(&state.db, auth.user_id(), id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
