//! Secret calendar feed URLs: one live token per user, stored as a SHA-256 hash.

use chrono::{DateTime, Utc};
use entity::calendar_feed;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use uuid::Uuid;

use crate::auth::opaque;
use crate::db::Db;
use crate::error::ApiError;

/// Prefix that marks a calendar feed token.
pub const PREFIX: &str = "rcal_";

/// Issues a new feed token for `owner_id`; the previous one stops working in the same
/// transaction.
pub async fn rotate(db: &Db, owner_id: Uuid, now: DateTime<Utc>) -> Result<String, ApiError> {
    let token = format!("{PREFIX}{}", opaque::random_token()?);
    let txn = db.begin_write().await?;
    calendar_feed::Entity::delete_many()
        .filter(calendar_feed::Column::OwnerId.eq(owner_id))
        .exec(&txn)
        .await?;
    calendar_feed::ActiveModel {
        owner_id: Set(owner_id),
        token_hash: Set(opaque::hash(&token)),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(token)
}

/// The user a feed token belongs to, if it is live.
pub async fn owner_of(db: &Db, token: &str) -> Result<Option<Uuid>, ApiError> {
    if !token.starts_with(PREFIX) {
        return Ok(None);
    }
    Ok(calendar_feed::Entity::find()
        .select_only()
        .column(calendar_feed::Column::OwnerId)
        .filter(calendar_feed::Column::TokenHash.eq(opaque::hash(token)))
        .into_tuple()
        .one(db.reader())
        .await?)
}
