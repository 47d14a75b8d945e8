//! What the ledger's writes read of a contact row ([`LedgerRow`]), and that read.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::contact;
use sea_orm::sea_query::{ExprTrait, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::domain::relationship::{History, Ledger};
use crate::error::ApiError;
use crate::services::activity::{self, Ends};

/// What the ledger's writes read of a contact row: its ledger as stored, and what the ledger
/// is derived with besides the history (cadence, creation instant).
#[derive(Clone, Debug, FromQueryResult)]
pub struct LedgerRow {
    pub id: Uuid,
    pub cadence_days: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub conversation_count: i64,
    pub first_conversation_at: Option<DateTime<Utc>>,
    pub last_conversation_at: Option<DateTime<Utc>>,
    pub thank_yous_owed: i64,
    pub gives: i64,
    pub asks: i64,
    pub balance: i64,
    pub refresh_at: Option<DateTime<Utc>>,
    pub next_check_in_on: Option<NaiveDate>,
    pub cold_on: Option<NaiveDate>,
    pub one_off_on: Option<NaiveDate>,
    pub suggestion_base: i64,
}

/// The columns of a [`LedgerRow`].
pub const LEDGER_ROW: [contact::Column; 15] = {
    use contact::Column as C;
    [
        C::Id,
        C::CadenceDays,
        C::CreatedAt,
        C::ConversationCount,
        C::FirstConversationAt,
        C::LastConversationAt,
        C::ThankYousOwed,
        C::Gives,
        C::Asks,
        C::Balance,
        C::RefreshAt,
        C::NextCheckInOn,
        C::ColdOn,
        C::OneOffOn,
        C::SuggestionBase,
    ]
};

impl LedgerRow {
    /// The ledger the row stores.
    pub fn ledger(&self) -> Ledger {
        Ledger {
            history: History {
                conversation_count: self.conversation_count,
                first_conversation_at: self.first_conversation_at,
                last_conversation_at: self.last_conversation_at,
                thank_yous_owed: self.thank_yous_owed,
                gives: self.gives,
                asks: self.asks,
                next_planned_at: self.refresh_at,
            },
            balance: self.balance,
            next_check_in_on: self.next_check_in_on,
            cold_on: self.cold_on,
            one_off_on: self.one_off_on,
            suggestion_base: self.suggestion_base,
        }
    }

    /// The first and last past conversations the row stores.
    pub(super) fn ends(&self) -> Ends {
        (self.first_conversation_at, self.last_conversation_at)
    }
}

impl From<&contact::Model> for LedgerRow {
    fn from(m: &contact::Model) -> Self {
        Self {
            id: m.id,
            cadence_days: m.cadence_days,
            created_at: m.created_at,
            conversation_count: m.conversation_count,
            first_conversation_at: m.first_conversation_at,
            last_conversation_at: m.last_conversation_at,
            thank_yous_owed: m.thank_yous_owed,
            gives: m.gives,
            asks: m.asks,
            balance: m.balance,
            refresh_at: m.refresh_at,
            next_check_in_on: m.next_check_in_on,
            cold_on: m.cold_on,
            one_off_on: m.one_off_on,
            suggestion_base: m.suggestion_base,
        }
    }
}

/// A contact's first and last past conversations and first planned one as of an instant, as
/// its participant rows hold them now: each found by one row of the index `(owner_id,
/// contact_id, occurred_at, …)`, however long the contact's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub planned: Option<DateTime<Utc>>,
}

/// The names of the columns of a [`Found`] in a read of [`ledger_rows_read`].
const FOUND: [&str; 3] = ["found_first", "found_last", "found_planned"];

/// Adds the columns of a [`Found`] as of `at` to `select`, a read of `contact` rows of the
/// owner: three correlated subqueries, each the first row of an ordered, bounded range of
/// the participant index.
fn add_found(select: &mut SelectStatement, owner_id: Uuid, at: DateTime<Utc>) {
    use entity::conversation_participant::{Column as P, Entity as Participant};
    use sea_orm::Order;
    use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr};

    let arms = [
        (FOUND[0], Expr::col(P::OccurredAt).lte(at), Order::Asc),
        (FOUND[1], Expr::col(P::OccurredAt).lte(at), Order::Desc),
        (FOUND[2], Expr::col(P::OccurredAt).gt(at), Order::Asc),
    ];
    for (name, bound, order) in arms {
        let first = Query::select()
            .column(P::OccurredAt)
            .from(Participant)
            .and_where(Expr::col((Participant, P::OwnerId)).eq(owner_id))
            .and_where(
                Expr::col((Participant, P::ContactId))
                    .equals((contact::Entity, contact::Column::Id)),
            )
            .and_where(bound)
            .order_by(P::OccurredAt, order)
            .limit(1)
            .to_owned();
        select.expr_as(
            SimpleExpr::SubQuery(None, Box::new(first.into())),
            Alias::new(name),
        );
    }
}

/// A read of [`ledger_rows_read`]: its statement, and whether it has the columns of a
/// [`Found`].
pub struct LedgerRead {
    pub statement: SelectStatement,
    found: bool,
    /// Whether it returns the owner's zone (see [`LedgerRead::with_zone`]).
    zone: bool,
}

/// The name of the owner's zone column in a read of [`ledger_rows_read`].
const OWNER_ZONE: &str = "owner_zone";

impl LedgerRead {
    /// Adds `zone`, a read of the owner's zone, as a column: what confirms a zone the write
    /// assumed (`Owner::unconfirmed`) without a statement of its own.
    pub fn with_zone(&mut self, zone: SelectStatement) {
        use sea_orm::sea_query::{Alias, SimpleExpr};

        self.statement.expr_as(
            SimpleExpr::SubQuery(None, Box::new(zone.into())),
            Alias::new(OWNER_ZONE),
        );
        self.zone = true;
    }
}

/// What [`ledger_rows`] reads: the rows, and the owner's zone when the read has its column
/// and returned a row.
pub(super) type LedgerRows = (Vec<(LedgerRow, Option<Found>)>, Option<Option<String>>);

/// The read of the owner's `contacts` (all of them when `None`) as [`LedgerRow`]s, by id,
/// with the `presence` columns when given, and what each row's participant rows hold as of
/// `found` when given: the first read of every ledger write.
pub fn ledger_rows_read(
    owner_id: Uuid,
    contacts: Option<&[Uuid]>,
    (presence, found): (Option<&activity::PresenceColumns>, Option<DateTime<Utc>>),
    zone: Tz,
) -> LedgerRead {
    use contact::Column as C;

    let query = contact::Entity::find().select_only().columns(LEDGER_ROW);
    let query = match contacts {
        // By primary key, `(owner_id, id)`.
        Some(ids) => query
            .filter(C::Id.is_in(ids.iter().copied()))
            .filter(C::OwnerId.eq(owner_id)),
        None => query.filter(C::OwnerId.eq(owner_id)),
    };
    let mut read = query.order_by_asc(C::Id).into_query();
    if let Some(presence) = presence {
        presence.add_to(&mut read, owner_id, zone);
    }
    if let Some(at) = found {
        add_found(&mut read, owner_id, at);
    }
    LedgerRead {
        statement: read,
        found: found.is_some(),
        zone: false,
    }
}

/// Runs `read`, taking the presence counts of each row into `presence` when given (the read
/// has their columns), each row's [`Found`] when the read has its columns, and the owner's
/// zone when it has that.
pub(super) async fn ledger_rows(
    conn: &impl ConnectionTrait,
    read: &LedgerRead,
    mut presence: Option<&mut activity::PresenceColumns>,
) -> Result<LedgerRows, ApiError> {
    let mut rows = Vec::new();
    let mut zone = None;
    for row in conn.query_all(&read.statement).await? {
        if read.zone && zone.is_none() {
            zone = Some(row.try_get("", OWNER_ZONE)?);
        }
        let ledger_row = LedgerRow::from_query_result(&row, "")?;
        if let Some(presence) = presence.as_deref_mut() {
            presence.read(ledger_row.id, &row)?;
        }
        let found = if read.found {
            Some(Found {
                first: row.try_get("", FOUND[0])?,
                last: row.try_get("", FOUND[1])?,
                planned: row.try_get("", FOUND[2])?,
            })
        } else {
            None
        };
        rows.push((ledger_row, found));
    }
    Ok((rows, zone))
}
