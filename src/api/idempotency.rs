//! `Idempotency-Key` on `POST`: the first request with a key runs and its response is stored;
//! the same key with the same request replays it (`Idempotent-Replayed: true`), with another
//! request is 422, and while the first still runs is 409. Keys are per user; anonymous
//! requests (registration, login) are not deduplicated. 5xx responses are not stored, so a
//! retry after a failure runs again.
//!
//! A handler whose write creates something takes the [`Claim`] (`Option<ReqData<Claim>>`) and
//! stores its response in the write's own transaction (`services::idempotency::Completion`):
//! then the middleware stores nothing after. A response that carries a secret (marked with
//! [`CarriesSecret`]) is never stored: a retry with its key is answered 409
//! `secret_not_replayed`, and does not run again.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::{HttpMessage, HttpResponse};
use sha2::{Digest, Sha256};

use crate::api::bearer;
use crate::api::json::{BodyLimit, read_body};
use crate::api::state::AppState;
use crate::auth::Scope;
use crate::clock;
use crate::error::{ApiError, ProblemCode};
use crate::services::idempotency::{self, Begin, Claim, StoredResponse};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// What is stored instead of a response that carried a secret: a header of this name alone.
const SECRET_NOT_KEPT: &str = "secret-not-kept";
/// Response headers kept for a replay.
const KEPT_HEADERS: &[&str] = &["content-type", "location", "etag"];

/// 1–255 printable ASCII characters, not starting or ending with a space (HTTP would strip
/// it): the pattern `openapi::IdempotencyKeyHeader` publishes.
pub fn is_valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len())
        && key.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !key.starts_with(' ')
        && !key.ends_with(' ')
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = match req.headers().get(&IDEMPOTENCY_KEY) {
        Some(value) if req.method() == Method::POST => value.to_str().ok().map(str::to_owned),
        _ => {
            return pass(req, next).await;
        }
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return pass(req, next).await;
    };
    let owner = match bearer::authenticate_request(&state, req.request()).await {
        Ok(Some(owner)) if owner.scopes.contains(&Scope::Write) => owner,
        // No valid credentials, or no right to write: the handler answers 401 or 403, and the
        // key stays free for a request that may succeed.
        Ok(_) => {
            return pass(req, next).await;
        }
        Err(err) => return Ok(req.error_response(err)),
    };
    let Some(key) = key.filter(|k| is_valid_key(k)) else {
        let problem = ApiError::new(
            ProblemCode::InvalidIdempotencyKey,
            "Idempotency-Key must be 1–255 printable ASCII characters.",
        );
        return Ok(req.error_response(problem));
    };

    let request_hash = match hash_of(&mut req).await {
        Ok(hash) => hash,
        Err(problem) => return Ok(req.error_response(problem)),
    };

    let user_id = owner.user_id;
    let begun = begin_or_wait(&state, user_id, &key, &request_hash).await;
    match begun {
        Err(err) => Ok(req.error_response(err)),
        Ok(Begin::Mismatch) => Ok(req.error_response(ApiError::new(
            ProblemCode::IdempotencyKeyReused,
            "This Idempotency-Key was used with a different request.",
        ))),
        Ok(Begin::InProgress) => Ok(req.error_response(ApiError::new(
            ProblemCode::IdempotencyKeyInUse,
            "A request with this Idempotency-Key is still running; retry later.",
        ))),
        Ok(Begin::Replay(stored)) if stored.headers.iter().any(|(n, _)| n == SECRET_NOT_KEPT) => {
            Ok(req.error_response(ApiError::new(
                ProblemCode::SecretNotReplayed,
                "The response to this Idempotency-Key carried a secret, which is not kept; the \
                 request was done once. Send a new request with a new key for another.",
            )))
        }
        Ok(Begin::Replay(stored)) => {
            let (http_req, _) = req.into_parts();
            Ok(ServiceResponse::new(http_req, replay(stored)))
        }
        Ok(Begin::Started(claim)) => {
            req.extensions_mut().insert(claim.clone());
            match next.call(req).await {
                Ok(response) => Ok(finish(&state, &claim, response).await),
                Err(err) => {
                    idempotency::abandon(&state.db, &claim).await.ok();
                    Err(err)
                }
            }
        }
    }
}

/// Runs the request as if it had no `Idempotency-Key`.
async fn pass(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// The hash of `req` ([`request_hash`]): its body is read within its limits and put back for
/// the handler.
async fn hash_of(req: &mut ServiceRequest) -> Result<String, ApiError> {
    let limits = BodyLimit::of(req.request());
    let body = read_body(limits, req.take_payload()).await?;
    let hash = request_hash(
        req.method().as_str(),
        req.uri().path_and_query().map_or("", |p| p.as_str()),
        &body,
    );
    req.set_payload(Payload::from(body));
    Ok(hash)
}

/// Completes `claim` with the handler's `response` and passes it on. A success the write
/// stored in its own transaction is passed on as it is; a response carrying a secret is
/// recorded as a marker only (a retry gets 409); a server error releases the key, so that a
/// retry runs again; anything else is stored for replay.
async fn finish<B: MessageBody + 'static>(
    state: &AppState,
    claim: &Claim,
    response: ServiceResponse<B>,
) -> ServiceResponse<BoxBody> {
    let status = response.status();
    if status.is_success() && claim.stored_with_write() {
        return response.map_into_boxed_body();
    }
    let carries_secret = response.response().extensions().contains::<CarriesSecret>();
    let (http_req, http_res) = response.into_parts();
    let (head, body) = http_res.into_parts();
    let Ok(bytes) = to_bytes(body).await else {
        idempotency::abandon(&state.db, claim).await.ok();
        let failed = ApiError::Internal(anyhow::anyhow!("response body failed"));
        return ServiceResponse::new(http_req, actix_web::ResponseError::error_response(&failed));
    };
    let stored = if status.is_server_error() {
        idempotency::abandon(&state.db, claim).await
    } else if carries_secret {
        let marker = StoredResponse {
            status: StatusCode::CONFLICT.as_u16(),
            headers: vec![(SECRET_NOT_KEPT.to_owned(), "true".to_owned())],
            body: Vec::new(),
        };
        idempotency::complete(&state.db, claim, marker).await
    } else {
        let response = StoredResponse {
            status: status.as_u16(),
            headers: kept_headers(head.headers()),
            body: bytes.to_vec(),
        };
        idempotency::complete(&state.db, claim, response).await
    };
    if let Err(err) = stored {
        tracing::error!(error = ?err, "could not record the idempotency key's outcome");
    }
    ServiceResponse::new(http_req, head.set_body(BoxBody::new(bytes)))
}

/// Marks a response that carries a secret (a token): it is never stored for replay.
#[derive(Clone, Copy, Debug)]
pub struct CarriesSecret;

/// `response`, marked as carrying a secret: never stored for an idempotent replay, and never
/// cached (`Cache-Control: no-store`, RFC 6749 section 5.1).
pub fn carrying_secret(mut response: HttpResponse) -> HttpResponse {
    response.extensions_mut().insert(CarriesSecret);
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

/// The headers of `headers` kept for a replay.
fn kept_headers(headers: &actix_web::http::header::HeaderMap) -> Vec<(String, String)> {
    KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), value.to_owned()))
        })
        .collect()
}

/// A rendered response as it is stored for replay. Its body must be in memory, as every
/// response a handler builds with `.json(…)` is.
pub fn stored(response: HttpResponse) -> StoredResponse {
    let status = response.status().as_u16();
    let headers = kept_headers(response.headers());
    let body = response
        .into_body()
        .try_into_bytes()
        .map(|bytes| bytes.to_vec())
        .unwrap_or_default();
    StoredResponse {
        status,
        headers,
        body,
    }
}

/// The claim of the request's key as a completion rendered by `render`, if it came with one.
pub fn completion<T>(
    claim: Option<web::ReqData<Claim>>,
    render: impl Fn(&T) -> Result<HttpResponse, ApiError> + Send + Sync + 'static,
) -> Option<idempotency::Completion<T>> {
    claim.map(|claim| {
        claim
            .into_inner()
            .completing(move |value: &T| render(value).map(stored))
    })
}

/// What identifies a request under one key: SHA-256 of its method, path and query, and body.
pub fn request_hash(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method);
    hasher.update(b" ");
    hasher.update(path_and_query);
    hasher.update(b"\n");
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Claims the key, or, while a request with the same key and body is still running (here or
/// on another instance), waits for its response to replay it — polling with a growing pause,
/// up to `idempotency_wait`. Only a first request still running after that is 409. So clients
/// retrying in parallel all get the one response.
async fn begin_or_wait(
    state: &AppState,
    user_id: uuid::Uuid,
    key: &str,
    request_hash: &str,
) -> Result<Begin, ApiError> {
    let deadline = tokio::time::Instant::now() + state.idempotency_wait;
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        let begun = idempotency::begin(&state.db, user_id, key, request_hash, clock::now()).await?;
        let now = tokio::time::Instant::now();
        if !matches!(begun, Begin::InProgress) || now >= deadline {
            return Ok(begun);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(100));
    }
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            response.insert_header((name, value));
        }
    }
    response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    response.body(stored.body)
}

#[cfg(test)]
mod tests {
    use super::is_valid_key;

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        assert!(is_valid_key("a"));
        assert!(is_valid_key(&"k".repeat(255)));
        assert!(is_valid_key("order 42 / retry"));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key(&"k".repeat(256)));
        assert!(!is_valid_key("tab\there"));
        assert!(!is_valid_key("é"));
        assert!(!is_valid_key(" padded") && !is_valid_key("padded "));
    }
}
