//! The participant rows of a conversation: each carries a copy of the conversation's date and
//! thank-you status, and the thank-you's due date, so the reads by contact need no join.

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use entity::{contact, conversation, conversation_participant};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QueryTrait, Set,
};
use uuid::Uuid;

use super::{Conversation, ConversationFields};
use crate::db::Write;
use crate::domain::follow_ups::stored_thank_you_due;
use crate::error::ApiError;

/// The due date each participant row of a conversation with `fields` stores for its
/// thank-you, in the owner's `zone`.
fn thank_you_due(fields: &ConversationFields, zone: Tz) -> Option<NaiveDate> {
    stored_thank_you_due(fields.thank_you_status.as_str(), fields.occurred_at, zone)
}

/// Replaces the participant rows of a conversation whose new participants were checked to be
/// the owner's contacts. Deferred (see `db::Txn`): the statements go with the read of the
/// participants' ledgers that follows.
pub(super) async fn replace_participants(
    conn: &impl Write,
    owner_id: Uuid,
    conversation_id: Uuid,
    fields: &ConversationFields,
    zone: Tz,
) -> Result<(), ApiError> {
    let backend = conn.get_database_backend();
    let delete = conversation_participant::Entity::delete_many()
        .filter(conversation_participant::Column::ConversationId.eq(conversation_id))
        .filter(conversation_participant::Column::OwnerId.eq(owner_id));
    conn.defer(delete.build(backend)).await?;
    let rows =
        fields
            .participants()
            .into_iter()
            .map(|contact_id| conversation_participant::ActiveModel {
                conversation_id: Set(conversation_id),
                contact_id: Set(contact_id),
                owner_id: Set(owner_id),
                occurred_at: Set(Some(fields.occurred_at)),
                thank_you_status: Set(Some(fields.thank_you_status.as_str().to_owned())),
                thank_you_due_on: Set(thank_you_due(fields, zone)),
            });
    conn.defer(conversation_participant::Entity::insert_many(rows).build(backend))
        .await?;
    Ok(())
}

/// Rewrites the participant rows' copies of the conversation's date and thank-you status, and
/// the thank-you's due date. Deferred (see `db::Txn`), like [`replace_participants`].
pub(super) async fn copy_to_participants(
    conn: &impl Write,
    owner_id: Uuid,
    conversation_id: Uuid,
    fields: &ConversationFields,
    zone: Tz,
) -> Result<(), ApiError> {
    use conversation_participant::Column as P;

    let update = conversation_participant::Entity::update_many()
        .col_expr(P::OccurredAt, Expr::value(fields.occurred_at))
        .col_expr(
            P::ThankYouStatus,
            Expr::value(fields.thank_you_status.as_str()),
        )
        .col_expr(P::ThankYouDueOn, Expr::value(thank_you_due(fields, zone)))
        .filter(P::ConversationId.eq(conversation_id))
        .filter(P::OwnerId.eq(owner_id));
    conn.defer(update.build(conn.get_database_backend()))
        .await?;
    Ok(())
}

/// Adds the participants of a new conversation, taking each from the owner's contacts in the
/// same statement: `INSERT … SELECT` from `contact`, so an id that is not one of the owner's
/// contacts inserts nothing. Deferred (see `db::Txn`): the caller checks that every
/// participant was found by the read of their ledgers that comes next, in the same call on
/// SQLite, and names the culprit with `check_references` when one was not.
pub(super) async fn add_own_participants(
    conn: &impl Write,
    owner_id: Uuid,
    conversation_id: Uuid,
    fields: &ConversationFields,
    zone: Tz,
) -> Result<(), ApiError> {
    use conversation_participant::Column as P;

    let own = Query::select()
        .expr(Expr::val(conversation_id))
        .column(contact::Column::Id)
        .column(contact::Column::OwnerId)
        .expr(Expr::val(fields.occurred_at))
        .expr(Expr::val(fields.thank_you_status.as_str()))
        .expr(Expr::val(thank_you_due(fields, zone)))
        .from(contact::Entity)
        .and_where(contact::Column::Id.is_in(fields.participant_ids.iter().copied()))
        .and_where(contact::Column::OwnerId.eq(owner_id))
        .to_owned();
    let insert = Query::insert()
        .into_table(conversation_participant::Entity)
        .columns([
            P::ConversationId,
            P::ContactId,
            P::OwnerId,
            P::OccurredAt,
            P::ThankYouStatus,
            P::ThankYouDueOn,
        ])
        .select_from(own)
        .map_err(|err| anyhow::anyhow!("participants insert: {err}"))?
        .to_owned();
    conn.defer(conn.get_database_backend().build(&insert))
        .await?;
    Ok(())
}

async fn participants_of(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    conversation_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, ApiError> {
    let rows = conversation_participant::Entity::find()
        .filter(
            conversation_participant::Column::ConversationId
                .is_in(conversation_ids.iter().copied()),
        )
        .filter(conversation_participant::Column::OwnerId.eq(owner_id))
        // In the primary key's order, `(owner_id, conversation_id, contact_id)`: ordered by
        // contact alone, SQLite's planner walks every participant row of the owner by the
        // index that leads with the contact.
        .order_by_asc(conversation_participant::Column::ConversationId)
        .order_by_asc(conversation_participant::Column::ContactId)
        .all(conn)
        .await?;
    let mut participants: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in rows {
        participants
            .entry(row.conversation_id)
            .or_default()
            .push(row.contact_id);
    }
    Ok(participants)
}

/// Attaches participants to the owner's conversation rows (one query for the whole set).
pub async fn with_participants(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    models: Vec<conversation::Model>,
) -> Result<Vec<Conversation>, ApiError> {
    let ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
    let mut participants = participants_of(conn, owner_id, &ids).await?;
    Ok(models
        .into_iter()
        .map(|model| Conversation {
            participant_ids: participants.remove(&model.id).unwrap_or_default(),
            model,
        })
        .collect())
}
