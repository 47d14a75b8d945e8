//! `ApiError`, the one error type of the HTTP layer, rendered as RFC 9457 problem details.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use sea_orm::DbErr;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::telemetry;

/// Seconds a client waits before retrying when the database is unreachable: a restart or a
/// fail-over takes a few.
const UNAVAILABLE_RETRY_AFTER: u32 = 5;
/// Seconds before retrying a write refused for lack of storage: someone has to free space.
const STORAGE_FULL_RETRY_AFTER: u32 = 60;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Declares [`ProblemCode`] from one table: each code's variant, wire name, status, title and
/// description stand on one row, so adding a problem is one edit.
macro_rules! problem_codes {
    ($($variant:ident = $name:literal, $status:ident, $title:literal, $description:literal;)+) => {
        /// Stable machine-readable problem codes. Each has one status, one title and a page at
        /// `/problems/{code-in-kebab-case}`.
        // The wire names come from `rename_all`; a test holds them equal to the table's.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ProblemCode {
            $($variant,)+
        }

        impl ProblemCode {
            pub const ALL: &'static [ProblemCode] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)+ }
            }

            pub fn status(self) -> StatusCode {
                match self { $(Self::$variant => StatusCode::$status,)+ }
            }

            pub fn title(self) -> &'static str {
                match self { $(Self::$variant => $title,)+ }
            }

            /// What the problem means and what the client can do about it.
            pub fn description(self) -> &'static str {
                match self { $(Self::$variant => $description,)+ }
            }
        }
    };
}

problem_codes! {
    MalformedJson = "malformed_json", BAD_REQUEST, "Malformed JSON",
        "The request body is not well-formed JSON. `detail` gives the line and column where parsing stopped. Fix the body and send the request again.";
    InvalidQuery = "invalid_query", BAD_REQUEST, "Invalid query",
        "A query parameter is missing, malformed or out of range (for example `limit=0`). `detail` names the parameter.";
    NotFound = "not_found", NOT_FOUND, "Not found",
        "There is no such route, or no such object among the caller's own. Objects of other users are reported exactly like missing ones.";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed",
        "The route exists but does not accept this HTTP method. The `Allow` header lists the methods it accepts.";
    RequestTimeout = "request_timeout", REQUEST_TIMEOUT, "Request timeout",
        "The request announced a body that did not arrive in time (`body_timeout_ms`, 10 s by default). Send the whole body at once.";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "Payload too large",
        "The request body is larger than the server accepts (`max_body_bytes`, 1 MiB by default).";
    HeadersTooLarge = "headers_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE, "Request header fields too large",
        "The request line and header fields are larger than the server accepts (`max_header_bytes`, 16 KiB by default), or there are more than 64 header fields. `detail` gives the size or count. Heads over 128 KiB or with more than 96 fields are refused by the HTTP layer itself, with this status and no body.";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type",
        "The request has a body that is not JSON. Send it with `Content-Type: application/json`.";
    ValidationFailed = "validation_failed", UNPROCESSABLE_ENTITY, "Validation failed",
        "The JSON is well-formed but some fields are invalid, missing, unknown or read-only. `errors` lists each field with a code and a message.";
    InvalidCursor = "invalid_cursor", BAD_REQUEST, "Invalid cursor",
        "The `cursor` query parameter is not one this API returned. Start again from the first page.";
    InvalidRange = "invalid_range", BAD_REQUEST, "Invalid range",
        "`from` and `to` do not make a range this endpoint answers: `from` is after `to`, or the range is longer than allowed.";
    InvalidCondition = "invalid_condition", BAD_REQUEST, "Invalid condition",
        "`If-Match` or `If-None-Match` is not `*` or a comma-separated list of entity tags such as `\"a1b2\"` or `W/\"a1b2\"`.";
    Unauthorized = "unauthorized", UNAUTHORIZED, "Authentication required",
        "The request has no `Authorization: Bearer <token>` header. Log in with `POST /v1/auth/token`, or use a personal access token.";
    InvalidToken = "invalid_token", UNAUTHORIZED, "Invalid token",
        "The token is malformed, expired, revoked, signed with another key, or belongs to a deleted account. Log in again or refresh the access token.";
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED, "Invalid credentials",
        "The email and password do not match an account. The answer is the same for an unknown email and a wrong password.";
    InsufficientScope = "insufficient_scope", FORBIDDEN, "Insufficient scope",
        "The token is valid but lacks the scope this operation needs: a `read` personal token cannot change anything.";
    EmailTaken = "email_taken", CONFLICT, "Email taken",
        "An account with this email address (in any letter case) already exists. Log in instead.";
    RateLimited = "rate_limited", TOO_MANY_REQUESTS, "Too many requests",
        "Too many attempts in a short time. Wait for the number of seconds in `Retry-After`; the `RateLimit-*` headers give the allowance.";
    InvalidIdempotencyKey = "invalid_idempotency_key", BAD_REQUEST, "Invalid idempotency key",
        "The `Idempotency-Key` header must be 1–255 printable ASCII characters.";
    IdempotencyKeyInUse = "idempotency_key_in_use", CONFLICT, "Idempotency key in use",
        "A request with this `Idempotency-Key` is still being processed. Wait for it to finish, then retry to get its response.";
    PreconditionFailed = "precondition_failed", PRECONDITION_FAILED, "Precondition failed",
        "The object changed since the `ETag` given in `If-Match` was read; nothing was changed. Fetch it again and reapply the change.";
    IdempotencyKeyReused = "idempotency_key_reused", UNPROCESSABLE_ENTITY, "Idempotency key reused",
        "This `Idempotency-Key` was already used with a different request. Use a new key for a new request.";
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, "Internal error",
        "The server failed unexpectedly. Nothing about the cause is sent; the log holds it under the same `request_id`. Retrying may help.";
    ServiceUnavailable = "service_unavailable", SERVICE_UNAVAILABLE, "Service unavailable",
        "The service is not ready: its database has no room for writes. Retry later; `/readyz` tells when the service is ready again.";
    DatabaseUnavailable = "database_unavailable", SERVICE_UNAVAILABLE, "Database unavailable",
        "The database cannot be reached at the moment (a restart, a fail-over, a lost connection, every connection busy), or a write kept losing to concurrent writes of the same rows; nothing was done. Retry after the seconds in `Retry-After`; `/readyz` tells when the service is ready again.";
    StorageFull = "storage_full", INSUFFICIENT_STORAGE, "Storage full",
        "The server's storage is full, so nothing of the request was written. Retry after the seconds in `Retry-After`; `/readyz` answers 503 until the server can write again.";
    SecretNotReplayed = "secret_not_replayed", CONFLICT, "Secret not replayed",
        "The first request with this `Idempotency-Key` was done, but its response carried a secret (a token), which the server does not keep for replay. Send a new request with a new key if you need another.";
    CorsRejected = "cors_rejected", BAD_REQUEST, "Cross-origin request refused",
        "A CORS preflight asked for an origin, a method or a header this server does not allow (`cors_allowed_origins`; the methods are those of the API). `detail` says which.";
    Busy = "busy", SERVICE_UNAVAILABLE, "Server busy",
        "Too many password checks are running at once; nothing was checked or counted. Retry after the seconds in `Retry-After`.";
}

impl ProblemCode {
    /// `validation_failed` → `validation-failed`.
    pub fn slug(self) -> String {
        self.as_str().replace('_', "-")
    }

    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.slug())
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|code| code.slug() == slug)
    }
}

/// One invalid field of a request body or query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"field": "email", "code": "invalid_email", "message": "must be an email address such as ada@example.com"}))]
pub struct FieldError {
    /// The field's path in the body, dotted for nested fields (`links.0`).
    pub field: String,
    /// A stable snake_case code such as `required`, `too_long` or `unknown_field`.
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem details body, sent as `application/problem+json`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation-failed", "title": "Validation failed", "status": 422,
    "detail": "1 field is invalid", "code": "validation_failed",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "errors": [{"field": "email", "code": "invalid_email", "message": "must be an email address"}]
}))]
pub struct Problem {
    /// Relative URI of the problem type; `GET` on it describes the problem.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    pub code: ProblemCode,
    /// The `X-Request-Id` of the request, also in the server's log lines for it.
    pub request_id: String,
    /// Present on 422 only: one entry per invalid field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Every error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A 4xx the client can act on; the status comes from the code.
    #[error("{code:?}: {detail}")]
    Problem {
        code: ProblemCode,
        detail: String,
        errors: Vec<FieldError>,
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// 503: the database cannot be reached.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// 507: the database has no room for the write; nothing of it was kept.
    #[error("storage full")]
    StorageFull(#[source] DbErr),
    /// 500: anything unexpected. The cause chain is logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// Whether the write lost to a concurrent one: the database aborted its transaction to
    /// break a deadlock or a serialization conflict, or its row changed after it read it
    /// ([`crate::db::RowMoved`]). It may run again from its start.
    pub fn lost_to_a_conflict(&self) -> bool {
        match self {
            Self::Internal(err) => {
                err.downcast_ref::<DbErr>()
                    .is_some_and(crate::db::lost_to_a_conflict)
                    || self.is_row_moved()
            }
            _ => false,
        }
    }

    /// See [`crate::db::RowMoved`].
    pub fn row_moved() -> Self {
        Self::Internal(anyhow::Error::new(crate::db::RowMoved))
    }

    /// Whether this is [`ApiError::row_moved`].
    pub fn is_row_moved(&self) -> bool {
        matches!(self, Self::Internal(err) if err.is::<crate::db::RowMoved>())
    }

    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self::Problem {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            ProblemCode::NotFound,
            "There is nothing at this address, or it is not yours.",
        )
    }

    /// 401 without credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            ProblemCode::Unauthorized,
            "This operation needs `Authorization: Bearer <token>`.",
        )
        .with_header(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="rapport""#),
        )
    }

    /// 401 for a token that was given but is not valid.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::InvalidToken, detail).with_header(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="rapport", error="invalid_token""#),
        )
    }

    /// 401 for a token whose account was deleted: after the request was authenticated, when a
    /// write finds the account gone under it.
    pub fn account_gone() -> Self {
        Self::invalid_token("The account no longer exists.")
    }

    /// 403 for a valid token without the scope `needed`.
    pub fn insufficient_scope(needed: crate::auth::Scope) -> Self {
        let challenge = format!(
            r#"Bearer realm="rapport", error="insufficient_scope", scope="{}""#,
            needed.as_str()
        );
        Self::new(
            ProblemCode::InsufficientScope,
            format!(
                "This operation needs a token with the `{}` scope.",
                needed.as_str()
            ),
        )
        .with_header(
            WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer")),
        )
    }

    /// 429 with `Retry-After` and the `RateLimit-*` headers.
    pub fn rate_limited(limited: crate::auth::throttle::Limited) -> Self {
        let seconds = limited.retry_after.as_secs().max(1);
        let number =
            |n: u64| HeaderValue::from_str(&n.to_string()).unwrap_or(HeaderValue::from_static("1"));
        Self::new(
            ProblemCode::RateLimited,
            format!("Too many attempts; try again in {seconds} seconds."),
        )
        .with_header(RETRY_AFTER, number(seconds))
        .with_header(
            HeaderName::from_static("ratelimit-limit"),
            number(u64::from(limited.limit)),
        )
        .with_header(HeaderName::from_static("ratelimit-remaining"), number(0))
        .with_header(HeaderName::from_static("ratelimit-reset"), number(seconds))
    }

    /// 412: `If-Match` names a version that is no longer current.
    pub fn precondition_failed() -> Self {
        Self::new(
            ProblemCode::PreconditionFailed,
            "The object changed since it was read (If-Match does not match its ETag).",
        )
    }

    pub fn invalid_query(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::InvalidQuery, detail)
    }

    /// 422 listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid".to_owned(),
            n => format!("{n} fields are invalid"),
        };
        Self::Problem {
            code: ProblemCode::ValidationFailed,
            detail,
            errors,
            headers: Vec::new(),
        }
    }

    /// Adds a response header (`Allow`, `Retry-After`, …) to a 4xx problem.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        if let Self::Problem { headers, .. } = &mut self {
            headers.push((name, value));
        }
        self
    }

    pub fn code(&self) -> ProblemCode {
        match self {
            Self::Problem { code, .. } => *code,
            Self::Unavailable(_) => ProblemCode::DatabaseUnavailable,
            Self::StorageFull(_) => ProblemCode::StorageFull,
            Self::Internal(_) => ProblemCode::InternalError,
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Problem { detail, .. } => detail.clone(),
            Self::Unavailable(_) => "The database cannot be reached; try again shortly.".into(),
            Self::StorageFull(_) => {
                "The server's storage is full; nothing of this request was written.".into()
            }
            Self::Internal(_) => "The server failed to answer this request.".into(),
        }
    }
}

impl From<crate::domain::version::Stale> for ApiError {
    fn from(_: crate::domain::version::Stale) -> Self {
        Self::precondition_failed()
    }
}

impl From<crate::auth::password::PasswordError> for ApiError {
    fn from(err: crate::auth::password::PasswordError) -> Self {
        match err {
            crate::auth::password::PasswordError::Busy => Self::new(
                ProblemCode::Busy,
                "Too many password checks are running; try again in a second.",
            )
            .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
            crate::auth::password::PasswordError::Failed(err) => Self::Internal(err),
        }
    }
}

/// The answer to a write that lost a race with a delete: the row it refers to was deleted
/// after the write checked that it existed, and the database's foreign key refused it.
fn lost_reference(constraint: &str) -> Option<ApiError> {
    let (field, code, message) = match constraint {
        "fk_participant_contact" => (
            "participant_ids",
            "unknown_contact",
            "is not one of your contacts",
        ),
        "fk_value_offer_contact" | "fk_ask_contact" => (
            "contact_id",
            "unknown_contact",
            "is not one of your contacts",
        ),
        "fk_value_offer_introduced_contact" => (
            "introduced_contact_id",
            "unknown_contact",
            "is not one of your contacts",
        ),
        "fk_contact_introduced_by" => (
            "introduced_by_id",
            "unknown_contact",
            "is not one of your contacts",
        ),
        "fk_value_offer_conversation" | "fk_ask_conversation" => (
            "conversation_id",
            "unknown_conversation",
            "is not one of your conversations",
        ),
        // The object being written was itself deleted meanwhile.
        "fk_contact_tag_contact" | "fk_participant_conversation" => {
            return Some(ApiError::not_found());
        }
        // So was the account.
        name if name.ends_with("_owner") => {
            return Some(ApiError::account_gone());
        }
        _ => return None,
    };
    Some(ApiError::validation(vec![FieldError::new(
        field, code, message,
    )]))
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        if matches!(
            err.sql_err(),
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
        ) && let Some(problem) =
            crate::db::violated_constraint(&err).and_then(|name| lost_reference(&name))
        {
            return problem;
        }
        if crate::db::is_storage_full(&err) {
            Self::StorageFull(err)
        } else if crate::db::is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Internal(anyhow::Error::new(err).context("database statement failed"))
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(err) => tracing::error!(error = ?err, "request failed"),
            Self::Unavailable(err) => tracing::warn!(error = %err, "database unavailable"),
            Self::StorageFull(err) => tracing::error!(error = %err, "storage full"),
            Self::Problem { .. } => {}
        }
        let code = self.code();
        let problem = Problem {
            type_uri: code.type_uri(),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            detail: self.detail(),
            code,
            request_id: telemetry::current_request_id().unwrap_or_default(),
            errors: match self {
                Self::Problem { errors, .. } => errors.clone(),
                _ => Vec::new(),
            },
        };
        let mut response = HttpResponse::build(code.status());
        response.content_type(PROBLEM_JSON);
        match self {
            Self::Problem { headers, .. } => {
                for (name, value) in headers {
                    response.insert_header((name.clone(), value.clone()));
                }
            }
            Self::Unavailable(_) => {
                response.insert_header((RETRY_AFTER, UNAVAILABLE_RETRY_AFTER));
            }
            Self::StorageFull(_) => {
                response.insert_header((RETRY_AFTER, STORAGE_FULL_RETRY_AFTER));
            }
            Self::Internal(_) => {}
        }
        match serde_json::to_vec(&problem) {
            Ok(body) => response.body(body),
            Err(_) => response.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_slug() {
        for &code in ProblemCode::ALL {
            assert_eq!(ProblemCode::from_slug(&code.slug()), Some(code));
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
            assert!(code.type_uri().starts_with("/problems/"));
        }
        assert_eq!(ProblemCode::from_slug("validation_failed"), None);
    }

    #[test]
    fn validation_detail_counts_fields() {
        let err = ApiError::validation(vec![
            FieldError::new("a", "required", "is required"),
            FieldError::new("b", "required", "is required"),
        ]);
        assert_eq!(err.detail(), "2 fields are invalid");
        assert_eq!(err.code().status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn pool_errors_are_unavailable_and_others_internal() {
        let closed = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::ConnectionClosed);
        assert!(matches!(ApiError::from(closed), ApiError::Unavailable(_)));
        let other = DbErr::Custom("boom".into());
        assert!(matches!(ApiError::from(other), ApiError::Internal(_)));
    }
}
