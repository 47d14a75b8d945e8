//! The rows the relationship rules need, gathered in a fixed number of statements whatever the
//! number of contacts.
//!
//! Two shapes, chosen by how much of the network a request needs:
//! - a few contacts (one contact, a page): one statement, the union of three queries grouped by
//!   contact in the database (conversations, gives, asks), each narrowed to those contacts;
//! - the whole network: a [`Ledger`] of the owner's conversations and participants (two range
//!   scans of the owner's rows, joined in memory) and one union of the gives and asks.
//!
//! The whole network is never joined in SQL: the join looks each participant row's conversation
//! up by its random primary key, one b-tree descent per row into an index shared by every user,
//! which missed the page cache on almost every row of a 100-user SQLite file (23 ms for 10,000
//! participants, against under 5 ms for the two range scans; see BENCHMARKS.md).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{ask, conversation, conversation_participant, user, value_offer};
use sea_orm::sea_query::{Expr, ExprTrait, SelectStatement, UnionType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
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

/// A row of a history union: arm, contact, count, first and last `occurred_at`, owed.
type UnionRow = (
    i64,
    Uuid,
    i64,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    i64,
);

/// The history of each of the owner's contacts in `contacts` as of `now`, in one statement.
/// Meant for a page of contacts or fewer. Contacts with no record at all are absent.
pub async fn histories_of(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contacts: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, History>, ApiError> {
    let mut union = held_by_contact(owner_id, contacts, now);
    union
        .union(UnionType::All, gives_by_contact(owner_id, Some(contacts)))
        .union(UnionType::All, asks_by_contact(owner_id, Some(contacts)));
    let mut map: HashMap<Uuid, History> = HashMap::new();
    for row in conn.query_all(&union).await? {
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
            _ => h.asks = n,
        }
    }
    Ok(map)
}

/// The owner's [`Ledger`] and the history of every one of their contacts as of `now`, in
/// three statements run together. Contacts with no record at all are absent.
pub async fn all_histories(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(Ledger, HashMap<Uuid, History>), ApiError> {
    let mut union = gives_by_contact(owner_id, None);
    union.union(UnionType::All, asks_by_contact(owner_id, None));
    let (ledger, rows) = tokio::try_join!(Ledger::load(conn, owner_id, now), async {
        Ok::<_, ApiError>(conn.query_all(&union).await?)
    })?;
    let mut map = ledger.histories();
    for row in rows {
        let (arm, contact, n, ..): UnionRow = row.try_get_many_by_index()?;
        let h = map.entry(contact).or_default();
        if arm == GIVES {
            h.gives = n;
        } else {
            h.asks = n;
        }
    }
    Ok((ledger, map))
}

/// One of the owner's conversations.
pub struct Entry {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub thank_you: ThankYouStatus,
    pub participants: Vec<Uuid>,
}

/// All of the owner's conversations, oldest first, each with its participants. Those after
/// `now` (planned ones) are kept for their next steps but are not part of any history.
pub struct Ledger {
    pub now: DateTime<Utc>,
    pub entries: Vec<Entry>,
}

impl Ledger {
    /// Two statements, run together: the owner's conversations (the
    /// `(owner_id, occurred_at, id)` index), and every participant row of the owner (read from
    /// the covering `(owner_id, contact_id, conversation_id)` index alone).
    pub async fn load(
        conn: &impl ConnectionTrait,
        owner_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Self, ApiError> {
        use conversation::Column as C;
        use conversation_participant::Column as P;

        let conversations = conversation::Entity::find()
            .select_only()
            .columns([C::Id, C::OccurredAt, C::ThankYouStatus])
            .filter(C::OwnerId.eq(owner_id))
            .order_by_asc(C::OccurredAt)
            .order_by_asc(C::Id)
            .into_tuple::<(Uuid, DateTime<Utc>, String)>()
            .all(conn);
        let participants = conversation_participant::Entity::find()
            .select_only()
            .columns([P::ContactId, P::ConversationId])
            .filter(P::OwnerId.eq(owner_id))
            .into_tuple::<(Uuid, Uuid)>()
            .all(conn);
        let (rows, participants) = tokio::try_join!(conversations, participants)?;
        let mut entries: Vec<Entry> = rows
            .into_iter()
            .map(|(id, occurred_at, status)| Entry {
                id,
                occurred_at,
                thank_you: ThankYouStatus::from_stored(&status)
                    .unwrap_or(ThankYouStatus::NotNeeded),
                participants: Vec::new(),
            })
            .collect();
        let at: HashMap<Uuid, usize> = entries.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        for (contact_id, conversation_id) in participants {
            if let Some(&i) = at.get(&conversation_id) {
                entries[i].participants.push(contact_id);
            }
        }
        Ok(Self { now, entries })
    }

    /// The conversations that have happened by `now`, oldest first.
    pub fn held(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|c| c.occurred_at <= self.now)
    }

    /// Each conversation's participants.
    pub fn participants(&self) -> HashMap<Uuid, &[Uuid]> {
        self.entries
            .iter()
            .map(|c| (c.id, c.participants.as_slice()))
            .collect()
    }

    /// Each participant's conversations: count, first and last, thank-yous owed.
    fn histories(&self) -> HashMap<Uuid, History> {
        let mut map: HashMap<Uuid, History> = HashMap::new();
        for c in self.held() {
            for contact in &c.participants {
                let h = map.entry(*contact).or_default();
                h.conversation_count += 1;
                h.first_conversation_at = Some(
                    h.first_conversation_at
                        .map_or(c.occurred_at, |t| Ord::min(t, c.occurred_at)),
                );
                h.last_conversation_at = Some(
                    h.last_conversation_at
                        .map_or(c.occurred_at, |t| Ord::max(t, c.occurred_at)),
                );
                if c.thank_you == ThankYouStatus::Owed {
                    h.thank_yous_owed += 1;
                }
            }
        }
        map
    }

    /// The day each participant was first met, as instants.
    pub fn first_met(&self) -> HashMap<Uuid, DateTime<Utc>> {
        let mut first: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        for c in self.held() {
            for contact in &c.participants {
                first
                    .entry(*contact)
                    .and_modify(|t| *t = Ord::min(*t, c.occurred_at))
                    .or_insert(c.occurred_at);
            }
        }
        first
    }
}

/// Past conversations per participant among `contacts`: the union's first arm.
fn held_by_contact(owner_id: Uuid, contacts: &[Uuid], now: DateTime<Utc>) -> SelectStatement {
    use conversation::Column as C;
    use conversation_participant::Column as P;

    conversation_participant::Entity::find()
        .select_only()
        .column_as(Expr::val(HELD), "arm")
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
        .filter(P::ContactId.is_in(contacts.iter().copied()))
        .filter(Expr::col((conversation::Entity, C::OccurredAt)).lte(now))
        .group_by(P::ContactId)
        .into_query()
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
        .filter(O::Status.is_in([
            OfferStatus::Offered.as_str(),
            OfferStatus::Acknowledged.as_str(),
        ]))
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
        .filter(A::Status.is_in([AskStatus::Asked.as_str(), AskStatus::Granted.as_str()]))
        .group_by(A::ContactId);
    if let Some(ids) = contacts {
        query = query.filter(A::ContactId.is_in(ids.iter().copied()));
    }
    query.into_query()
}
