//! `X-Request-Id`: taken from the client when it is a sane token, generated otherwise, echoed
//! on every response and visible to problem bodies through a task-local.

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being served, stored in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts 1–64 characters of `[A-Za-z0-9._-]`.
    pub fn parse(candidate: &str) -> Option<Self> {
        let sane = (1..=64).contains(&candidate.len())
            && candidate
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        sane.then(|| Self(candidate.to_owned()))
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.0.clone()).ok()
}

/// Middleware; it must wrap the tracing middleware so the root span can read the id.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());
    // Errors are rendered by the handlers inside this scope, so problem bodies see the id.
    let mut response = CURRENT
        .scope(id.clone(), next.call(req))
        .await?
        .map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn parse_accepts_sane_tokens_only() {
        assert!(RequestId::parse("abc-DEF_123.x").is_some());
        assert!(RequestId::parse(&"a".repeat(64)).is_some());
        assert!(RequestId::parse(&"a".repeat(65)).is_none());
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("semi;colon").is_none());
    }

    #[test]
    fn generated_ids_are_sane_and_distinct() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        assert!(RequestId::parse(a.as_str()).is_some());
    }
}
