//! The rows the relationship rules need, gathered in a fixed number of queries whatever the
//! number of contacts: one per kind of record, each grouped by contact in the database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{ask, conversation, conversation_participant, user, value_offer};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::domain::records::{AskStatus, OfferStatus, ThankYouStatus};
use crate::domain::relationship::{History, Today};
use crate::error::ApiError;

/// Past conversations of one contact: id, count, first and last `occurred_at`, owed.
pub type HeldRow = (Uuid, i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>, i64);

/// The owner's calendar at `now`: their time zone, read from their account.
pub async fn today(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Today, ApiError> {
    let zone: Option<String> = user::Entity::find_by_id(owner_id)
        .select_only()
        .column(user::Column::TimeZone)
        .into_tuple()
        .one(conn)
        .await?;
    let zone = zone.ok_or_else(ApiError::not_found)?;
    Ok(Today::new(now, &zone))
}

/// The history of each of the owner's contacts in `contacts` (every contact when `None`), as
/// of `now`. Three grouped queries: past conversations per participant, gives per contact,
/// asks per contact. Contacts with no record at all are absent from the map.
pub async fn histories(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contacts: Option<&[Uuid]>,
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, History>, ApiError> {
    let held = conversations_by_contact(conn, owner_id, contacts, now).await?;

    let mut offers = value_offer::Entity::find()
        .select_only()
        .column(value_offer::Column::ContactId)
        .column_as(Expr::col(value_offer::Column::Id).count(), "n")
        .filter(value_offer::Column::OwnerId.eq(owner_id))
        .filter(value_offer::Column::Status.is_in([
            OfferStatus::Offered.as_str(),
            OfferStatus::Acknowledged.as_str(),
        ]))
        .group_by(value_offer::Column::ContactId);
    if let Some(ids) = contacts {
        offers = offers.filter(value_offer::Column::ContactId.is_in(ids.iter().copied()));
    }
    let gives: Vec<(Uuid, i64)> = offers.into_tuple().all(conn).await?;

    let mut requests = ask::Entity::find()
        .select_only()
        .column(ask::Column::ContactId)
        .column_as(Expr::col(ask::Column::Id).count(), "n")
        .filter(ask::Column::OwnerId.eq(owner_id))
        .filter(ask::Column::Status.is_in([AskStatus::Asked.as_str(), AskStatus::Granted.as_str()]))
        .group_by(ask::Column::ContactId);
    if let Some(ids) = contacts {
        requests = requests.filter(ask::Column::ContactId.is_in(ids.iter().copied()));
    }
    let asks: Vec<(Uuid, i64)> = requests.into_tuple().all(conn).await?;

    let mut map: HashMap<Uuid, History> = HashMap::new();
    for (contact, count, first, last, owed) in held {
        let h = map.entry(contact).or_default();
        h.conversation_count = count;
        h.first_conversation_at = first;
        h.last_conversation_at = last;
        h.thank_yous_owed = owed;
    }
    for (contact, n) in gives {
        map.entry(contact).or_default().gives = n;
    }
    for (contact, n) in asks {
        map.entry(contact).or_default().asks = n;
    }
    Ok(map)
}

/// Past conversations per participant among the owner's contacts in `contacts` (every contact
/// when `None`): count, first and last `occurred_at`, thank-yous owed. One grouped query.
pub async fn conversations_by_contact(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contacts: Option<&[Uuid]>,
    now: DateTime<Utc>,
) -> Result<Vec<HeldRow>, ApiError> {
    use conversation::Column as C;
    use conversation_participant::Column as P;

    let mut held = conversation_participant::Entity::find()
        .select_only()
        .column(P::ContactId)
        .column_as(
            Expr::col((conversation::Entity, C::Id)).count(),
            "conversations",
        )
        .column_as(
            Expr::col((conversation::Entity, C::OccurredAt)).min(),
            "first_at",
        )
        .column_as(
            Expr::col((conversation::Entity, C::OccurredAt)).max(),
            "last_at",
        )
        .column_as(
            Expr::case(
                Expr::col((conversation::Entity, C::ThankYouStatus))
                    .eq(ThankYouStatus::Owed.as_str()),
                1,
            )
            .count(),
            "owed",
        )
        .inner_join(conversation::Entity)
        .filter(P::OwnerId.eq(owner_id))
        .filter(Expr::col((conversation::Entity, C::OccurredAt)).lte(now))
        .group_by(P::ContactId);
    if let Some(ids) = contacts {
        held = held.filter(P::ContactId.is_in(ids.iter().copied()));
    }
    Ok(held.into_tuple().all(conn).await?)
}
