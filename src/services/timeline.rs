//! A contact's timeline: their conversations, the offers made to them and the asks made of
//! them, newest first, as one keyset-paginated list.

use chrono::{DateTime, Utc};
use entity::{ask, contact, conversation, conversation_participant, value_offer};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::beyond;
use super::conversations::{Conversation, with_participants};
use crate::db::Db;
use crate::error::ApiError;

pub enum Entry {
    Conversation(Conversation),
    Offer(value_offer::Model),
    Ask(ask::Model),
}

impl Entry {
    /// The instant an entry is placed at (a conversation's `occurred_at`, otherwise
    /// `created_at`) and its id, which breaks ties.
    pub fn key(&self) -> (DateTime<Utc>, Uuid) {
        match self {
            Self::Conversation(c) => (c.model.occurred_at, c.model.id),
            Self::Offer(o) => (o.created_at, o.id),
            Self::Ask(a) => (a.created_at, a.id),
        }
    }
}

/// Items strictly before `after` in (instant, id) descending order.
fn before<C: ColumnTrait>(at_col: C, id_col: C, after: Option<(DateTime<Utc>, Uuid)>) -> Condition {
    match after {
        None => Condition::all(),
        Some((at, id)) => beyond(at_col, id_col, at, id, false),
    }
}

/// One page of the timeline of `contact_id` (404 when it is not the owner's): at most
/// `limit` + 1 rows from each of the three sources, merged. Five queries whatever the page,
/// each bounded by the page or by the contact's own records.
pub async fn page(
    db: &Db,
    owner_id: Uuid,
    contact_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<(Vec<Entry>, bool), ApiError> {
    let conn = db.reader();
    contact::Entity::find_by_id((owner_id, contact_id))
        .one(conn)
        .await?
        .ok_or_else(ApiError::not_found)?;

    // The page's conversations found from the contact's own participant rows, which carry
    // their conversation's date (an index range of this contact's history), then read by id:
    // walking the owner's conversations by date to find the contact's would read the network.
    use conversation::Column as Cv;
    use conversation_participant::Column as P;
    let ids: Vec<Uuid> = conversation_participant::Entity::find()
        .select_only()
        .column(P::ConversationId)
        .filter(P::OwnerId.eq(owner_id))
        .filter(P::ContactId.eq(contact_id))
        .filter(before(P::OccurredAt, P::ConversationId, after))
        .order_by_desc(P::OccurredAt)
        .order_by_desc(P::ConversationId)
        .limit(limit + 1)
        .into_tuple()
        .all(conn)
        .await?;
    // By primary key, `(owner_id, id)`.
    let conversations: Vec<conversation::Model> = conversation::Entity::find()
        .filter(Cv::Id.is_in(ids))
        .filter(Cv::OwnerId.eq(owner_id))
        .all(conn)
        .await?;
    use value_offer::Column as O;
    let offers = value_offer::Entity::find()
        .filter(O::OwnerId.eq(owner_id))
        .filter(O::ContactId.eq(contact_id))
        .filter(before(O::CreatedAt, O::Id, after))
        .order_by_desc(O::CreatedAt)
        .order_by_desc(O::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    use ask::Column as A;
    let asks = ask::Entity::find()
        .filter(A::OwnerId.eq(owner_id))
        .filter(A::ContactId.eq(contact_id))
        .filter(before(A::CreatedAt, A::Id, after))
        .order_by_desc(A::CreatedAt)
        .order_by_desc(A::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;

    let mut entries: Vec<Entry> = with_participants(conn, owner_id, conversations)
        .await?
        .into_iter()
        .map(Entry::Conversation)
        .chain(offers.into_iter().map(Entry::Offer))
        .chain(asks.into_iter().map(Entry::Ask))
        .collect();
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.key()));
    let has_more = entries.len() as u64 > limit;
    entries.truncate(limit as usize);
    Ok((entries, has_more))
}
