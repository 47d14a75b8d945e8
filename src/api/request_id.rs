//! `X-Request-Id`: taken from the client when it is a sane token, generated otherwise, echoed
//! on every response and visible to problem bodies and the logs (see `telemetry::RequestId`).

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::telemetry::{self, RequestId};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

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
    let mut response = telemetry::in_request(id.clone(), next.call(req))
        .await?
        .map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}
