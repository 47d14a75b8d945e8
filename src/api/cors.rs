//! CORS for browser front-ends, and its refusals as problems.

use actix_cors::Cors;
use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, ORIGIN};
use actix_web::middleware::Next;

use crate::error::{ApiError, PROBLEM_JSON, ProblemCode};

/// CORS for browser front-ends. Credentials (cookies) are never allowed: the API authenticates
/// with bearer tokens, so `*` stays safe, and is answered literally rather than by echoing the
/// caller's `Origin`. Only the methods the API has are allowed.
pub fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PATCH", "DELETE"])
        .allow_any_header()
        .expose_headers([
            "x-request-id",
            "etag",
            "location",
            "retry-after",
            "idempotent-replayed",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin().send_wildcard()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// Middleware around [`cors`]: a preflight it refuses (an origin, method or header not
/// allowed) is answered with its own short text; this answers a problem instead, with the
/// same status and that text as its detail.
pub async fn problem_for_refusal(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(ORIGIN)
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let response = next.call(req).await?.map_into_boxed_body();
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !preflight || !response.status().is_client_error() || is_problem {
        return Ok(response);
    }
    let (req, res) = response.into_parts();
    let text = to_bytes(res.into_body()).await.unwrap_or_default();
    let detail = std::str::from_utf8(&text)
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("The cross-origin request is not allowed.");
    let problem = ApiError::new(ProblemCode::CorsRejected, detail);
    Ok(ServiceResponse::new(
        req,
        actix_web::ResponseError::error_response(&problem),
    ))
}
