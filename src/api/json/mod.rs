//! The JSON body extractor every endpoint uses: content type, size limit and parsing errors
//! all answered as problems, with the path of the offending field.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::mime;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ProblemCode};

mod parse;

pub use self::parse::parse;

/// What a request body may be: how large (`max_body_bytes`), and how long the client may take
/// to send it (`body_timeout_ms`); installed as app data at start-up.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit {
    pub max_bytes: usize,
    pub timeout: Duration,
}

impl Default for BodyLimit {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

impl BodyLimit {
    /// The limits installed in the application, or the defaults.
    pub fn of(req: &HttpRequest) -> Self {
        req.app_data::<web::Data<BodyLimit>>()
            .map_or_else(Self::default, |l| *l.get_ref())
    }
}

/// Reads a whole request body within `limits`: 413 past the size, 408 past the time (a client
/// that announces a body and does not send it holds a connection no longer), 400 when the
/// transfer itself is malformed.
pub async fn read_body(limits: BodyLimit, mut payload: Payload) -> Result<Bytes, ApiError> {
    let read = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(
                    ProblemCode::MalformedJson,
                    format!("cannot read the body: {e}"),
                )
            })?;
            if body.len() + chunk.len() > limits.max_bytes {
                return Err(too_large(limits.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(limits.timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                ProblemCode::RequestTimeout,
                format!(
                    "the body did not arrive within {} ms",
                    limits.timeout.as_millis()
                ),
            ))
        })
}

/// A JSON request body.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = BodyLimit::of(req);
        let checked =
            check_content_type(req).and_then(|()| check_declared_length(req, limits.max_bytes));
        let payload = payload.take();
        Box::pin(async move {
            checked?;
            let body = read_body(limits, payload).await?;
            parse(&body).map(Json)
        })
    }
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let is_json = req.mime_type().ok().flatten().is_some_and(|mime| {
        mime.type_() == mime::APPLICATION
            && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
    });
    if is_json {
        Ok(())
    } else {
        let given = req.content_type();
        let given = if given.is_empty() { "none" } else { given };
        Err(ApiError::new(
            ProblemCode::UnsupportedMediaType,
            format!("expected Content-Type: application/json, got {given}"),
        ))
    }
}

fn check_declared_length(req: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(length) if length > limit => Err(too_large(limit)),
        _ => Ok(()),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ProblemCode::PayloadTooLarge,
        format!("the body is larger than {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::test as actix_test;
    use actix_web::{App, HttpResponse, web};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        name: String,
    }

    async fn echo(body: Json<Body>) -> HttpResponse {
        HttpResponse::Ok().body(body.0.name)
    }

    #[actix_web::test]
    async fn extractor_checks_media_type_and_size() {
        let app = actix_test::init_service(
            App::new()
                .app_data(web::Data::new(BodyLimit {
                    max_bytes: 2048,
                    ..BodyLimit::default()
                }))
                .route("/", web::post().to(echo)),
        )
        .await;

        let ok = actix_test::TestRequest::post()
            .uri("/")
            .insert_header(("content-type", "application/json; charset=utf-8"))
            .set_payload(r#"{"name": "Ada"}"#)
            .send_request(&app)
            .await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(actix_test::read_body(ok).await, "Ada");

        let text = actix_test::TestRequest::post()
            .uri("/")
            .insert_header(("content-type", "text/plain"))
            .set_payload(r#"{"name": "Ada"}"#)
            .send_request(&app)
            .await;
        assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let big = format!(r#"{{"name": "{}"}}"#, "a".repeat(4096));
        let big = actix_test::TestRequest::post()
            .uri("/")
            .insert_header(("content-type", "application/json"))
            .set_payload(big)
            .send_request(&app)
            .await;
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            big.headers().get("content-type").unwrap(),
            crate::error::PROBLEM_JSON
        );
    }
}
