//! The write flows that offers, asks and conversations share: read, patch under `If-Match` and
//! delete under `If-Match`, each in one write transaction. A record type says what is its own
//! (its checks, the columns and counts a write keeps) through [`Record`]; the order of the
//! steps, and so what a request answers when several of them would fail, lives here once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::owner::Owner;
use super::{Versioned, ledger};
use crate::db::{Db, Txn};
use crate::domain::version::{Precondition, etag, next_updated_at};
use crate::error::ApiError;

/// A user's record as the write flows read it: its stored row with what belongs to it.
pub trait Record: Sized + Send + Sync + 'static {
    /// Everything a client can write about the record, validated.
    type Fields: Clone + Send + Sync + 'static;
    /// The table of its row.
    type Entity: EntityTrait;

    /// The columns that version its row.
    const VERSION: Versioned<<Self::Entity as EntityTrait>::Column>;

    fn id(&self) -> Uuid;

    /// When it was last written: its version.
    fn version(&self) -> DateTime<Utc>;

    /// Its strong entity tag.
    fn etag(&self) -> String {
        etag(self.id(), self.version())
    }

    /// Its fields; an internal error when a column holds a value the API never writes.
    fn fields(&self) -> Result<Self::Fields, ApiError>;

    /// The owner's record `id` as `conn` sees it; 404 when it is not theirs.
    fn find_in<C: ConnectionTrait + Sync>(
        conn: &C,
        owner_id: Uuid,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Self, ApiError>>;

    /// The owner's record `id` for a write, read in the write's first statement with the
    /// owner's zone, which locks the owner's row on PostgreSQL first (see [`Owner::find`]);
    /// 404 when it is not theirs.
    fn find_for_write<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        id: Uuid,
    ) -> BoxFuture<'a, Result<Self, ApiError>>;

    /// Refuses `fields` where they name what is not the owner's or break a rule between rows.
    fn check<'a>(
        txn: &'a Txn<'a>,
        owner_id: Uuid,
        current: &'a Self,
        fields: &'a Self::Fields,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Writes `change.fields` over `change.current`, making its version `change.version`, and
    /// keeps everything derived from it (due dates, the ledger, the activity counts); returns
    /// the record as written. Its first write is the record's conditional update
    /// ([`Rewrite::update`]): a record found moved there has had nothing written, and
    /// [`update`] reads it again and calls this once more.
    fn rewrite<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        change: Rewrite<'a, Self>,
    ) -> BoxFuture<'a, Result<Self, ApiError>>;

    /// Keeps everything derived from `current` once its row is deleted.
    fn forget<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        current: &'a Self,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
}

/// One update of a record, as [`Record::rewrite`] writes it.
pub struct Rewrite<'a, R: Record> {
    /// The record as it was read in the write's transaction.
    pub current: &'a R,
    /// Its fields before the change.
    pub before: &'a R::Fields,
    /// Its fields after the change, checked.
    pub fields: &'a R::Fields,
    /// Its new version, strictly after the current one.
    pub version: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

impl<R: Record> Rewrite<'_, R> {
    /// The update of its row to `changes` (with the new version), if the row is still at the
    /// version read; [`ApiError::row_moved`] when another write got there first. Returns the
    /// row as written, with the owner's zone read in the same statement when `zone` and the
    /// transaction has not read it yet (see [`Owner::write_returning`]).
    pub async fn update<A>(
        &self,
        txn: &Txn<'_>,
        owner: &mut Owner,
        changes: A,
        zone: bool,
    ) -> Result<<R::Entity as EntityTrait>::Model, ApiError>
    where
        A: sea_orm::ActiveModelTrait<Entity = R::Entity> + Send,
    {
        let mut changes = changes;
        changes.set(R::VERSION.updated_at, self.version.into());
        let current = (self.current.id(), self.current.version());
        R::VERSION
            .update_returning(txn, owner, changes, current, zone)
            .await
    }

    /// [`Rewrite::update`] of an offer's or an ask's row, counted by `counting` `before` and
    /// `after` the change, then its counts moved (see [`ledger::record_moved`]); the owner's
    /// zone is read in the update when a count moves.
    pub async fn update_counted<A>(
        &self,
        txn: &Txn<'_>,
        owner: &mut Owner,
        changes: A,
        counting: ledger::Counting,
        (before, after): (ledger::Counted, ledger::Counted),
    ) -> Result<<R::Entity as EntityTrait>::Model, ApiError>
    where
        A: sea_orm::ActiveModelTrait<Entity = R::Entity> + Send,
    {
        let (before, after) = (Some(before), Some(after));
        let moves = ledger::Counted::moves(before, after);
        let written = self.update(txn, owner, changes, moves).await?;
        ledger::record_moved(txn, owner, counting, before, after, self.now).await?;
        Ok(written)
    }
}

/// The owner's record `id`; 404 when it is not theirs.
pub async fn find<R: Record>(db: &Db, owner_id: Uuid, id: Uuid) -> Result<R, ApiError> {
    R::find_in(db.reader(), owner_id, id).await
}

/// Applies `change` to the owner's record `id` if `precondition` allows its current version,
/// and returns it as written.
///
/// `change` may run more than once, each time on the record as it then stands. The
/// precondition is checked after the change and its checks: a request that fails for another
/// reason answers that reason, whatever its `If-Match` (RFC 9110, section 13.2.1).
///
/// The record is read with the owner's lock ([`Record::find_for_write`]). When that lock had
/// to wait for another write of the owner, the read saw the record as it was before the wait,
/// and the conditional update finds it moved if that write changed it: it is read again and
/// the change applied once more in the same transaction, where the lock now held keeps every
/// other write of the owner out. (Should it still find the record moved, `Db::write` runs the
/// whole write again.)
pub async fn update<R: Record>(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
    precondition: &Precondition,
    change: impl Fn(R::Fields) -> Result<R::Fields, ApiError> + Send + Sync + 'static,
    now: DateTime<Utc>,
) -> Result<R, ApiError> {
    let (change, precondition) = (Arc::new(change), precondition.clone());
    db.write(move |txn| {
        let (change, precondition) = (change.clone(), precondition.clone());
        Box::pin(async move {
            let mut owner = Owner::new(owner_id);
            let mut current = R::find_for_write(txn, &mut owner, id).await?;
            let mut read_again = false;
            loop {
                match rewrite(txn, &mut owner, &current, &*change, &precondition, now).await {
                    Err(err) if err.is_row_moved() && !read_again => {
                        read_again = true;
                        current = R::find_in(txn, owner_id, id).await?;
                    }
                    result => return result,
                }
            }
        })
    })
    .await
}

/// One application of [`update`]'s `change` to `current`.
async fn rewrite<R: Record>(
    txn: &Txn<'_>,
    owner: &mut Owner,
    current: &R,
    change: &(impl Fn(R::Fields) -> Result<R::Fields, ApiError> + Sync),
    precondition: &Precondition,
    now: DateTime<Utc>,
) -> Result<R, ApiError> {
    let before = current.fields()?;
    let fields = change(before.clone())?;
    R::check(txn, owner.id, current, &fields).await?;
    precondition.require(&current.etag())?;
    let version = next_updated_at(current.version(), now);
    let rewrite = Rewrite {
        current,
        before: &before,
        fields: &fields,
        version,
        now,
    };
    R::rewrite(txn, owner, rewrite).await
}

/// Deletes the owner's record `id` if `precondition` allows its current version; a record
/// found moved is read again as in [`update`].
pub async fn delete<R: Record>(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
    precondition: &Precondition,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let precondition = precondition.clone();
    db.write(move |txn| {
        let precondition = precondition.clone();
        Box::pin(async move {
            let mut owner = Owner::new(owner_id);
            let mut current = R::find_for_write(txn, &mut owner, id).await?;
            let mut read_again = false;
            loop {
                precondition.require(&current.etag())?;
                let deleted = R::VERSION
                    .delete::<R::Entity>(txn, id, owner_id, current.version())
                    .await;
                match deleted {
                    Err(err) if err.is_row_moved() && !read_again => {
                        read_again = true;
                        current = R::find_in(txn, owner_id, id).await?;
                    }
                    deleted => break deleted?,
                }
            }
            R::forget(txn, &mut owner, &current, now).await
        })
    })
    .await
}
