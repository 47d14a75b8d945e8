//! `activity`: each owner's counts by local day, week and month (see the migration that
//! creates the table), so that statistics read one row per period instead of the records of a
//! range.
//!
//! **Kept exact on write.** A write describes what it adds and removes as dated facts (a
//! [`Change`]) and calls [`apply`] in its transaction, after its own statements. Day counts
//! move by the facts alone. The people of a week or month are distinct contacts, so a fact
//! moves them only when it makes a contact's first conversation of the period or removes its
//! last: `apply` counts the contact's conversations in the period after the write (an index
//! range scan stopped at one more row than the write added) and subtracts the write's own,
//! which gives the count before it. Updates are relative (`n = n + delta`); on PostgreSQL
//! the caller holds the owner's row lock (see `ledger`), so the count after one write is read
//! only once the previous writer of that owner has committed.
//!
//! **Time moves without writes.** Rows count planned conversations on their date too, and a
//! read uses only periods that ended before its own day began: every conversation in them is
//! past by then. The counts of contacts by their first and last past conversation follow the
//! ledger's stored columns instead: `ledger` moves them wherever it writes those columns, and
//! reads bring the ledger up to date before using them. The rows depend on the owner's time
//! zone; a zone change recounts them in its transaction ([`rebuild_owner`]), and `rapport
//! ledger verify` compares them with a recount.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{activity, ask, conversation_participant, value_offer};
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, OnConflict, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryResult, QuerySelect,
    QueryTrait, Set,
};
use uuid::Uuid;

use super::owner::Owner;
use super::union_all;
use crate::db::Write;
pub use crate::domain::activity::{
    Change, ContactEnds, Counts, DAY, Ends, Fact, Key, Presence, period_of,
};
use crate::domain::activity::{deltas, people_moved};
use crate::domain::relationship::start_of_day;
use crate::domain::stats::{Granularity, next_bucket_start};
use crate::error::ApiError;

mod recount;
pub use recount::{count_pending, rebuild_owner, recount, wrong};

/// A stored row's counts.
fn counts_of(m: &activity::Model) -> Counts {
    Counts {
        conversations: m.conversations,
        thank_yous_sent: m.thank_yous_sent,
        thank_yous_owed: m.thank_yous_owed,
        people: m.people,
        offers: m.offers,
        asks: m.asks,
        firsts: m.firsts,
        lasts: m.lasts,
    }
}

/// Counts `change` in the owner's rows, in the caller's transaction, after the write's own
/// statements: at most three statements (the owner's time zone, unless the transaction read it
/// already; the presence counts when the change moves a contact in or out of a period; one
/// upsert), none for an empty change.
pub async fn apply(conn: &impl Write, owner: &mut Owner, change: &Change) -> Result<(), ApiError> {
    if change.is_empty() {
        return Ok(());
    }
    apply_with(conn, owner, change, None).await
}

/// [`apply`], with the presence counts already read with the rows of the change's contacts
/// when `read` has them for every (contact, period) the change moves; read here otherwise.
pub async fn apply_with(
    conn: &impl Write,
    owner: &mut Owner,
    change: &Change,
    read: Option<PresenceColumns>,
) -> Result<(), ApiError> {
    if change.is_empty() {
        return Ok(());
    }
    let zone = owner.zone(conn).await?;
    let owner_id = owner.id;
    let (mut rows, presence) = deltas(change, zone);
    let after = match read.and_then(|read| read.counts_for(&presence)) {
        Some(after) => after,
        None => conversations_in(conn, owner_id, zone, &presence).await?,
    };
    for ((key, net), after) in presence.iter().zip(after) {
        // `after` is capped at one more than the write added (see `conversations_in`).
        let moved = people_moved(*net, after);
        if moved != 0 {
            let (_, granularity, starts_on) = *key;
            rows.entry((period_of(granularity), starts_on))
                .or_default()
                .people += moved;
        }
    }
    rows.retain(|_, counts| !counts.is_zero());
    upsert(conn, owner_id, &rows).await
}

/// For each (contact, period) of `presence`, how many of the contact's conversations fall in
/// it, counted up to one more than the net number the write added (all [`apply`] needs):
/// one `UNION ALL` of index range scans of `(owner_id, contact_id, occurred_at, …)`.
async fn conversations_in(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
    presence: &BTreeMap<Presence, i64>,
) -> Result<Vec<i64>, ApiError> {
    let Some(statement) = presence_probe(owner_id, zone, presence) else {
        return Ok(Vec::new());
    };
    let mut counts = vec![0; presence.len()];
    for row in conn.query_all(&statement).await? {
        let (i, n): (i64, i64) = row.try_get_many_by_index()?;
        if let Some(count) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
            *count = n;
        }
    }
    Ok(counts)
}

/// The statement of [`conversations_in`]: one arm per (contact, period), in order.
pub fn presence_probe(
    owner_id: Uuid,
    zone: Tz,
    presence: &BTreeMap<Presence, i64>,
) -> Option<sea_orm::sea_query::SelectStatement> {
    use conversation_participant::Column as P;

    let arms =
        presence
            .iter()
            .enumerate()
            .map(|(i, ((contact_id, granularity, starts_on), net))| {
                let until = next_bucket_start(*starts_on, *granularity);
                let rows = Query::select()
                    .expr(Expr::val(1))
                    .from(conversation_participant::Entity)
                    .and_where(Expr::col(P::OwnerId).eq(owner_id))
                    .and_where(Expr::col(P::ContactId).eq(*contact_id))
                    .and_where(Expr::col(P::OccurredAt).gte(start_of_day(*starts_on, zone)))
                    .and_where(Expr::col(P::OccurredAt).lt(start_of_day(until, zone)))
                    .limit(cap(*net))
                    .to_owned();
                Query::select()
                    .expr_as(Expr::val(i as i64), Alias::new("arm"))
                    .expr_as(Expr::col(Asterisk).count(), Alias::new("n"))
                    .from_subquery(rows, Alias::new("r"))
                    .to_owned()
            });
    union_all("presence", arms)
}

/// The presence counts of a change (see [`apply`]) as columns of a read of its contacts' rows,
/// so that they cost no statement of their own: one correlated count for each distinct
/// period and cap, evaluated for each contact row the read returns, by the same index range
/// scan as [`presence_probe`]'s.
#[derive(Debug)]
pub struct PresenceColumns {
    /// The (contact, period) pairs and the net number of conversations the change puts there.
    presence: BTreeMap<Presence, i64>,
    /// The columns: a period and how many rows its count reads at most.
    periods: Vec<(Granularity, NaiveDate, u64)>,
    /// The counts read, by presence pair.
    counts: BTreeMap<Presence, i64>,
}

/// The rows a presence count reads at most: one more than the write added.
fn cap(net: i64) -> u64 {
    u64::try_from(net).unwrap_or(0) + 1
}

impl PresenceColumns {
    /// The columns `change` will need, whose conversations have been written already.
    pub fn of(change: &Change, zone: Tz) -> Self {
        let (_, presence) = deltas(change, zone);
        let mut periods: Vec<_> = presence
            .iter()
            .map(|((_, granularity, starts_on), net)| (*granularity, *starts_on, cap(*net)))
            .collect();
        periods.sort_unstable();
        periods.dedup();
        Self {
            presence,
            periods,
            counts: BTreeMap::new(),
        }
    }

    /// Adds the columns to `select`, a read of `contact` rows of the owner.
    pub fn add_to(&self, select: &mut SelectStatement, owner_id: Uuid, zone: Tz) {
        use conversation_participant::Column as P;

        for (i, (granularity, starts_on, limit)) in self.periods.iter().enumerate() {
            let until = next_bucket_start(*starts_on, *granularity);
            let rows = Query::select()
                .expr(Expr::val(1))
                .from(conversation_participant::Entity)
                .and_where(Expr::col((conversation_participant::Entity, P::OwnerId)).eq(owner_id))
                .and_where(
                    Expr::col((conversation_participant::Entity, P::ContactId))
                        .equals((entity::contact::Entity, entity::contact::Column::Id)),
                )
                .and_where(Expr::col(P::OccurredAt).gte(start_of_day(*starts_on, zone)))
                .and_where(Expr::col(P::OccurredAt).lt(start_of_day(until, zone)))
                .limit(*limit)
                .to_owned();
            let count = Query::select()
                .expr(Expr::col(Asterisk).count())
                .from_subquery(rows, Alias::new("r"))
                .to_owned();
            select.expr_as(
                SimpleExpr::SubQuery(None, Box::new(count.into())),
                column(i),
            );
        }
    }

    /// Takes the counts of `contact_id` from `row`, a row of the read the columns were added
    /// to.
    pub fn read(&mut self, contact_id: Uuid, row: &QueryResult) -> Result<(), DbErr> {
        for (i, (granularity, starts_on, limit)) in self.periods.iter().enumerate() {
            let key = (contact_id, *granularity, *starts_on);
            if self
                .presence
                .get(&key)
                .is_some_and(|net| cap(*net) == *limit)
            {
                self.counts.insert(key, row.try_get("", &column(i))?);
            }
        }
        Ok(())
    }

    /// The counts of `presence`, in its order, if it is the change the columns were made for
    /// and every count was read.
    fn counts_for(self, presence: &BTreeMap<Presence, i64>) -> Option<Vec<i64>> {
        if *presence != self.presence {
            return None;
        }
        presence
            .keys()
            .map(|key| self.counts.get(key).copied())
            .collect()
    }
}

/// The name of presence column `i`.
fn column(i: usize) -> String {
    format!("presence_{i}")
}

/// Rows per `INSERT` when writing many (eleven values each).
const INSERT_CHUNK: usize = 500;

/// Adds `rows` to the owner's rows: inserted, or added to the existing row's counts.
async fn upsert(
    conn: &impl Write,
    owner_id: Uuid,
    rows: &BTreeMap<Key, Counts>,
) -> Result<(), ApiError> {
    use activity::Column as A;

    let rows: Vec<_> = rows.iter().collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let models = chunk
            .iter()
            .map(|((period, starts_on), c)| model(owner_id, period, *starts_on, c));
        let mut on_conflict = OnConflict::columns([A::OwnerId, A::Period, A::StartsOn]);
        for column in [
            A::Conversations,
            A::ThankYousSent,
            A::ThankYousOwed,
            A::People,
            A::Offers,
            A::Asks,
            A::Firsts,
            A::Lasts,
        ] {
            on_conflict.value(
                column,
                Expr::col((activity::Entity, column))
                    .add(Expr::col((Alias::new("excluded"), column))),
            );
        }
        // Its answer is not needed: deferred, it goes with the write's next statement.
        let insert = activity::Entity::insert_many(models).on_conflict(on_conflict.to_owned());
        conn.defer(insert.build(conn.get_database_backend()))
            .await?;
    }
    Ok(())
}

fn model(owner_id: Uuid, period: &str, starts_on: NaiveDate, c: &Counts) -> activity::ActiveModel {
    activity::ActiveModel {
        owner_id: Set(owner_id),
        period: Set(period.to_owned()),
        starts_on: Set(starts_on),
        conversations: Set(c.conversations),
        thank_yous_sent: Set(c.thank_yous_sent),
        thank_yous_owed: Set(c.thank_yous_owed),
        people: Set(c.people),
        offers: Set(c.offers),
        asks: Set(c.asks),
        firsts: Set(c.firsts),
        lasts: Set(c.lasts),
    }
}

/// The facts a contact's delete removes, read before it: their first and last past
/// conversations as the ledger stores them, their part in each conversation, and their offers
/// and asks (which the foreign keys delete with them); and the conversations the contact took
/// part in, from the same read. The conversations the delete leaves empty are removed by the
/// caller, which knows which they are.
pub async fn facts_of_contact(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contact_id: Uuid,
) -> Result<(Change, Vec<Uuid>), ApiError> {
    use conversation_participant::Column as P;

    let mut change = Change::default();
    let ends: Option<Ends> = entity::contact::Entity::find_by_id((owner_id, contact_id))
        .select_only()
        .columns([
            entity::contact::Column::FirstConversationAt,
            entity::contact::Column::LastConversationAt,
        ])
        .into_tuple()
        .one(conn)
        .await?;
    if let Some((first, last)) = ends {
        change.replace(first, None, Fact::First);
        change.replace(last, None, Fact::Last);
    }
    let parts: Vec<(Uuid, Option<DateTime<Utc>>)> = conversation_participant::Entity::find()
        .select_only()
        .columns([P::ConversationId, P::OccurredAt])
        .filter(P::OwnerId.eq(owner_id))
        .filter(P::ContactId.eq(contact_id))
        .into_tuple()
        .all(conn)
        .await?;
    let mut conversations = Vec::with_capacity(parts.len());
    for (conversation_id, at) in parts {
        conversations.push(conversation_id);
        if let Some(at) = at {
            change.remove(Fact::TookPart { contact_id, at });
        }
    }
    let contact = Some(contact_id);
    for at in offered_at(conn, owner_id, contact).await? {
        change.remove(Fact::Offered(at));
    }
    for at in asked_at(conn, owner_id, contact).await? {
        change.remove(Fact::Asked(at));
    }
    Ok((change, conversations))
}

/// When each of the owner's offers (of one contact, when given) was given.
async fn offered_at(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contact_id: Option<Uuid>,
) -> Result<Vec<DateTime<Utc>>, ApiError> {
    use value_offer::Column as O;
    instants::<value_offer::Entity>(
        conn,
        (O::OwnerId, owner_id),
        (O::ContactId, contact_id),
        O::OfferedAt,
    )
    .await
}

/// When each of the owner's asks (of one contact, when given) was made.
async fn asked_at(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contact_id: Option<Uuid>,
) -> Result<Vec<DateTime<Utc>>, ApiError> {
    use ask::Column as A;
    instants::<ask::Entity>(
        conn,
        (A::OwnerId, owner_id),
        (A::ContactId, contact_id),
        A::AskedAt,
    )
    .await
}

/// The values of the instant column `at` that are set, over the rows of `E` whose owner
/// column holds the owner (and contact column the contact, when given).
async fn instants<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    (owner, owner_id): (E::Column, Uuid),
    (contact, contact_id): (E::Column, Option<Uuid>),
    at: E::Column,
) -> Result<Vec<DateTime<Utc>>, ApiError> {
    let mut query = E::find()
        .select_only()
        .column(at)
        .filter(owner.eq(owner_id))
        .filter(at.is_not_null());
    if let Some(contact_id) = contact_id {
        query = query.filter(contact.eq(contact_id));
    }
    let set: Vec<Option<DateTime<Utc>>> = query.into_tuple().all(conn).await?;
    Ok(set.into_iter().flatten().collect())
}

/// The owner's day rows from `from` through `to`, by date.
pub async fn days(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, Counts>, ApiError> {
    periods(conn, owner_id, DAY, from, to).await
}

/// The owner's rows of one `period` kind that start from `from` through `to`, by first date:
/// an index range scan of the primary key.
pub async fn periods(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    period: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, Counts>, ApiError> {
    if from > to {
        return Ok(BTreeMap::new());
    }
    Ok(periods_query(owner_id, period, from, to)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.starts_on, counts_of(&m)))
        .collect())
}

/// The query of [`periods`].
pub fn periods_query(
    owner_id: Uuid,
    period: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> sea_orm::Select<activity::Entity> {
    use activity::Column as A;

    activity::Entity::find()
        .filter(A::OwnerId.eq(owner_id))
        .filter(A::Period.eq(period))
        .filter(A::StartsOn.gte(from))
        .filter(A::StartsOn.lte(to))
}
