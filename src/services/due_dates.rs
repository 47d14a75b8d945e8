//! The due date of each open follow-up, stored on the row it comes from: an owed thank-you's on
//! each participant row of its conversation, an idea's on its offer, an open ask's on the ask
//! (`domain::follow_ups::stored_*` computes them). The follow-up list reads each kind through
//! an index on `(owner_id, due date, id)`, in its own order, a page at a time.
//!
//! Every write that opens, closes or moves one of these items sets the date in the statement
//! that writes the row, with the zone its transaction read for the owner. A time-zone change
//! re-dates the owner's rows in its transaction ([`fix`]); `rapport ledger verify` and
//! `rebuild` compare and repair them like the ledger ([`wrong`], [`fix`]); the migration that
//! adds the dates leaves every owner in `due_date_pending`, which each start drains
//! ([`date_pending`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{ask, conversation_participant, value_offer};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::follow_ups::{stored_ask_due, stored_deliver_due, stored_thank_you_due};
use crate::domain::records::{AskStatus, OfferStatus, ThankYouStatus};
use crate::error::ApiError;

/// Where a due date is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Row {
    /// A participant row: conversation, contact.
    Participant(Uuid, Uuid),
    Offer(Uuid),
    Ask(Uuid),
}

/// A row whose stored due date is not the one its record and the owner's zone give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misdated {
    pub row: Row,
    pub stored: Option<NaiveDate>,
    pub expected: Option<NaiveDate>,
}

/// Every row of the owner that has a due date or should have one, with the stored date and
/// the expected one in `zone`, those that differ only.
pub async fn wrong(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
) -> Result<Vec<Misdated>, ApiError> {
    let mut found = participants(conn, owner_id, zone).await?;
    found.extend(offers(conn, owner_id, zone).await?);
    found.extend(asks(conn, owner_id, zone).await?);
    found.sort_by_key(|m| m.row);
    Ok(found)
}

/// `row` with its stored and expected dates, if they differ.
fn misdated(row: Row, stored: Option<NaiveDate>, expected: Option<NaiveDate>) -> Option<Misdated> {
    (stored != expected).then_some(Misdated {
        row,
        stored,
        expected,
    })
}

/// The misdated thank-yous of [`wrong`]: participant rows owed or dated.
async fn participants(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
) -> Result<Vec<Misdated>, ApiError> {
    use conversation_participant::Column as P;

    type ParticipantRow = (
        Uuid,
        Uuid,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<NaiveDate>,
    );
    let rows: Vec<ParticipantRow> = conversation_participant::Entity::find()
        .select_only()
        .columns([
            P::ConversationId,
            P::ContactId,
            P::ThankYouStatus,
            P::OccurredAt,
            P::ThankYouDueOn,
        ])
        .filter(P::OwnerId.eq(owner_id))
        .filter(
            Condition::any()
                .add(P::ThankYouStatus.eq(ThankYouStatus::Owed.as_str()))
                .add(P::ThankYouDueOn.is_not_null()),
        )
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(conversation, contact, status, at, stored)| {
            let expected = match (status, at) {
                (Some(status), Some(at)) => stored_thank_you_due(&status, at, zone),
                _ => None,
            };
            misdated(Row::Participant(conversation, contact), stored, expected)
        })
        .collect())
}

/// The misdated ideas of [`wrong`]: offers that are ideas or dated.
async fn offers(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
) -> Result<Vec<Misdated>, ApiError> {
    use value_offer::Column as O;

    type OfferRow = (Uuid, String, DateTime<Utc>, Option<NaiveDate>);
    let rows: Vec<OfferRow> = value_offer::Entity::find()
        .select_only()
        .columns([O::Id, O::Status, O::CreatedAt, O::DeliverDueOn])
        .filter(O::OwnerId.eq(owner_id))
        .filter(
            Condition::any()
                .add(O::Status.eq(OfferStatus::Idea.as_str()))
                .add(O::DeliverDueOn.is_not_null()),
        )
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, status, created_at, stored)| {
            let expected = stored_deliver_due(&status, created_at, zone);
            misdated(Row::Offer(id), stored, expected)
        })
        .collect())
}

/// The misdated asks of [`wrong`]: asks awaiting an answer or dated.
async fn asks(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
) -> Result<Vec<Misdated>, ApiError> {
    use ask::Column as A;

    type AskRow = (
        Uuid,
        String,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
        Option<NaiveDate>,
    );
    let rows: Vec<AskRow> = ask::Entity::find()
        .select_only()
        .columns([A::Id, A::Status, A::AskedAt, A::CreatedAt, A::FollowUpDueOn])
        .filter(A::OwnerId.eq(owner_id))
        .filter(
            Condition::any()
                .add(A::Status.eq(AskStatus::Asked.as_str()))
                .add(A::FollowUpDueOn.is_not_null()),
        )
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, status, asked_at, created_at, stored)| {
            let expected = stored_ask_due(&status, asked_at, created_at, zone);
            misdated(Row::Ask(id), stored, expected)
        })
        .collect())
}

/// Rewrites the due dates [`wrong`] finds, in the caller's transaction: one statement per
/// hundred rows of one table and one date, each row found by its primary key, which leads
/// with the owner. Returns the number of rows rewritten.
pub async fn fix(conn: &impl ConnectionTrait, owner_id: Uuid, zone: Tz) -> Result<usize, ApiError> {
    let wrong = wrong(conn, owner_id, zone).await?;
    let mut by_date: BTreeMap<(u8, Option<NaiveDate>), Vec<Row>> = BTreeMap::new();
    for m in &wrong {
        let table = match m.row {
            Row::Participant(..) => 0,
            Row::Offer(_) => 1,
            Row::Ask(_) => 2,
        };
        by_date.entry((table, m.expected)).or_default().push(m.row);
    }
    for ((_, date), rows) in by_date {
        for chunk in rows.chunks(100) {
            let backend = conn.get_database_backend();
            if let Some(statement) = redate(backend, owner_id, date, chunk) {
                conn.execute_raw(statement).await?;
            }
        }
    }
    Ok(wrong.len())
}

/// The statement that sets the due date of `rows` (all of one table) to `date`, each found
/// by its primary key; none for no rows.
pub fn redate(
    backend: sea_orm::DbBackend,
    owner_id: Uuid,
    date: Option<NaiveDate>,
    rows: &[Row],
) -> Option<sea_orm::Statement> {
    use ask::Column as A;
    use conversation_participant::Column as P;
    use value_offer::Column as O;

    let mut participants = Condition::any();
    let (mut offers, mut asks) = (Vec::new(), Vec::new());
    for row in rows {
        match *row {
            Row::Participant(conversation, contact) => {
                // The owner in each term: SQLite searches the primary key for each, where
                // with the owner beside the terms it walks an index that leads with it.
                participants = participants.add(
                    Condition::all()
                        .add(P::OwnerId.eq(owner_id))
                        .add(P::ConversationId.eq(conversation))
                        .add(P::ContactId.eq(contact)),
                )
            }
            Row::Offer(id) => offers.push(id),
            Row::Ask(id) => asks.push(id),
        }
    }
    let statement = match rows.first()? {
        Row::Participant(..) => conversation_participant::Entity::update_many()
            .col_expr(P::ThankYouDueOn, Expr::value(date))
            .filter(participants)
            .build(backend),
        Row::Offer(_) => value_offer::Entity::update_many()
            .col_expr(O::DeliverDueOn, Expr::value(date))
            .filter(O::Id.is_in(offers))
            .filter(O::OwnerId.eq(owner_id))
            .build(backend),
        Row::Ask(_) => ask::Entity::update_many()
            .col_expr(A::FollowUpDueOn, Expr::value(date))
            .filter(A::Id.is_in(asks))
            .filter(A::OwnerId.eq(owner_id))
            .build(backend),
    };
    Some(statement)
}

/// Dates the open rows of every owner the migration that adds the dates left in
/// `due_date_pending`; see [`super::owner::drain_pending`]. Returns the owners dated.
pub async fn date_pending(db: &Db) -> Result<usize, ApiError> {
    super::owner::drain_pending(db, "due_date_pending", |txn, owner_id, zone| {
        Box::pin(async move { fix(txn, owner_id, zone).await.map(|_| ()) })
    })
    .await
}
