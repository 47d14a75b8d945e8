//! The owner a write counts for, within one transaction: their time zone, read once with their
//! row locked on PostgreSQL. The lock orders every write of one owner's ledger and activity
//! counts after the previous one (see `services::ledger`); reading the zone once per
//! transaction keeps that to one statement however many counts the write moves.

use chrono_tz::Tz;
use entity::user;
use sea_orm::sea_query::LockType;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QuerySelect};
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
