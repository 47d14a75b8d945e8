//! The request head's limits, headers every response gets, and `HEAD` wherever `GET` is
//! served.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{RequestHead, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::{ApiError, ProblemCode};

/// The most header fields a request may have. actix-http refuses more than 96 itself, before
/// any application code runs and without a body; below that, the refusal is a problem.
pub const MAX_HEADER_FIELDS: usize = 64;

/// The largest request head accepted (`max_header_bytes`): its request line and header
/// fields, as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimit {
    pub max_bytes: usize,
}

impl Default for HeadLimit {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024,
        }
    }
}

/// The size of a request head as the client sent it over HTTP/1.1: the request line
/// (`GET /path HTTP/1.1` and its line end) and each header field (`name: value` and its line
/// end).
fn head_bytes(head: &RequestHead) -> usize {
    const LINE_END: usize = 2;
    let target = head.uri.path_and_query().map_or(1, |p| p.as_str().len());
    let request_line = head.method.as_str().len() + 1 + target + " HTTP/1.1".len() + LINE_END;
    let fields: usize = head
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + ": ".len() + value.len() + LINE_END)
        .sum();
    request_line + fields
}

/// 431 `headers_too_large` for a head over `limit` or with more than [`MAX_HEADER_FIELDS`]
/// fields; `None` for a head within both.
fn refusal(head: &RequestHead, limit: HeadLimit) -> Option<ApiError> {
    let fields = head.headers().len();
    if fields > MAX_HEADER_FIELDS {
        return Some(ApiError::new(
            ProblemCode::HeadersTooLarge,
            format!(
                "The request has {fields} header fields; at most {MAX_HEADER_FIELDS} are accepted."
            ),
        ));
    }
    let bytes = head_bytes(head);
    (bytes > limit.max_bytes).then(|| {
        ApiError::new(
            ProblemCode::HeadersTooLarge,
            format!(
                "The request line and header fields take {bytes} bytes; at most {} are accepted.",
                limit.max_bytes
            ),
        )
    })
}

/// Middleware: 431 `headers_too_large` for a request head over its limits ([`HeadLimit`] and
/// [`MAX_HEADER_FIELDS`]), before anything reads it.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<HeadLimit>>()
        .map_or_else(HeadLimit::default, |l| *l.get_ref());
    if let Some(problem) = refusal(req.head(), limit) {
        let response = actix_web::ResponseError::error_response(&problem);
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Middleware: serves `HEAD` as `GET` (RFC 9110, section 9.3.2); the HTTP layer, which knows
/// the request was `HEAD`, sends the headers without the body. `X-Content-Type-Options:
/// nosniff` on every response; `Cache-Control: no-store` on every response under `/v1/`, all
/// of which are a user's data or credentials (RFC 6749, section 5.1), unless the handler chose
/// otherwise.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let private = req.path().starts_with("/v1/");
    let mut response = next.call(req).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if private && !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}
