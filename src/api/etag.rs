//! Conditional requests (RFC 9110): `ETag` on every single-object response, `If-None-Match`
//! answered 304, `If-Match` passed to the services, which check it atomically with the write.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::domain::version::Precondition;
use crate::error::{ApiError, ProblemCode};

/// The conditional headers of a request.
#[derive(Debug, Default)]
pub struct Conditions {
    pub if_match: Precondition,
    pub if_none_match: Precondition,
}

impl FromRequest for Conditions {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parse = |name| match req.headers().get(&name) {
            None => Ok(Precondition::None),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|v| Precondition::parse(Some(v)))
                .ok_or_else(|| {
                    ApiError::new(
                        ProblemCode::InvalidCondition,
                        format!("{name} must be * or a list of entity tags such as \"a1b2\""),
                    )
                }),
        };
        ready(parse(IF_MATCH).and_then(|if_match| {
            Ok(Self {
                if_match,
                if_none_match: parse(IF_NONE_MATCH)?,
            })
        }))
    }
}

/// 200 with the body and its `ETag`, or 304 when `If-None-Match` already names that version.
pub fn conditional_ok<T: Serialize>(conditions: &Conditions, etag: &str, body: &T) -> HttpResponse {
    let unchanged = conditions.if_none_match.names_weakly(etag);
    if unchanged {
        return HttpResponse::NotModified()
            .insert_header((ETAG, etag))
            .finish();
    }
    with_etag(StatusCode::OK, etag, body)
}

/// A response with the body and its `ETag`.
pub fn with_etag<T: Serialize>(status: StatusCode, etag: &str, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((ETAG, etag))
        .json(body)
}

/// 201 with `Location`, the body and its `ETag`.
pub fn created<T: Serialize>(location: &str, etag: &str, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((LOCATION, location))
        .insert_header((ETAG, etag))
        .json(body)
}
