//! Stored responses of `POST` requests sent with an `Idempotency-Key`, per user.
//!
//! A request claims its key with a token of its own. A write that creates something stores
//! its response under the key in its own transaction ([`Completion`]), so the key is completed
//! exactly when the write commits: a process killed in between leaves either both or neither,
//! and a retry either replays the response or runs the write once. Other requests store their
//! response after it is rendered ([`complete`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use entity::idempotency_key;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Set,
};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{ApiError, ProblemCode};

/// How long a key is kept.
pub const RETENTION: Duration = Duration::hours(24);
/// A key whose first request has not finished after this long was abandoned (the process
/// died); the next request with it starts over. On SQLite, where one process owns the file,
/// the claims left by a previous process are released at start-up instead.
pub const ABANDONED_AFTER: Duration = Duration::minutes(2);

/// A response as stored for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A key claimed by the request being served.
#[derive(Clone, Debug)]
pub struct Claim {
    owner_id: Uuid,
    key: String,
    token: Uuid,
    /// Set once a write stored the response in its transaction.
    stored: Arc<AtomicBool>,
}

impl Claim {
    /// True once a write has stored the response in its transaction: if that request then
    /// answers 2xx, the write and its stored response have committed together.
    pub fn stored_with_write(&self) -> bool {
        self.stored.load(Ordering::Relaxed)
    }

    /// Completes the claim with the response `render` makes of a write's result, in the
    /// write's transaction.
    pub fn completing<T>(
        self,
        render: impl Fn(&T) -> Result<StoredResponse, ApiError> + Send + Sync + 'static,
    ) -> Completion<T> {
        Completion {
            claim: self,
            render: Arc::new(render),
        }
    }
}

/// Makes the response to store of a write's result; failing fails the write.
type Render<T> = dyn Fn(&T) -> Result<StoredResponse, ApiError> + Send + Sync;

/// The response to store under a claimed key in the transaction of the write it reports.
pub struct Completion<T> {
    claim: Claim,
    render: Arc<Render<T>>,
}

impl<T> Clone for Completion<T> {
    fn clone(&self) -> Self {
        Self {
            claim: self.claim.clone(),
            render: self.render.clone(),
        }
    }
}

impl<T> Completion<T> {
    /// Stores the response to `value` in `txn`. Fails (409, and the write rolls back) when the
    /// claim is no longer this request's: it was abandoned and another request took it over.
    pub async fn store(&self, txn: &impl ConnectionTrait, value: &T) -> Result<(), ApiError> {
        // A response that cannot be rendered fails the write with it.
        let stored = write_response(txn, &self.claim, (self.render)(value)?).await?;
        if !stored {
            return Err(taken_over());
        }
        self.claim.stored.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// Stores the response to `value` when the request came with a key.
pub async fn store<T>(
    completion: Option<&Completion<T>>,
    txn: &impl ConnectionTrait,
    value: &T,
) -> Result<(), ApiError> {
    match completion {
        Some(completion) => completion.store(txn, value).await,
        None => Ok(()),
    }
}

fn taken_over() -> ApiError {
    ApiError::new(
        ProblemCode::IdempotencyKeyInUse,
        "Another request took this Idempotency-Key over; retry to get its response.",
    )
}

/// What to do with a request carrying a key.
#[derive(Debug)]
pub enum Begin {
    /// First use: run the request, then `complete` or `abandon` the claim, unless its write
    /// stored the response itself.
    Started(Claim),
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
    let (key, request_hash) = (Arc::new(key.to_owned()), Arc::new(request_hash.to_owned()));
    db.write(move |txn| {
        let (key, request_hash) = (key.clone(), request_hash.clone());
        Box::pin(async move { claim_or_find(txn, owner_id, &key, &request_hash, now).await })
    })
    .await
}

/// Claims `key` for a new request, or tells what the request that holds it came to. A claim
/// abandoned past `ABANDONED_AFTER` is released and claimed anew.
async fn claim_or_find(
    txn: &impl ConnectionTrait,
    owner_id: Uuid,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Begin, ApiError> {
    use idempotency_key::Column as K;
    for _ in 0..2 {
        let token = Uuid::now_v7();
        let claimed = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            owner_id: Set(owner_id),
            key: Set(key.to_owned()),
            request_hash: Set(request_hash.to_owned()),
            response_status: Set(None),
            response_headers: Set(None),
            response_body: Set(None),
            created_at: Set(now),
            claim: Set(Some(token)),
        })
        .on_conflict(
            OnConflict::columns([K::OwnerId, K::Key])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        if claimed == 1 {
            return Ok(Begin::Started(Claim {
                owner_id,
                key: key.to_owned(),
                token,
                stored: Arc::new(AtomicBool::new(false)),
            }));
        }
        let Some(existing) = idempotency_key::Entity::find_by_id((owner_id, key.to_owned()))
            .one(txn)
            .await?
        else {
            // Purged between the insert and the read (PostgreSQL): try again.
            tracing::debug!("idempotency key vanished; retrying");
            continue;
        };
        if existing.request_hash != request_hash {
            return Ok(Begin::Mismatch);
        }
        match existing.response_status {
            Some(status) => {
                let status = status.to_string();
                return Ok(Begin::Replay(StoredResponse {
                    status: super::decode("idempotency_key.response_status", &status, |s| {
                        s.parse::<u16>().ok().filter(|n| (100..600).contains(n))
                    })?,
                    headers: match &existing.response_headers {
                        Some(h) => super::decode_json("idempotency_key.response_headers", h)?,
                        None => Vec::new(),
                    },
                    body: existing.response_body.unwrap_or_default(),
                }));
            }
            None if now - existing.created_at < ABANDONED_AFTER => return Ok(Begin::InProgress),
            None => release(txn, owner_id, key, existing.claim).await?,
        }
    }
    Ok(Begin::InProgress)
}

/// Stores `response` under the claim unless it was taken over or completed; true if stored.
async fn write_response(
    conn: &impl ConnectionTrait,
    claim: &Claim,
    response: StoredResponse,
) -> Result<bool, ApiError> {
    use idempotency_key::Column as K;
    let updated = idempotency_key::Entity::update_many()
        .col_expr(
            K::ResponseStatus,
            Expr::value(i16::try_from(response.status).unwrap_or(500)),
        )
        .col_expr(
            K::ResponseHeaders,
            Expr::value(serde_json::to_value(&response.headers).unwrap_or_default()),
        )
        .col_expr(K::ResponseBody, Expr::value(response.body))
        .filter(K::OwnerId.eq(claim.owner_id))
        .filter(K::Key.eq(claim.key.as_str()))
        .filter(K::Claim.eq(claim.token))
        .filter(K::ResponseStatus.is_null())
        .into_query()
        .returning(Query::returning().column(K::Key))
        .to_owned();
    // Its rows, not its count, say whether it stored: a query, on SQLite sent with the
    // statements the write deferred (see `db::Txn`) instead of after them.
    Ok(conn.query_all(&updated).await?.len() == 1)
}

/// Stores the response of the request that claimed the key, after it was rendered.
pub async fn complete(db: &Db, claim: &Claim, response: StoredResponse) -> Result<(), ApiError> {
    let (claim, response) = (claim.clone(), Arc::new(response));
    let stored = db
        .write(move |txn| {
            let (claim, response) = (claim.clone(), response.clone());
            Box::pin(async move { write_response(txn, &claim, response.as_ref().clone()).await })
        })
        .await?;
    if !stored {
        tracing::warn!("an idempotency key was taken over before its response was stored");
    }
    Ok(())
}

/// Releases a key whose request failed, so that a retry runs it again.
pub async fn abandon(db: &Db, claim: &Claim) -> Result<(), ApiError> {
    let claim = claim.clone();
    db.write(move |txn| {
        let claim = claim.clone();
        Box::pin(async move { release(txn, claim.owner_id, &claim.key, Some(claim.token)).await })
    })
    .await
}

/// Deletes the pending claim `token` of `key`.
async fn release(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    key: &str,
    token: Option<Uuid>,
) -> Result<(), ApiError> {
    use idempotency_key::Column as K;
    let mut delete = idempotency_key::Entity::delete_many()
        .filter(K::OwnerId.eq(owner_id))
        .filter(K::Key.eq(key))
        .filter(K::ResponseStatus.is_null());
    delete = match token {
        Some(token) => delete.filter(K::Claim.eq(token)),
        None => delete.filter(K::Claim.is_null()),
    };
    delete.exec(conn).await?;
    Ok(())
}

/// Releases every pending claim: at start-up on SQLite, where they can only be left by a
/// process that died. A write that committed stored its response with it, so a claim still
/// pending had nothing committed, and its retry may run.
pub async fn release_all_pending(db: &Db) -> Result<u64, ApiError> {
    db.write(|txn| {
        Box::pin(async move {
            let result = idempotency_key::Entity::delete_many()
                .filter(idempotency_key::Column::ResponseStatus.is_null())
                .exec(txn)
                .await?;
            Ok(result.rows_affected)
        })
    })
    .await
}

/// Deletes keys older than the retention period; run periodically, not per request. Writes
/// only when there is something to delete: most runs are one indexed read.
pub async fn purge_expired(db: &Db, now: DateTime<Utc>) -> Result<u64, ApiError> {
    let expired = idempotency_key::Entity::find()
        .select_only()
        .column(idempotency_key::Column::CreatedAt)
        .filter(idempotency_key::Column::CreatedAt.lt(now - RETENTION))
        .into_tuple::<DateTime<Utc>>()
        .one(db.reader())
        .await?;
    if expired.is_none() {
        return Ok(0);
    }
    db.write(move |txn| {
        Box::pin(async move {
            let result = idempotency_key::Entity::delete_many()
                .filter(idempotency_key::Column::CreatedAt.lt(now - RETENTION))
                .exec(txn)
                .await?;
            Ok(result.rows_affected)
        })
    })
    .await
}
