//! Secret calendar feed URLs: one live token per user, stored as a SHA-256 hash.

use chrono::{DateTime, Utc};
use entity::calendar_feed;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use uuid::Uuid;

use crate::auth::opaque;
use crate::db::Db;
use crate::error::ApiError;

/// Prefix that marks a calendar feed token.
pub const PREFIX: &str = "rcal_";

/// Issues a new feed token for `owner_id`; the previous one stops working in the same
/// statement, an upsert, so that concurrent rotations cannot collide: the last one wins.
pub async fn rotate(db: &Db, owner_id: Uuid, now: DateTime<Utc>) -> Result<String, ApiError> {
    use calendar_feed::Column as F;
    let token = format!("{PREFIX}{}", opaque::random_token()?);
    let token_hash = opaque::hash(&token);
    db.write(move |txn| {
        let token_hash = token_hash.clone();
        Box::pin(async move {
            calendar_feed::Entity::insert(calendar_feed::ActiveModel {
                owner_id: Set(owner_id),
                token_hash: Set(token_hash),
                created_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(F::OwnerId)
                    .update_columns([F::TokenHash, F::CreatedAt])
                    .to_owned(),
            )
            .exec(txn)
            .await?;
            Ok(())
        })
    })
    .await?;
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
