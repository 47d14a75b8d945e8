//! The owner a write counts for, within one transaction: their time zone, read once with their
//! row locked on PostgreSQL. The lock orders every write of one owner's ledger and activity
//! counts after the previous one (see `services::ledger`); reading the zone once per
//! transaction keeps that to one statement however many counts the write moves.
//!
//! **Lock order.** On PostgreSQL a write of a record takes the owner's row lock in its first
//! statement, before the lock of any other row: a record's update or delete in the read of
//! the record ([`Owner::find`]), a create in its insert ([`Owner::insert`]; the checks before
//! it lock nothing), a contact's update or delete in [`Owner::lock_first`]. Two writes of one
//! owner then never hold each other's rows in opposite orders: a delete, whose cascades lock
//! the rows it takes with it, no longer deadlocks with a write of one of those rows.
//!
//! Also the owner-by-owner work a migration leaves for the application ([`drain_pending`]):
//! work that needs each owner's zone, done in one transaction per owner.

use chrono_tz::Tz;
use entity::user;
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, InsertStatement, LockType, Query, ReturningClause, SelectStatement,
    SimpleExpr, UpdateStatement,
};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, IntoActiveModel, Iterable, PrimaryKeyTrait, QueryTrait, Select,
    StatementBuilder, TryIntoModel,
};
use uuid::Uuid;

use crate::db::{Txn, Write};
use crate::error::ApiError;

/// One owner inside one write transaction. Make it inside the transaction it serves: the zone
/// it keeps was read under that transaction's lock.
#[derive(Debug)]
pub struct Owner {
    pub id: Uuid,
    zone: Option<Tz>,
    /// The zone the write assumes until a read confirms it (see [`Owner::hinted`]).
    hint: Option<Tz>,
}

/// A write that assumed the owner's zone was its hint found another (see [`Owner::hinted`]):
/// it fails, and runs again without a hint.
#[derive(Debug, thiserror::Error)]
#[error("the owner's time zone changed since the request was authenticated")]
pub struct ZoneMoved;

impl ZoneMoved {
    /// Whether `err` is a [`ZoneMoved`].
    pub fn failed(err: &ApiError) -> bool {
        matches!(err, ApiError::Internal(err) if err.is::<Self>())
    }
}

impl Owner {
    /// An owner whose row is not read (nor locked) yet.
    pub fn new(id: Uuid) -> Self {
        Self {
            id,
            zone: None,
            hint: None,
        }
    }

    /// An owner whose zone a write takes to be `hint` (as the request's authentication read
    /// it, without a lock) until a read of the write confirms it ([`Owner::zone_or_hint`],
    /// [`Owner::unconfirmed`], [`Owner::confirm`]). For SQLite, whose single writer needs no
    /// lock: the statements built with the zone then need not wait for a read of it, and a
    /// conversation's write reaches the driver in one call. A zone changed in between (rare:
    /// a change committed after the request's authentication) fails the write with
    /// [`ZoneMoved`], and the caller runs it again without a hint.
    pub fn hinted(id: Uuid, hint: Tz) -> Self {
        Self {
            id,
            zone: None,
            hint: Some(hint),
        }
    }

    /// The zone read, else the hint, else the zone read now (see [`Owner::zone`]).
    pub async fn zone_or_hint(&mut self, conn: &impl ConnectionTrait) -> Result<Tz, ApiError> {
        match (self.zone, self.hint) {
            (None, Some(hint)) => Ok(hint),
            _ => self.zone(conn).await,
        }
    }

    /// When the write has used the hint and not read the zone yet: the read of the zone, for
    /// the write's next read to return (as a column of its first row) and [`Owner::confirm`]
    /// to check.
    pub fn unconfirmed(&self) -> Option<SelectStatement> {
        (self.zone.is_none() && self.hint.is_some()).then(|| zone_query(self.id, false))
    }

    /// Checks the hint against `stored`, the zone a read of the write found: from then on the
    /// zone is known; [`ZoneMoved`] when it is not the hint.
    pub fn confirm(&mut self, stored: Option<String>) -> Result<(), ApiError> {
        let zone = parse_zone(stored)?;
        if self.hint.take().is_some_and(|hint| hint != zone) {
            return Err(anyhow::Error::new(ZoneMoved).into());
        }
        self.zone = Some(zone);
        Ok(())
    }

    /// The owner's time zone: the first call in the transaction reads it and locks their row
    /// on PostgreSQL; later calls reuse it.
    pub async fn zone(&mut self, conn: &impl ConnectionTrait) -> Result<Tz, ApiError> {
        if let Some(zone) = self.zone {
            return Ok(zone);
        }
        let lock = conn.get_database_backend() == DbBackend::Postgres;
        let zone = read_zone(conn, self.id, lock).await?;
        self.zone = Some(zone);
        Ok(zone)
    }

    /// On PostgreSQL, locks the owner's row now (reading the zone), as the write's first
    /// statement; on SQLite, whose single writer runs one write at a time, nothing.
    pub async fn lock_first(&mut self, conn: &impl ConnectionTrait) -> Result<(), ApiError> {
        if conn.get_database_backend() == DbBackend::Postgres {
            self.zone(conn).await?;
        }
        Ok(())
    }

    /// The row `select` finds (at most one is read), with [`Owner::zone`] read in the same
    /// statement when the transaction has not read it yet: a scalar subquery that locks the
    /// owner's row on PostgreSQL, as [`Owner::zone`]'s read does. A record's write reads the
    /// record with it first, so that the owner's row is the first row it locks (see the
    /// module comment). A row read here may be older than the lock, when the lock had to wait
    /// for another write; a write conditional on the row's version then finds it moved
    /// (`db::RowMoved`) and reads it again, under the lock (`services::records::update`).
    pub async fn find<E>(
        &mut self,
        conn: &impl ConnectionTrait,
        select: Select<E>,
    ) -> Result<Option<E::Model>, ApiError>
    where
        E: EntityTrait,
    {
        const ZONE: &str = "owner_zone";
        let mut query = select.into_query();
        let read_zone = self.zone.is_none();
        if read_zone {
            let lock = conn.get_database_backend() == DbBackend::Postgres;
            query.expr_as(
                SimpleExpr::SubQuery(None, Box::new(zone_query(self.id, lock).into())),
                Alias::new(ZONE),
            );
        }
        let Some(row) = conn.query_one(&query).await? else {
            if read_zone {
                // No such row of theirs, or no such owner: their account deleted since the
                // request was authenticated, its rows with it. The second is 401, as a create
                // racing the deletion answers; the read costs a statement on this path only.
                self.zone(conn).await?;
            }
            return Ok(None);
        };
        if read_zone {
            self.zone = Some(parse_zone(row.try_get("", ZONE)?)?);
        }
        Ok(Some(E::Model::from_query_result(&row, "")?))
    }

    /// The owner's row `id` of `E`, whose primary key is `(owner_id, id)`, read with
    /// [`Owner::find`]; 404 when it is not theirs, 401 when their account is gone.
    pub async fn find_own<E>(
        &mut self,
        conn: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<E::Model, ApiError>
    where
        E: EntityTrait,
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<(Uuid, Uuid)>,
    {
        let select = E::find_by_id((self.id, id));
        self.find(conn, select)
            .await?
            .ok_or_else(ApiError::not_found)
    }

    /// Inserts `model` and returns its row, with [`Owner::zone`] read in the same statement
    /// (see [`Owner::write_returning`]): the new row comes first, and the statements after it
    /// see every count an earlier writer of the owner committed.
    pub async fn insert<A>(
        &mut self,
        conn: &impl ConnectionTrait,
        model: A,
    ) -> Result<<A::Entity as EntityTrait>::Model, ApiError>
    where
        A: ActiveModelTrait,
    {
        let insert = <A::Entity as EntityTrait>::insert(model).into_query();
        self.write_returning::<A::Entity, _>(conn, insert, true)
            .await?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("an insert returned no row").into())
    }

    /// [`Owner::insert`] of a row whose every column `model` sets, so that the row stored is
    /// the model as given: on SQLite the insert is deferred (see `db::Txn`) and goes to the
    /// driver with the read of the owner's zone, in one call (or with the write's next read,
    /// when the owner is [`Owner::hinted`]); elsewhere it is
    /// [`Owner::insert`], which reads the zone (and on PostgreSQL locks the owner's row) in
    /// the insert itself.
    pub async fn insert_whole<A>(
        &mut self,
        conn: &impl Write,
        model: A,
    ) -> Result<<A::Entity as EntityTrait>::Model, ApiError>
    where
        A: ActiveModelTrait + TryIntoModel<<A::Entity as EntityTrait>::Model> + Clone,
    {
        let backend = conn.get_database_backend();
        if backend != DbBackend::Sqlite {
            return self.insert(conn, model).await;
        }
        let row = model.clone().try_into_model()?;
        conn.defer(<A::Entity as EntityTrait>::insert(model).build(backend))
            .await?;
        if self.hint.is_none() {
            self.zone(conn).await?;
        }
        Ok(row)
    }

    /// [`Owner::insert`] of a row with columns dated in the owner's zone, which `date` sets
    /// for a zone: first in `hint`, the zone as the request's authentication read it (without
    /// a lock), then, in the rare case that the insert reads another zone (a change of zone
    /// committed in between), again in that zone, with one more statement.
    pub async fn insert_dated<A>(
        &mut self,
        conn: &impl ConnectionTrait,
        mut model: A,
        hint: Tz,
        date: impl Fn(&mut A, Tz),
    ) -> Result<<A::Entity as EntityTrait>::Model, ApiError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        date(&mut model, hint);
        let row = self.insert(conn, model).await?;
        let zone = self.zone(conn).await?;
        if zone == hint {
            return Ok(row);
        }
        let mut model = row.into_active_model();
        date(&mut model, zone);
        Ok(model.update(conn).await?)
    }

    /// Runs `statement`, a write of `E`'s rows, and returns the rows it wrote as they are after
    /// it. With `zone`, when the transaction has not read it yet, [`Owner::zone`] is read in
    /// the same statement: a scalar subquery in its `RETURNING`, which costs no statement of
    /// its own and locks the owner's row on PostgreSQL as [`Owner::zone`]'s read does. A
    /// statement that writes no row reads no zone.
    pub async fn write_returning<E, S>(
        &mut self,
        conn: &impl ConnectionTrait,
        mut statement: S,
        zone: bool,
    ) -> Result<Vec<E::Model>, ApiError>
    where
        E: EntityTrait,
        S: Returns,
    {
        let mut returned: Vec<SimpleExpr> = E::Column::iter().map(Expr::col).collect();
        let zone_at = (zone && self.zone.is_none()).then_some(returned.len());
        if zone_at.is_some() {
            let lock = conn.get_database_backend() == DbBackend::Postgres;
            returned.push(SimpleExpr::SubQuery(
                None,
                Box::new(zone_query(self.id, lock).into()),
            ));
        }
        statement.set_returning(Query::returning().exprs(returned));
        let rows = conn.query_all(&statement).await?;
        if let (Some(at), Some(row)) = (zone_at, rows.first()) {
            self.zone = Some(parse_zone(row.try_get_by_index(at)?)?);
        }
        Ok(rows
            .iter()
            .map(|row| E::Model::from_query_result(row, ""))
            .collect::<Result<_, _>>()?)
    }
}

/// A statement that writes rows and can return them: an insert or an update.
pub trait Returns: StatementBuilder {
    fn set_returning(&mut self, clause: ReturningClause);
}

impl Returns for InsertStatement {
    fn set_returning(&mut self, clause: ReturningClause) {
        self.returning(clause);
    }
}

impl Returns for UpdateStatement {
    fn set_returning(&mut self, clause: ReturningClause) {
        self.returning(clause);
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
    let stored: Option<String> = conn
        .query_one(&zone_query(owner_id, lock))
        .await?
        .map(|row| row.try_get_by_index(0))
        .transpose()?;
    parse_zone(stored)
}

/// The zone a read of the owner's row found. No row: the account was deleted after the
/// request was authenticated (a write waiting for the owner's lock finds it gone once the
/// deletion commits), and the token no longer names an account: 401, as in
/// `error::lost_reference`.
fn parse_zone(stored: Option<String>) -> Result<Tz, ApiError> {
    let stored = stored.ok_or_else(ApiError::account_gone)?;
    // Stored names were validated on the way in; UTC only guards a hand-edited row.
    Ok(stored.parse().unwrap_or(chrono_tz::UTC))
}

/// The owner's time zone by primary key, locking their row when `lock` (PostgreSQL only).
fn zone_query(owner_id: Uuid, lock: bool) -> SelectStatement {
    let mut query = Query::select()
        .column(user::Column::TimeZone)
        .from(user::Entity)
        .and_where(Expr::col(user::Column::Id).eq(owner_id))
        .to_owned();
    if lock {
        query.lock(LockType::NoKeyUpdate);
    }
    query
}

/// The work [`drain_pending`] does for one owner, in that owner's transaction.
pub type PendingWork = for<'t> fn(&'t Txn<'t>, Uuid, Tz) -> BoxFuture<'t, Result<(), ApiError>>;

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
