//! Stored responses of `POST` requests sent with an `Idempotency-Key`, per user.

use chrono::{DateTime, Duration, Utc};
use entity::idempotency_key;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::db::Db;
use crate::error::ApiError;

/// How long a key is kept.
pub const RETENTION: Duration = Duration::hours(24);
/// A key whose first request has not finished after this long was abandoned (the process
/// died); the next request with it starts over.
pub const ABANDONED_AFTER: Duration = Duration::minutes(2);

/// A response as stored for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What to do with a request carrying a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// First use: run the request, then `complete` or `abandon`.
    Started,
    /// Seen before with the same request: answer with this.
    Replay(StoredResponse),
    /// Seen before with another request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

pub async fn begin(
    db: &Db,
    owner_id: Uuid,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Begin, ApiError> {
    for _ in 0..2 {
        let claimed = idempotency_key::ActiveModel {
            owner_id: Set(owner_id),
            key: Set(key.to_owned()),
            request_hash: Set(request_hash.to_owned()),
            response_status: Set(None),
            response_headers: Set(None),
            response_body: Set(None),
            created_at: Set(now),
        }
        .insert(db.writer())
        .await;
        let err = match claimed {
            Ok(_) => return Ok(Begin::Started),
            Err(err) if super::is_unique_violation(&err) => err,
            Err(err) => return Err(err.into()),
        };
        let Some(existing) = idempotency_key::Entity::find_by_id((owner_id, key.to_owned()))
            .one(db.writer())
            .await?
        else {
            // Purged between the insert and the read: try again.
            tracing::debug!(error = %err, "idempotency key vanished; retrying");
            continue;
        };
        if existing.request_hash != request_hash {
            return Ok(Begin::Mismatch);
        }
        match existing.response_status {
            Some(status) => {
                return Ok(Begin::Replay(StoredResponse {
                    status: u16::try_from(status).unwrap_or(500),
                    headers: existing
                        .response_headers
                        .and_then(|h| serde_json::from_value(h).ok())
                        .unwrap_or_default(),
                    body: existing.response_body.unwrap_or_default(),
                }));
            }
            None if now - existing.created_at < ABANDONED_AFTER => return Ok(Begin::InProgress),
            None => abandon(db, owner_id, key).await?,
        }
    }
    Ok(Begin::InProgress)
}

/// Stores the response of the request that claimed the key.
pub async fn complete(
    db: &Db,
    owner_id: Uuid,
    key: &str,
    response: StoredResponse,
) -> Result<(), ApiError> {
    idempotency_key::ActiveModel {
        owner_id: Set(owner_id),
        key: Set(key.to_owned()),
        response_status: Set(Some(i16::try_from(response.status).unwrap_or(500))),
        response_headers: Set(Some(
            serde_json::to_value(&response.headers).unwrap_or_default(),
        )),
        response_body: Set(Some(response.body)),
        ..Default::default()
    }
    .update(db.writer())
    .await?;
    Ok(())
}

/// Releases a key whose request failed, so that a retry runs it again.
pub async fn abandon(db: &Db, owner_id: Uuid, key: &str) -> Result<(), ApiError> {
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::OwnerId.eq(owner_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .filter(idempotency_key::Column::ResponseStatus.is_null())
        .exec(db.writer())
        .await?;
    Ok(())
}

/// Deletes keys older than the retention period; run periodically, not per request.
pub async fn purge_expired(db: &Db, now: DateTime<Utc>) -> Result<u64, ApiError> {
    let result = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(now - RETENTION))
        .exec(db.writer())
        .await?;
    Ok(result.rows_affected)
}
