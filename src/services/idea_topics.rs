//! `idea_topic`: one row per topic of each value offer still at the `idea` stage, with the
//! offer's creation instant, so that suggestions read the oldest ideas on a topic with an
//! index. Every offer write that changes an idea's topics or status calls [`replace`] in its
//! transaction; deleting an offer deletes its rows by cascade. `rapport ledger verify` and
//! `rebuild` compare and repair them like the ledger.

use chrono::{DateTime, Utc};
use entity::{idea_topic, value_offer};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::decode_json;
use crate::domain::records::OfferStatus;
use crate::error::ApiError;

/// An idea's rows as (topic, created_at), sorted.
pub type Rows = Vec<(String, DateTime<Utc>)>;

/// Sets the rows of `offer` to `topics` (none when it is no longer an idea), in the caller's
/// transaction: a delete, then [`insert`].
pub async fn replace(
    conn: &impl ConnectionTrait,
    offer: &value_offer::Model,
    topics: Option<&[String]>,
) -> Result<(), ApiError> {
    idea_topic::Entity::delete_many()
        .filter(idea_topic::Column::OfferId.eq(offer.id))
        .filter(idea_topic::Column::OwnerId.eq(offer.owner_id))
        .exec(conn)
        .await?;
    insert(
        conn,
        offer.id,
        offer.owner_id,
        offer.created_at,
        topics.unwrap_or_default(),
    )
    .await
}

/// Stores a row per topic of the idea `offer_id` that has none yet: one statement, none
/// without topics.
pub async fn insert(
    conn: &impl ConnectionTrait,
    offer_id: Uuid,
    owner_id: Uuid,
    created_at: DateTime<Utc>,
    topics: &[String],
) -> Result<(), ApiError> {
    let rows: Vec<idea_topic::ActiveModel> = topics
        .iter()
        .map(|topic| idea_topic::ActiveModel {
            offer_id: Set(offer_id),
            topic: Set(topic.clone()),
            owner_id: Set(owner_id),
            created_at: Set(created_at),
        })
        .collect();
    if !rows.is_empty() {
        idea_topic::Entity::insert_many(rows).exec(conn).await?;
    }
    Ok(())
}

/// The owner's offers whose stored rows differ from their topics: (offer, stored, expected).
pub async fn wrong(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
) -> Result<Vec<(Uuid, Rows, Rows)>, ApiError> {
    use value_offer::Column as V;

    let ideas: Vec<(Uuid, serde_json::Value, DateTime<Utc>)> = value_offer::Entity::find()
        .select_only()
        .columns([V::Id, V::Topics, V::CreatedAt])
        .filter(V::OwnerId.eq(owner_id))
        .filter(V::Status.eq(OfferStatus::Idea.as_str()))
        .into_tuple()
        .all(conn)
        .await?;
    let mut expected: BTreeMap<Uuid, Rows> = BTreeMap::new();
    for (id, topics, created_at) in ideas {
        let topics: Vec<String> = decode_json("value_offer.topics", &topics)?;
        let rows = expected.entry(id).or_default();
        rows.extend(topics.into_iter().map(|t| (t, created_at)));
        rows.sort();
    }
    let stored_rows: Vec<(Uuid, String, DateTime<Utc>)> = idea_topic::Entity::find()
        .select_only()
        .columns([
            idea_topic::Column::OfferId,
            idea_topic::Column::Topic,
            idea_topic::Column::CreatedAt,
        ])
        .filter(idea_topic::Column::OwnerId.eq(owner_id))
        .into_tuple()
        .all(conn)
        .await?;
    let mut stored: BTreeMap<Uuid, Rows> = BTreeMap::new();
    for (id, topic, created_at) in stored_rows {
        stored.entry(id).or_default().push((topic, created_at));
    }
    for rows in stored.values_mut() {
        rows.sort();
    }
    let ids: std::collections::BTreeSet<Uuid> =
        expected.keys().chain(stored.keys()).copied().collect();
    Ok(ids
        .into_iter()
        .filter_map(|id| {
            let (s, e) = (
                stored.remove(&id).unwrap_or_default(),
                expected.remove(&id).unwrap_or_default(),
            );
            (s != e).then_some((id, s, e))
        })
        .collect())
}

/// Rewrites the rows of the owner's offers [`wrong`] finds, in the caller's transaction.
pub async fn fix(conn: &impl ConnectionTrait, owner_id: Uuid) -> Result<usize, ApiError> {
    let wrong = wrong(conn, owner_id).await?;
    for (offer_id, _, expected) in &wrong {
        idea_topic::Entity::delete_many()
            .filter(idea_topic::Column::OfferId.eq(*offer_id))
            .filter(idea_topic::Column::OwnerId.eq(owner_id))
            .exec(conn)
            .await?;
        let topics: Vec<String> = expected.iter().map(|(topic, _)| topic.clone()).collect();
        if let Some((_, created_at)) = expected.first() {
            insert(conn, *offer_id, owner_id, *created_at, &topics).await?;
        }
    }
    Ok(wrong.len())
}
