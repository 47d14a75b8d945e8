//! The records the relationship rules read, grouped by contact in the database in one union
//! (past conversations, gives, asks, the next planned conversation): the input of the ledger
//! (`services::ledger`) where it recomputes rows from their records (rows time has put out of
//! date, a time-zone change, `rapport ledger verify` and `rebuild`).
//!
//! The conversation arm reads only `conversation_participant`, whose rows carry a copy of their
//! conversation's date and thank-you status, from the index
//! `(owner_id, contact_id, occurred_at, thank_you_status, conversation_id)`. Joining the
//! conversations instead looked each row's conversation up by its random primary key in an
//! index shared by every user: 23 ms for one user's 10,000 participants on the 100-user
//! benchmark file, against 3 ms for the index scan (see BENCHMARKS.md).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{ask, conversation_participant, user, value_offer};
use sea_orm::sea_query::{Expr, ExprTrait, SelectStatement, UnionType};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use uuid::Uuid;

use crate::domain::records::{AskStatus, OfferStatus, ThankYouStatus};
use crate::domain::relationship::{History, Today};
use crate::error::ApiError;

/// The owner's calendar at `now`: their time zone, read from their account. Requests with an
/// `Auth` have it already (`Auth::today`); this is for the ones without.
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

/// Which arm of a history union a row comes from.
const HELD: i64 = 0;
const GIVES: i64 = 1;
const ASKS: i64 = 2;
const PLANNED: i64 = 3;

/// A row of a history union: arm, contact, count, first and last `occurred_at`, owed.
type UnionRow = (
    i64,
    Uuid,
    i64,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    i64,
);

/// The history of each of the owner's `contacts` (all of them when `None`) as of `now`,
/// with each one's first planned conversation, in one statement: the ledger's input.
pub async fn ledger_histories(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contacts: Option<&[Uuid]>,
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, History>, ApiError> {
    let mut union = held_by_contact(owner_id, contacts, now);
    union
        .union(UnionType::All, gives_by_contact(owner_id, contacts))
        .union(UnionType::All, asks_by_contact(owner_id, contacts))
        .union(UnionType::All, planned_by_contact(owner_id, contacts, now));
    collect(conn, &union).await
}

async fn collect(
    conn: &impl ConnectionTrait,
    union: &SelectStatement,
) -> Result<HashMap<Uuid, History>, ApiError> {
    let mut map: HashMap<Uuid, History> = HashMap::new();
    add_rows(&mut map, conn.query_all(union).await?)?;
    Ok(map)
}

/// Adds the rows of history queries (any arms) to `map`.
fn add_rows(
    map: &mut HashMap<Uuid, History>,
    rows: Vec<sea_orm::QueryResult>,
) -> Result<(), ApiError> {
    for row in rows {
        let (arm, contact, n, first, last, owed): UnionRow = row.try_get_many_by_index()?;
        let h = map.entry(contact).or_default();
        match arm {
            HELD => {
                h.conversation_count = n;
                h.first_conversation_at = first;
                h.last_conversation_at = last;
                h.thank_yous_owed = owed;
            }
            GIVES => h.gives = n,
            ASKS => h.asks = n,
            _ => h.next_planned_at = first,
        }
    }
    Ok(())
}

/// Past conversations per participant among `contacts` (every contact when `None`): the
/// union's first arm, read from the participant rows alone.
fn held_by_contact(
    owner_id: Uuid,
    contacts: Option<&[Uuid]>,
    now: DateTime<Utc>,
) -> SelectStatement {
    use conversation_participant::Column as P;

    let mut query = conversation_participant::Entity::find()
        .select_only()
        .column_as(Expr::val(HELD), "arm")
        .column(P::ContactId)
        .column_as(Expr::col(P::ConversationId).count(), "conversations")
        .column_as(Expr::col(P::OccurredAt).min(), "first_at")
        .column_as(Expr::col(P::OccurredAt).max(), "last_at")
        .column_as(
            Expr::case(
                Expr::col(P::ThankYouStatus).eq(ThankYouStatus::Owed.as_str()),
                1,
            )
            .count(),
            "owed",
        )
        .filter(P::OwnerId.eq(owner_id))
        .filter(P::OccurredAt.lte(now))
        .group_by(P::ContactId);
    if let Some(ids) = contacts {
        query = query.filter(P::ContactId.is_in(ids.iter().copied()));
    }
    query.into_query()
}

/// The first conversation after `now` per participant among `contacts`.
fn planned_by_contact(
    owner_id: Uuid,
    contacts: Option<&[Uuid]>,
    now: DateTime<Utc>,
) -> SelectStatement {
    use conversation_participant::Column as P;

    let mut query = conversation_participant::Entity::find()
        .select_only()
        .column_as(Expr::val(PLANNED), "arm")
        .column(P::ContactId)
        .column_as(Expr::val(0i64), "conversations")
        .column_as(Expr::col(P::OccurredAt).min(), "first_at")
        .column_as(Expr::val(None::<DateTime<Utc>>), "last_at")
        .column_as(Expr::val(0i64), "owed")
        .filter(P::OwnerId.eq(owner_id))
        .filter(P::OccurredAt.gt(now))
        .group_by(P::ContactId);
    if let Some(ids) = contacts {
        query = query.filter(P::ContactId.is_in(ids.iter().copied()));
    }
    query.into_query()
}

/// Offers that count as given (`offered`, `acknowledged`), per contact.
fn gives_by_contact(owner_id: Uuid, contacts: Option<&[Uuid]>) -> SelectStatement {
    use value_offer::Column as O;

    let mut query = value_offer::Entity::find()
        .select_only()
        .column_as(Expr::val(GIVES), "arm")
        .column(O::ContactId)
        .column_as(Expr::col(O::Id).count(), "n")
        .column_as(Expr::val(None::<DateTime<Utc>>), "first_at")
        .column_as(Expr::val(None::<DateTime<Utc>>), "last_at")
        .column_as(Expr::val(0i64), "owed")
        .filter(O::OwnerId.eq(owner_id))
        // A condition on the rows the contact index finds, not a walk of the status index.
        .filter(super::unindexed(O::Status).is_in(OfferStatus::GIVEN.map(OfferStatus::as_str)))
        .group_by(O::ContactId);
    if let Some(ids) = contacts {
        query = query.filter(O::ContactId.is_in(ids.iter().copied()));
    }
    query.into_query()
}

/// Asks that count as asked (`asked`, `granted`), per contact.
fn asks_by_contact(owner_id: Uuid, contacts: Option<&[Uuid]>) -> SelectStatement {
    use ask::Column as A;

    let mut query = ask::Entity::find()
        .select_only()
        .column_as(Expr::val(ASKS), "arm")
        .column(A::ContactId)
        .column_as(Expr::col(A::Id).count(), "n")
        .column_as(Expr::val(None::<DateTime<Utc>>), "first_at")
        .column_as(Expr::val(None::<DateTime<Utc>>), "last_at")
        .column_as(Expr::val(0i64), "owed")
        .filter(A::OwnerId.eq(owner_id))
        .filter(super::unindexed(A::Status).is_in(AskStatus::ASKED.map(AskStatus::as_str)))
        .group_by(A::ContactId);
    if let Some(ids) = contacts {
        query = query.filter(A::ContactId.is_in(ids.iter().copied()));
    }
    query.into_query()
}
