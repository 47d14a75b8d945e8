//! Headers every response gets, and `HEAD` wherever `GET` is served.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use actix_web::middleware::Next;

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
