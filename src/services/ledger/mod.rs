//! The relationship ledger: each contact row stores its relationship's inputs (see
//! `domain::relationship::Ledger`), so reads filter and sort on indexed columns instead of
//! regrouping the whole network's history.
//!
//! **Kept exact on write.** Every write that changes an input moves the stored ledgers of the
//! contacts it touched, inside its own transaction, at a cost that does not grow with their
//! history: a new conversation, offer or ask moves the stored counts by one and compares its
//! date with the stored ends ([`add_conversation`], [`record_moved`]); a conversation updated
//! or deleted moves the counts by the difference of its two sides and reads each
//! participant's first, last and next planned instants again, one row of the participant
//! index each ([`move_conversation`]); a new cadence re-derives the dates from the stored
//! history ([`restate`]). A row that time has put out of date is recomputed from its records
//! instead ([`refresh`], index range scans bounded by its own history). On PostgreSQL each
//! write first locks the owner's row: two writes of one owner's ledger then run one after
//! the other, and the second reads the first's committed counts, so neither overwrites the
//! other's (a time-zone change takes the same lock by updating that row). SQLite's single
//! writer already runs them one at a time. Where a row's first or last past conversation
//! moves, so do the owner's activity counts of contacts by those dates
//! (`services::activity`), in the same transaction.
//!
//! **Time moves without writes.** Which conversations are past depends on the clock. A row
//! stores `refresh_at`, its first planned conversation: from then on its history is out of
//! date. Reads call [`catch_up`] first (follow-ups and suggestions put its probe,
//! [`stale_arms`], in their own first statement): one index range scan finds the owner's rows
//! whose `refresh_at` has passed (or whose last conversation is ahead of a clock set back),
//! and, only if there are some, one write recomputes them. Its cost is the number of planned
//! conversations that became past since the last read, not the size of the network. The
//! dates that turn a contact due, cold or one-off are stored as dates and compared with
//! today at read time, so they need no refresh at all.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::contact;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set,
};
use uuid::Uuid;

use super::activity::{self, Ends};
use super::owner::Owner;
use super::relationships::ledger_histories;
use crate::db::{Db, Write};
use crate::domain::relationship::{History, Ledger};
use crate::error::ApiError;

mod rows;
mod verify;
use rows::ledger_rows;
pub use rows::{LEDGER_ROW, LedgerRead, LedgerRow, ledger_rows_read};
pub use verify::{Difference, rebuild, verify, verify_owner};
use verify::{fix_name_keys, owners};

/// The migrations that add ledger columns and mark every existing row out of date; the
/// second also fills `name_key` with SQL's ASCII-only `lower`.
pub const MIGRATIONS: [&str; 2] = [
    "m20261201_000010_contact_ledger",
    "m20261201_000012_suggestion_rank",
];

/// Applies pending migrations; when they include one of [`MIGRATIONS`], fills in the ledger
/// and the name keys of every existing contact; then counts the activity and stores the
/// follow-up due dates of the owners the migrations that added them left pending. A process
/// stopped in between leaves rows marked out of date, which the next read of each owner
/// brings up to date, name keys that `rapport ledger verify` reports and `rapport ledger
/// rebuild` repairs, and owners still pending, which the next start takes up.
pub async fn migrate(db: &Db, now: DateTime<Utc>) -> anyhow::Result<()> {
    let applied = crate::db::migrate_up(db).await?;
    if applied
        .iter()
        .any(|name| MIGRATIONS.contains(&name.as_str()))
    {
        let rows = catch_up_everyone(db, now).await?;
        let mut names = 0;
        for owner_id in owners(db.reader()).await? {
            names += db
                .write(move |txn| Box::pin(fix_name_keys(txn, owner_id)))
                .await?;
        }
        tracing::info!(rows, names, "filled in the relationship ledger");
    }
    let counted = super::activity::count_pending(db).await?;
    if counted > 0 {
        tracing::info!(owners = counted, "counted activity by day, week and month");
    }
    let dated = super::due_dates::date_pending(db).await?;
    if dated > 0 {
        tracing::info!(owners = dated, "stored the due dates of open follow-ups");
    }
    Ok(())
}

/// The ledger of a contact with no records yet.
pub fn fresh(cadence_days: Option<i32>, created_at: DateTime<Utc>, zone: Tz) -> Ledger {
    Ledger::of(History::default(), cadence_days, created_at, zone)
}

/// Sets the ledger columns of `model` to `ledger`.
pub fn set(model: &mut contact::ActiveModel, ledger: &Ledger) {
    let h = &ledger.history;
    model.conversation_count = Set(h.conversation_count);
    model.first_conversation_at = Set(h.first_conversation_at);
    model.last_conversation_at = Set(h.last_conversation_at);
    model.thank_yous_owed = Set(h.thank_yous_owed);
    model.gives = Set(h.gives);
    model.asks = Set(h.asks);
    model.balance = Set(ledger.balance);
    model.refresh_at = Set(h.next_planned_at);
    model.next_check_in_on = Set(ledger.next_check_in_on);
    model.cold_on = Set(ledger.cold_on);
    model.one_off_on = Set(ledger.one_off_on);
    model.suggestion_base = Set(ledger.suggestion_base);
}

/// The history the row stores (as of its last refresh).
pub fn stored_history(m: &contact::Model) -> History {
    LedgerRow::from(m).ledger().history
}

/// The ledger the row stores.
pub fn stored(m: &contact::Model) -> Ledger {
    LedgerRow::from(m).ledger()
}

/// What [`recompute`] gives: the ledgers recomputed, the first and last conversations each
/// row stored before, and the ledgers as stored.
type Recomputed = (
    Vec<(Uuid, Ledger)>,
    HashMap<Uuid, Ends>,
    HashMap<Uuid, Ledger>,
);

/// The ledger of the owner's `contacts` (all of them when `None`) recomputed from their
/// records as of `now`, in two statements, with what each row stored before.
async fn recompute(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contacts: Option<&[Uuid]>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<Recomputed, ApiError> {
    let read = ledger_rows_read(owner_id, contacts, (None, None), zone);
    let (rows, _) = ledger_rows(conn, &read, None).await?;
    let mut histories = ledger_histories(conn, owner_id, contacts, now).await?;
    let mut ends = HashMap::with_capacity(rows.len());
    let mut stored = HashMap::with_capacity(rows.len());
    let mut ledgers = Vec::with_capacity(rows.len());
    for (row, _) in rows {
        ends.insert(row.id, row.ends());
        stored.insert(row.id, row.ledger());
        let history = histories.remove(&row.id).unwrap_or_default();
        let ledger = Ledger::of(history, row.cadence_days, row.created_at, zone);
        ledgers.push((row.id, ledger));
    }
    Ok((ledgers, ends, stored))
}

/// Rows per `UPDATE` when storing many ledgers. Each row of a chunk adds a `WHEN` to every
/// column's `CASE`, which the database tries in turn for each row: the work per row grows
/// with the chunk. At 100 a rebuild of 100,000 contacts took 13.7 s on SQLite, mostly there.
const STORE_CHUNK: usize = 16;

/// Writes `rows` with one `UPDATE` per chunk of contacts: each column set to a `CASE` on the
/// id, so that a write touching three participants costs one statement, not three. Where the
/// rows' ledgers as stored are known (`stored`), only the columns that change in some row of
/// the chunk are set, and a chunk where none changes is not written: SQLite rewrites the
/// entries of every index on a column an `UPDATE` sets, even to the same value, and seven
/// indexes of `contact` are on ledger columns.
async fn store(
    conn: &impl Write,
    owner_id: Uuid,
    rows: &[(Uuid, Ledger)],
    stored: &HashMap<Uuid, Ledger>,
) -> Result<(), ApiError> {
    use contact::Column as C;
    use sea_orm::sea_query::{CaseStatement, Expr, SimpleExpr};

    type Value<'v> = &'v dyn Fn(&Ledger) -> sea_orm::Value;
    for chunk in rows.chunks(STORE_CHUNK) {
        let column = |col: C, value: Value| -> Option<(C, SimpleExpr)> {
            let changes = chunk.iter().any(|(id, ledger)| {
                stored
                    .get(id)
                    .is_none_or(|before| value(before) != value(ledger))
            });
            if !changes {
                return None;
            }
            let mut case = CaseStatement::new();
            for (id, ledger) in chunk {
                case = case.case(Expr::col(C::Id).eq(*id), Expr::val(value(ledger)));
            }
            Some((col, case.finally(Expr::col(col)).into()))
        };
        let values = [
            column(C::ConversationCount, &|l| {
                l.history.conversation_count.into()
            }),
            column(C::FirstConversationAt, &|l| {
                l.history.first_conversation_at.into()
            }),
            column(C::LastConversationAt, &|l| {
                l.history.last_conversation_at.into()
            }),
            column(C::ThankYousOwed, &|l| l.history.thank_yous_owed.into()),
            column(C::Gives, &|l| l.history.gives.into()),
            column(C::Asks, &|l| l.history.asks.into()),
            column(C::Balance, &|l| l.balance.into()),
            column(C::RefreshAt, &|l| l.history.next_planned_at.into()),
            column(C::NextCheckInOn, &|l| l.next_check_in_on.into()),
            column(C::ColdOn, &|l| l.cold_on.into()),
            column(C::OneOffOn, &|l| l.one_off_on.into()),
            column(C::SuggestionBase, &|l| l.suggestion_base.into()),
        ];
        let mut values = values.into_iter().flatten().peekable();
        if values.peek().is_none() {
            continue;
        }
        let mut update = contact::Entity::update_many();
        for (col, value) in values {
            update = update.col_expr(col, value);
        }
        // Found by primary key, `(owner_id, id)`. Its answer is not needed: deferred, it goes
        // with the write's next statement.
        let update = update
            .filter(C::Id.is_in(chunk.iter().map(|(id, _)| *id)))
            .filter(C::OwnerId.eq(owner_id));
        conn.defer(update.build(conn.get_database_backend()))
            .await?;
    }
    Ok(())
}

/// A conversation as the ledger counts it, on one side of a write: when it happened, whether
/// its thank-you is owed, and who took part.
#[derive(Clone, Copy, Debug)]
pub struct Held<'a> {
    pub at: DateTime<Utc>,
    pub owed: bool,
    pub participants: &'a [Uuid],
}

impl Held<'_> {
    /// Whether it counts in `contact_id`'s history at `now`: past, and they took part.
    fn counts_for(&self, contact_id: Uuid, now: DateTime<Utc>) -> bool {
        self.at <= now && self.participants.contains(&contact_id)
    }
}

/// Adds a new conversation to its participants' ledgers, in the caller's transaction: the
/// stored counts moved by one and the first, last and next planned instants compared with its
/// date (see [`adjust_stored`]). The read brings the `presence` counts the activity needs,
/// after the participants' rows were written; the moves of first and last conversations are
/// added to `change`, for the caller to apply with its own. Returns how many of the
/// participants the read found among the owner's contacts.
pub async fn add_conversation(
    conn: &impl Write,
    owner: &mut Owner,
    held: Held<'_>,
    now: DateTime<Utc>,
    change: &mut activity::Change,
    presence: &mut activity::PresenceColumns,
) -> Result<usize, ApiError> {
    let Held { at, owed, .. } = held;
    let add = |_: Uuid, h: &mut History| {
        if at <= now {
            h.conversation_count += 1;
            h.thank_yous_owed += i64::from(owed);
            h.first_conversation_at = Some(h.first_conversation_at.map_or(at, |f| Ord::min(f, at)));
            h.last_conversation_at = Some(h.last_conversation_at.map_or(at, |l| Ord::max(l, at)));
        } else {
            h.next_planned_at = Some(h.next_planned_at.map_or(at, |p| Ord::min(p, at)));
        }
    };
    let moved = Moved {
        now,
        presence: Some(presence),
        found: false,
    };
    adjust_stored(conn, owner, held.participants, moved, add, change).await
}

/// A conversation updated (`after` some) or deleted (`after` none), its participant rows
/// written already: the ledgers of everyone who took part before or after it moved, in the
/// caller's transaction. Counts move by the difference of the two sides; the first, last and
/// next planned instants are read again, each one row of the participant index (see
/// [`Found`](rows::Found)), so that the cost does not grow with a participant's history.
pub async fn move_conversation(
    conn: &impl Write,
    owner: &mut Owner,
    (before, after): (Held<'_>, Option<Held<'_>>),
    now: DateTime<Utc>,
    change: &mut activity::Change,
    presence: &mut activity::PresenceColumns,
) -> Result<(), ApiError> {
    let mut touched = before.participants.to_vec();
    touched.extend(
        after
            .iter()
            .flat_map(|held| held.participants.iter().copied()),
    );
    touched.sort_unstable();
    touched.dedup();
    let adjust = |id: Uuid, h: &mut History| {
        for (side, sign) in [(Some(before), -1), (after, 1)] {
            if let Some(held) = side.filter(|held| held.counts_for(id, now)) {
                h.conversation_count += sign;
                h.thank_yous_owed += sign * i64::from(held.owed);
            }
        }
    };
    let moved = Moved {
        now,
        presence: Some(presence),
        found: true,
    };
    adjust_stored(conn, owner, &touched, moved, adjust, change).await?;
    Ok(())
}

/// Stores the ledger of the owner's `contacts` again from their stored history, after a
/// change of what it is derived with besides (their cadence), in the caller's transaction.
pub async fn restate(
    conn: &impl Write,
    owner: &mut Owner,
    contacts: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut change = activity::Change::default();
    let moved = Moved {
        now,
        presence: None,
        found: false,
    };
    adjust_stored(conn, owner, contacts, moved, |_, _| {}, &mut change).await?;
    activity::apply(conn, owner, &change).await
}

/// What [`adjust_stored`] reads besides the rows, and as of when.
struct Moved<'a> {
    now: DateTime<Utc>,
    presence: Option<&'a mut activity::PresenceColumns>,
    /// Whether to read the first, last and planned instants from the participant rows rather
    /// than keep the ones stored (see [`Found`](rows::Found)).
    found: bool,
}

/// Moves the ledgers of `contacts` by `adjust` from their rows as stored, in the caller's
/// transaction: one read (with the presence columns and the participant rows' instants, when
/// asked) and one write, so that the cost does not grow with a contact's history. A row out
/// of date at `now` is recomputed from its records instead, as [`refresh`] does. The moves of
/// first and last conversations are added to `change`. Returns how many of `contacts` the
/// read found among the owner's.
async fn adjust_stored(
    conn: &impl Write,
    owner: &mut Owner,
    contacts: &[Uuid],
    Moved {
        now,
        presence,
        found,
    }: Moved<'_>,
    adjust: impl Fn(Uuid, &mut History),
    change: &mut activity::Change,
) -> Result<usize, ApiError> {
    if contacts.is_empty() {
        return Ok(0);
    }
    // A zone the write assumed is confirmed by this read (see `Owner::hinted`).
    let zone = owner.zone_or_hint(conn).await?;
    let owner_id = owner.id;
    // Read after the lock: on PostgreSQL, the counts every earlier writer committed.
    let mut read = ledger_rows_read(
        owner_id,
        Some(contacts),
        (presence.as_deref(), found.then_some(now)),
        zone,
    );
    if let Some(zone_read) = owner.unconfirmed() {
        read.with_zone(zone_read);
    }
    let (rows, stored_zone) = ledger_rows(conn, &read, presence).await?;
    if let Some(stored_zone) = stored_zone {
        owner.confirm(stored_zone)?;
    }
    let found_rows = rows.len();
    let before: HashMap<Uuid, Ends> = rows.iter().map(|(row, _)| (row.id, row.ends())).collect();
    let mut stored = HashMap::with_capacity(rows.len());
    let mut stale = Vec::new();
    let mut moved = Vec::with_capacity(rows.len());
    for (row, found) in rows {
        let current = row.ledger();
        if current.is_stale(now) {
            stale.push(row.id);
        } else {
            let mut h = current.history.clone();
            adjust(row.id, &mut h);
            if let Some(found) = found {
                h.first_conversation_at = found.first;
                h.last_conversation_at = found.last;
                h.next_planned_at = found.planned;
            }
            moved.push((
                row.id,
                Ledger::of(h, row.cadence_days, row.created_at, zone),
            ));
        }
        stored.insert(row.id, current);
    }
    if !stale.is_empty() {
        moved.extend(recompute(conn, owner_id, Some(&stale), zone, now).await?.0);
    }
    store(conn, owner_id, &moved, &stored).await?;
    change.extend(ends_moved(&before, &moved));
    Ok(found_rows)
}

/// The change to the activity counts of first and last conversations when the rows that had
/// `before` are stored as `after`.
fn ends_moved(before: &HashMap<Uuid, Ends>, after: &[(Uuid, Ledger)]) -> activity::Change {
    let mut change = activity::Change::default();
    for (id, ledger) in after {
        let (first, last) = before.get(id).copied().unwrap_or_default();
        let h = &ledger.history;
        change.replace(first, h.first_conversation_at, activity::Fact::First);
        change.replace(last, h.last_conversation_at, activity::Fact::Last);
    }
    change
}

/// Recomputes the ledger of the owner's `contacts` as of `now`, in the caller's transaction,
/// and moves the activity counts of their first and last conversations. Ids that are not (or
/// no longer) the owner's contacts are skipped.
pub async fn refresh(
    conn: &impl Write,
    owner: &mut Owner,
    contacts: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if contacts.is_empty() {
        return Ok(());
    }
    let mut ids = contacts.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let zone = owner.zone(conn).await?;
    let owner_id = owner.id;
    let (rows, before, stored) = recompute(conn, owner_id, Some(&ids), zone, now).await?;
    store(conn, owner_id, &rows, &stored).await?;
    activity::apply(conn, owner, &ends_moved(&before, &rows)).await
}

/// An offer or an ask as the ledger and the activity counts see it, on one side of a write.
#[derive(Clone, Copy, Debug)]
pub struct Counted {
    pub contact_id: Uuid,
    /// Whether it counts in the contact's balance (a given offer, an ask awaiting an answer).
    pub in_balance: bool,
    /// When it was given or made, the date it is counted on.
    pub at: Option<DateTime<Utc>>,
}

impl Counted {
    /// The contact whose balance it counts in, if any.
    fn in_balance(side: Option<Self>) -> Option<Uuid> {
        side.filter(|c| c.in_balance).map(|c| c.contact_id)
    }

    /// Whether a write from `before` to `after` moves a count: its date, or the balance it
    /// counts in. A write that moves none needs neither the owner's zone nor a ledger write.
    pub fn moves(before: Option<Self>, after: Option<Self>) -> bool {
        before.and_then(|c| c.at) != after.and_then(|c| c.at)
            || Self::in_balance(before) != Self::in_balance(after)
    }
}

/// What a kind of record counts: its date as a fact of the activity, and how many of a
/// contact's records of the kind are in the balance, in the ledger's history.
#[derive(Clone, Copy)]
pub struct Counting {
    pub fact: fn(DateTime<Utc>) -> activity::Fact,
    pub count: fn(&mut History) -> &mut i64,
}

/// An offer or ask written: `before` none for a create, `after` none for a delete. Counts its
/// date as moved, and moves the count in the balance of the ledgers the write changed by one
/// (see [`adjust_stored`]), in the caller's transaction, with the owner read once and one
/// activity upsert.
pub async fn record_moved(
    conn: &impl Write,
    owner: &mut Owner,
    counting: Counting,
    before: Option<Counted>,
    after: Option<Counted>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut change = activity::Change::default();
    let (was_at, is_at) = (before.and_then(|c| c.at), after.and_then(|c| c.at));
    change.replace(was_at, is_at, counting.fact);
    let (was, is) = (Counted::in_balance(before), Counted::in_balance(after));
    if was != is {
        let touched: Vec<Uuid> = was.into_iter().chain(is).collect();
        let adjust = |id: Uuid, h: &mut History| {
            let count = (counting.count)(h);
            *count += i64::from(Some(id) == is) - i64::from(Some(id) == was);
        };
        let moved = Moved {
            now,
            presence: None,
            found: false,
        };
        adjust_stored(conn, owner, &touched, moved, adjust, &mut change).await?;
    }
    activity::apply(conn, owner, &change).await
}

/// Recomputes the ledger of every one of the owner's contacts (after a time-zone change, or
/// to repair), in the caller's transaction. The activity counts of first and last
/// conversations are not moved: the caller recounts the owner's activity after it.
pub async fn refresh_all(
    conn: &impl Write,
    owner: &mut Owner,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let zone = owner.zone(conn).await?;
    let (rows, _, stored) = recompute(conn, owner.id, None, zone, now).await?;
    store(conn, owner.id, &rows, &stored).await?;
    Ok(rows.len())
}

/// The owner's rows out of date at `now` (see the module comment), up to `limit` of each kind,
/// possibly twice: the statement of [`stale_arms`].
async fn stale(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    now: DateTime<Utc>,
    limit: Option<u64>,
) -> Result<Vec<Uuid>, ApiError> {
    let Some(statement) = super::union_all("stale", stale_arms(owner_id, now, limit)) else {
        return Ok(Vec::new());
    };
    conn.query_all(&statement)
        .await?
        .into_iter()
        .map(|row| Ok(row.try_get_by_index::<Uuid>(0)?))
        .collect()
}

/// The two reads of [`stale`], one range scan of an index each: rows whose first planned
/// conversation has come, on `(owner_id, refresh_at)`, and rows whose last conversation is
/// ahead of a clock set back, on `(owner_id, last_conversation_at, id)`. Two statements in a
/// union rather than one condition with `OR`: PostgreSQL's planner reads such a condition by
/// filtering every row of the owner, and with a limit of one that is the whole network when
/// nothing is out of date. Each is ordered as its index, nearest to `now` first: with a limit
/// and no order, a plan made without the values (PostgreSQL's generic plans, see
/// [`Db::generic_reader`](crate::db::Db::generic_reader)) may expect a third of the owner's
/// rows to match and walk the table for the first, every row when none does; in the index's
/// order the walk is the only plan that needs no sort.
pub fn stale_arms(
    owner_id: Uuid,
    now: DateTime<Utc>,
    limit: Option<u64>,
) -> [sea_orm::sea_query::SelectStatement; 2] {
    use contact::Column as C;
    use sea_orm::QueryTrait;

    let arm = |condition: sea_orm::sea_query::SimpleExpr, order: C, direction| {
        contact::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::OwnerId.eq(owner_id))
            .filter(condition)
            .order_by(order, direction)
            .limit(limit)
            .into_query()
    };
    [
        arm(C::RefreshAt.lte(now), C::RefreshAt, Order::Desc),
        arm(
            C::LastConversationAt.gt(now),
            C::LastConversationAt,
            Order::Asc,
        ),
    ]
}

/// Brings the owner's out-of-date rows up to `now` before a read: one indexed query, and a
/// write only when some rows are out of date.
pub async fn catch_up(db: &Db, owner_id: Uuid, now: DateTime<Utc>) -> Result<(), ApiError> {
    if stale(db.reader(), owner_id, now, Some(1)).await?.is_empty() {
        return Ok(());
    }
    bring_up_to_date(db, owner_id, now).await
}

/// Brings the owner's out-of-date rows up to `now`, in one write: for a read that found some
/// with [`stale_arms`] in a statement of its own.
pub async fn bring_up_to_date(db: &Db, owner_id: Uuid, now: DateTime<Utc>) -> Result<(), ApiError> {
    db.write(move |txn| {
        Box::pin(async move {
            let ids = stale(txn, owner_id, now, None).await?;
            refresh(txn, &mut Owner::new(owner_id), &ids, now).await
        })
    })
    .await
}

/// Brings every owner's out-of-date rows up to `now`, one transaction per owner that has
/// some: after the migration that adds the ledger (which marks every row out of date), and
/// at every start-up, where it usually finds nothing.
pub async fn catch_up_everyone(db: &Db, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let mut caught_up = 0;
    for owner_id in owners(db.reader()).await? {
        let ids = stale(db.reader(), owner_id, now, None).await?;
        if ids.is_empty() {
            continue;
        }
        caught_up += ids.len();
        db.write(move |txn| {
            Box::pin(async move {
                let ids = stale(txn, owner_id, now, None).await?;
                refresh(txn, &mut Owner::new(owner_id), &ids, now).await
            })
        })
        .await?;
    }
    Ok(caught_up)
}
