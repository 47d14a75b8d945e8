//! The halves of the record handlers that offers, asks and conversations share. Each handler
//! keeps its own route and OpenAPI description, and calls one of these for what it does.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::bearer::Auth;
use crate::api::etag::{Conditions, conditional_ok, with_etag};
use crate::api::state::AppState;
use crate::error::ApiError;
use crate::services::records::{self, Record};

/// A record as the API shows it.
pub trait Shown: Record + Clone {
    /// Its representation.
    type Response: Serialize + TryFrom<Self, Error = ApiError>;

    /// The path of its collection (`/v1/asks`): a record lives at `{COLLECTION}/{id}`.
    const COLLECTION: &'static str;

    /// When it was made.
    fn created_at(&self) -> DateTime<Utc>;
}

/// The first part of a record's representation: its id. The fields follow, then [`Stamps`];
/// each is flattened into the one object (see `openapi::merge_flattened_parts`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Id {
    pub id: Uuid,
}

/// The last part of a record's representation: when it was made and last written.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stamps {
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The id and the timestamps of `record`, the parts of its representation around its fields.
pub fn parts<R: Shown>(record: &R) -> (Id, Stamps) {
    let stamps = Stamps {
        created_at: record.created_at(),
        updated_at: record.version(),
    };
    (Id { id: record.id() }, stamps)
}

/// 201 with the new record, its `Location` and its `ETag`.
pub fn created<R: Shown>(record: &R) -> Result<HttpResponse, ApiError> {
    let location = format!("{}/{}", R::COLLECTION, record.id());
    let body = R::Response::try_from(record.clone())?;
    Ok(crate::api::etag::created(&location, &record.etag(), &body))
}

/// The caller's record `id`; 304 when `If-None-Match` names its version.
pub async fn get<R: Shown>(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    conditions: &Conditions,
) -> Result<HttpResponse, ApiError> {
    let record = records::find::<R>(&state.db, auth.user_id(), id).await?;
    let etag = record.etag();
    Ok(conditional_ok(
        conditions,
        &etag,
        &R::Response::try_from(record)?,
    ))
}

/// The caller's record `id` changed by `change` at `now` under `If-Match`: 200 with it.
pub async fn update<R: Shown>(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    conditions: &Conditions,
    change: impl Fn(R::Fields) -> Result<R::Fields, ApiError> + Send + Sync + 'static,
    now: DateTime<Utc>,
) -> Result<HttpResponse, ApiError> {
    let precondition = &conditions.if_match;
    let record =
        records::update::<R>(&state.db, auth.user_id(), id, precondition, change, now).await?;
    let etag = record.etag();
    Ok(with_etag(
        StatusCode::OK,
        &etag,
        &R::Response::try_from(record)?,
    ))
}

/// The caller's record `id` deleted under `If-Match`: 204.
pub async fn delete<R: Record>(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    conditions: &Conditions,
) -> Result<HttpResponse, ApiError> {
    let (db, precondition, now) = (&state.db, &conditions.if_match, state.clock.now());
    records::delete::<R>(db, auth.user_id(), id, precondition, now).await?;
    Ok(HttpResponse::NoContent().finish())
}
