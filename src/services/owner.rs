//! The owner a write counts for, within one transaction: their time zone, read once with their
//! row locked on PostgreSQL. The lock orders every write of one owner's ledger and activity
//! counts after the previous one (see `services::ledger`); reading the zone once per
//! transaction keeps that to one statement however many counts the write moves.
//!
//! Also the owner-by-owner work a migration leaves for the application ([`drain_pending`]):
//! work that needs each owner's zone, done in one transaction per owner.

use chrono_tz::Tz;
use entity::user;
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockType, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QuerySelect};
use uuid::Uuid;

use crate::error::ApiError;

/// One owner inside one write transaction. Make it inside the transaction it serves: the zone
/// it keeps was read under that transaction's lock.
#[derive(Debug)]
pub struct Owner {
    pub id: Uuid,
    zone: Option<Tz>,
}

impl Owner {
    /// An owner whose row is not read (nor locked) yet.
    pub fn new(id: Uuid) -> Self {
        Self { id, zone: None }
    }

    /// The owner's time zone: the first call in the transaction reads it and locks their row
    /// on PostgreSQL; later calls reuse it.
    pub async fn zone(&mut self, conn: &impl ConnectionTrait) -> Result<Tz, ApiError> {
        if let Some(zone) = self.zone {
            return Ok(zone);
        }
        let zone = read_zone(conn, self.id, true).await?;
        self.zone = Some(zone);
        Ok(zone)
    }
}

/// The owner's time zone, without a lock: for reads and checks that write nothing.
pub async fn zone(conn: &impl ConnectionTrait, owner_id: Uuid) -> Result<Tz, ApiError> {
    read_zone(conn, owner_id, false).await
}

async fn read_zone(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    lock: bool,
) -> Result<Tz, ApiError> {
    let mut query = user::Entity::find_by_id(owner_id)
        .select_only()
        .column(user::Column::TimeZone);
    if lock && conn.get_database_backend() == DbBackend::Postgres {
        query = query.lock(LockType::NoKeyUpdate);
    }
    let zone: String = query
        .into_tuple()
        .one(conn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Stored names were validated on the way in; UTC only guards a hand-edited row.
    Ok(zone.parse().unwrap_or(chrono_tz::UTC))
}

/// The work [`drain_pending`] does for one owner, in that owner's transaction.
pub type PendingWork =
    for<'t> fn(&'t DatabaseTransaction, Uuid, Tz) -> BoxFuture<'t, Result<(), ApiError>>;

/// Runs `work` for every owner a migration left in the one-column table `table` (`owner_id`),
/// one transaction per owner that also deletes its row: a process stopped part way leaves the
/// rest to the next start, and two instances starting at once do an owner's work once (the
/// second finds the row gone under the owner's lock). Returns the owners done.
pub async fn drain_pending(
    db: &crate::db::Db,
    table: &'static str,
    work: PendingWork,
) -> Result<usize, ApiError> {
    let owner = || Alias::new("owner_id");
    let owners: Vec<Uuid> = db
        .reader()
        .query_all(
            Query::select()
                .column(owner())
                .from(Alias::new(table))
                .order_by(owner(), sea_orm::Order::Asc),
        )
        .await?
        .into_iter()
        .map(|row| row.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    let mut done = 0;
    for owner_id in owners {
        done += db
            .write(move |txn| {
                Box::pin(async move {
                    let zone = Owner::new(owner_id).zone(txn).await?;
                    let deleted = txn
                        .execute(
                            Query::delete()
                                .from_table(Alias::new(table))
                                .and_where(Expr::col(owner()).eq(owner_id)),
                        )
                        .await?;
                    if deleted.rows_affected() == 0 {
                        return Ok(0);
                    }
                    work(txn, owner_id, zone).await?;
                    Ok(1)
                })
            })
            .await?;
    }
    Ok(done)
}
