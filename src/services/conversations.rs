//! Conversations and who took part in them.

use entity::{conversation, conversation_participant};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::error::ApiError;

/// The owner's conversations in which `contact_id` took part.
pub async fn ids_with_participant(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contact_id: Uuid,
) -> Result<Vec<Uuid>, ApiError> {
    Ok(conversation_participant::Entity::find()
        .select_only()
        .column(conversation_participant::Column::ConversationId)
        .filter(conversation_participant::Column::OwnerId.eq(owner_id))
        .filter(conversation_participant::Column::ContactId.eq(contact_id))
        .into_tuple()
        .all(conn)
        .await?)
}

/// Deletes those of `ids` that have no participant left.
pub async fn delete_if_empty(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    ids: &[Uuid],
) -> Result<u64, ApiError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let with_participants = Query::select()
        .column(conversation_participant::Column::ConversationId)
        .from(conversation_participant::Entity)
        .and_where(conversation_participant::Column::ConversationId.is_in(ids.iter().copied()))
        .to_owned();
    let result = conversation::Entity::delete_many()
        .filter(conversation::Column::OwnerId.eq(owner_id))
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .filter(conversation::Column::Id.not_in_subquery(with_participants))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
