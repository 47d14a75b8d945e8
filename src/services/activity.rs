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
//! past by then. The rows depend on the owner's time zone; a zone change recounts them in its
//! transaction ([`rebuild_owner`]), and `rapport ledger verify` compares them with a recount.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{activity, ask, conversation, conversation_participant, value_offer};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::union_all;
use crate::domain::records::ThankYouStatus;
use crate::domain::relationship::{local_date, start_of_day};
use crate::domain::stats::{Granularity, bucket_start, next_bucket_start};
use crate::error::ApiError;

/// The `period` of the rows that count a day's records.
pub const DAY: &str = "day";

/// The `period` of the rows that count the people of a week or a month.
pub fn period_of(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Week => "week",
        Granularity::Month => "month",
    }
}

const PEOPLE_PERIODS: [Granularity; 2] = [Granularity::Week, Granularity::Month];

/// The counts of one row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub conversations: i64,
    pub thank_yous_sent: i64,
    pub thank_yous_owed: i64,
    pub people: i64,
    pub offers: i64,
    pub asks: i64,
    pub firsts: i64,
    pub lasts: i64,
}

impl Counts {
    fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    fn of(m: &activity::Model) -> Self {
        Self {
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
}

/// A contact's first and last past conversations, as the ledger stores them.
pub type Ends = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A contact's id with its [`Ends`], as read.
pub type ContactEnds = (Uuid, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A row's key: its period (`day`, `week`, `month`) and first local date.
pub type Key = (&'static str, NaiveDate);

/// A dated record that a write adds or removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// A conversation, counted on its date with its thank-you status.
    Held {
        at: DateTime<Utc>,
        thank_you: ThankYouStatus,
    },
    /// A contact's part in a conversation at `at`.
    TookPart { contact_id: Uuid, at: DateTime<Utc> },
    /// An offer given at that instant.
    Offered(DateTime<Utc>),
    /// An ask made at that instant.
    Asked(DateTime<Utc>),
    /// A contact's first past conversation, as the ledger stores it.
    First(DateTime<Utc>),
    /// A contact's last past conversation, as the ledger stores it.
    Last(DateTime<Utc>),
}

/// What a write changes: facts added (+1) and removed (−1).
#[derive(Clone, Debug, Default)]
pub struct Change {
    facts: Vec<(i64, Fact)>,
}

impl Change {
    pub fn add(&mut self, fact: Fact) {
        self.facts.push((1, fact));
    }

    pub fn remove(&mut self, fact: Fact) {
        self.facts.push((-1, fact));
    }

    /// Adds the facts of `other`.
    pub fn extend(&mut self, other: Change) {
        self.facts.extend(other.facts);
    }

    /// Adds (`sign` 1) or removes (−1) a conversation with its participants.
    pub fn conversation(
        &mut self,
        sign: i64,
        at: DateTime<Utc>,
        thank_you: ThankYouStatus,
        participants: &[Uuid],
    ) {
        self.facts.push((sign, Fact::Held { at, thank_you }));
        for contact_id in participants {
            self.facts.push((
                sign,
                Fact::TookPart {
                    contact_id: *contact_id,
                    at,
                },
            ));
        }
    }

    /// Replaces an optional dated fact by another (an offer's `offered_at`, an ask's
    /// `asked_at`); nothing when they are the same.
    pub fn replace(
        &mut self,
        before: Option<DateTime<Utc>>,
        after: Option<DateTime<Utc>>,
        fact: fn(DateTime<Utc>) -> Fact,
    ) {
        if before != after {
            if let Some(at) = before {
                self.remove(fact(at));
            }
            if let Some(at) = after {
                self.add(fact(at));
            }
        }
    }
}

/// Counts a record's dated fact moving from `before` to `after` (an offer's `offered_at`, an
/// ask's `asked_at`), in the caller's transaction: `before` is none for a create, `after`
/// none for a delete; nothing to do when they are equal.
pub async fn moved(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
    fact: fn(DateTime<Utc>) -> Fact,
) -> Result<(), ApiError> {
    let mut change = Change::default();
    change.replace(before, after, fact);
    apply(conn, owner_id, &change).await
}

/// The day deltas of `change` and the net number of conversations it adds per (contact,
/// week or month): the presence counts still to be settled by [`apply`].
fn deltas(change: &Change, zone: Tz) -> (BTreeMap<Key, Counts>, BTreeMap<Presence, i64>) {
    let mut rows: BTreeMap<Key, Counts> = BTreeMap::new();
    let mut presence: BTreeMap<Presence, i64> = BTreeMap::new();
    for (sign, fact) in &change.facts {
        let sign = *sign;
        match fact {
            Fact::Held { at, thank_you } => {
                let row = rows.entry((DAY, local_date(*at, zone))).or_default();
                row.conversations += sign;
                match thank_you {
                    ThankYouStatus::Sent => row.thank_yous_sent += sign,
                    ThankYouStatus::Owed => row.thank_yous_owed += sign,
                    ThankYouStatus::NotNeeded => {}
                }
            }
            Fact::TookPart { contact_id, at } => {
                let date = local_date(*at, zone);
                for granularity in PEOPLE_PERIODS {
                    let key = (*contact_id, granularity, bucket_start(date, granularity));
                    *presence.entry(key).or_default() += sign;
                }
            }
            Fact::Offered(at) => {
                rows.entry((DAY, local_date(*at, zone))).or_default().offers += sign
            }
            Fact::Asked(at) => rows.entry((DAY, local_date(*at, zone))).or_default().asks += sign,
            Fact::First(at) => {
                rows.entry((DAY, local_date(*at, zone))).or_default().firsts += sign;
            }
            Fact::Last(at) => rows.entry((DAY, local_date(*at, zone))).or_default().lasts += sign,
        }
    }
    presence.retain(|_, net| *net != 0);
    (rows, presence)
}

/// A contact in a week or month, by the period's first date.
pub type Presence = (Uuid, Granularity, NaiveDate);

/// Counts `change` in the owner's rows, in the caller's transaction, after the write's own
/// statements: at most three statements (the owner's time zone, the presence counts when the
/// change moves a contact in or out of a period, one upsert), none for an empty change.
pub async fn apply(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    change: &Change,
) -> Result<(), ApiError> {
    if change.facts.is_empty() {
        return Ok(());
    }
    let zone = super::ledger::lock_owner(conn, owner_id).await?;
    let (mut rows, presence) = deltas(change, zone);
    let after = conversations_in(conn, owner_id, zone, &presence).await?;
    for ((key, net), after) in presence.iter().zip(after) {
        // `after` is capped at one more than the write added (see `conversations_in`).
        let present_after = after > 0;
        let present_before = if *net >= 0 { after > *net } else { true };
        let moved = i64::from(present_after) - i64::from(present_before);
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
                    .limit(u64::try_from(*net).unwrap_or(0) + 1)
                    .to_owned();
                Query::select()
                    .expr_as(Expr::val(i as i64), Alias::new("arm"))
                    .expr_as(Expr::col(Asterisk).count(), Alias::new("n"))
                    .from_subquery(rows, Alias::new("r"))
                    .to_owned()
            });
    union_all("presence", arms)
}

/// Rows per `INSERT` when writing many (eleven values each).
const INSERT_CHUNK: usize = 500;

/// Adds `rows` to the owner's rows: inserted, or added to the existing row's counts.
async fn upsert(
    conn: &impl ConnectionTrait,
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
        activity::Entity::insert_many(models)
            .on_conflict(on_conflict.to_owned())
            .exec_without_returning(conn)
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
/// and asks (which the foreign keys delete with them). The conversations
/// the delete leaves empty are removed by the caller, which knows which they are.
pub async fn facts_of_contact(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contact_id: Uuid,
) -> Result<Change, ApiError> {
    use conversation_participant::Column as P;

    let mut change = Change::default();
    let ends: Option<Ends> = entity::contact::Entity::find_by_id(contact_id)
        .select_only()
        .columns([
            entity::contact::Column::FirstConversationAt,
            entity::contact::Column::LastConversationAt,
        ])
        .filter(entity::contact::Column::OwnerId.eq(owner_id))
        .into_tuple()
        .one(conn)
        .await?;
    if let Some((first, last)) = ends {
        change.replace(first, None, Fact::First);
        change.replace(last, None, Fact::Last);
    }
    let parts: Vec<Option<DateTime<Utc>>> = conversation_participant::Entity::find()
        .select_only()
        .column(P::OccurredAt)
        .filter(P::OwnerId.eq(owner_id))
        .filter(P::ContactId.eq(contact_id))
        .into_tuple()
        .all(conn)
        .await?;
    for at in parts.into_iter().flatten() {
        change.remove(Fact::TookPart { contact_id, at });
    }
    let offered: Vec<Option<DateTime<Utc>>> = value_offer::Entity::find()
        .select_only()
        .column(value_offer::Column::OfferedAt)
        .filter(value_offer::Column::OwnerId.eq(owner_id))
        .filter(value_offer::Column::ContactId.eq(contact_id))
        .into_tuple()
        .all(conn)
        .await?;
    for at in offered.into_iter().flatten() {
        change.remove(Fact::Offered(at));
    }
    let asked: Vec<Option<DateTime<Utc>>> = ask::Entity::find()
        .select_only()
        .column(ask::Column::AskedAt)
        .filter(ask::Column::OwnerId.eq(owner_id))
        .filter(ask::Column::ContactId.eq(contact_id))
        .into_tuple()
        .all(conn)
        .await?;
    for at in asked.into_iter().flatten() {
        change.remove(Fact::Asked(at));
    }
    Ok(change)
}

/// Records read per statement by [`recount`].
const RECOUNT_PAGE: u64 = 5_000;

fn day_of(rows: &mut BTreeMap<Key, Counts>, at: DateTime<Utc>, zone: Tz) -> &mut Counts {
    rows.entry((DAY, local_date(at, zone))).or_default()
}

/// The rows the owner's records give in `zone`, without rows of zeros (first and last
/// conversations from the ledger's stored columns, which `ledger verify` checks against the
/// records). Conversations are
/// read a page at a time in the order of `(owner_id, occurred_at, …)`, participant rows a
/// chunk of contacts at a time, so that memory holds one page and the counts.
pub async fn recount(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
) -> Result<BTreeMap<Key, Counts>, ApiError> {
    use conversation::Column as C;
    use conversation_participant::Column as P;
    use sea_orm::Condition;

    let mut rows: BTreeMap<Key, Counts> = BTreeMap::new();
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    loop {
        let mut page = conversation::Entity::find()
            .select_only()
            .columns([C::OccurredAt, C::Id, C::ThankYouStatus])
            .filter(C::OwnerId.eq(owner_id));
        if let Some((at, id)) = after {
            page = page
                .filter(C::OccurredAt.gte(at))
                .filter(Condition::any().add(C::OccurredAt.ne(at)).add(C::Id.gt(id)));
        }
        let page: Vec<(DateTime<Utc>, Uuid, String)> = page
            .order_by_asc(C::OccurredAt)
            .order_by_asc(C::Id)
            .limit(RECOUNT_PAGE)
            .into_tuple()
            .all(conn)
            .await?;
        for (at, _, status) in &page {
            let row = day_of(&mut rows, *at, zone);
            row.conversations += 1;
            match super::decode(
                "conversation.thank_you_status",
                status,
                ThankYouStatus::from_stored,
            )? {
                ThankYouStatus::Sent => row.thank_yous_sent += 1,
                ThankYouStatus::Owed => row.thank_yous_owed += 1,
                ThankYouStatus::NotNeeded => {}
            }
        }
        match page.last() {
            Some((at, id, _)) if page.len() as u64 == RECOUNT_PAGE => after = Some((*at, *id)),
            _ => break,
        }
    }
    let offered: Vec<Option<DateTime<Utc>>> = value_offer::Entity::find()
        .select_only()
        .column(value_offer::Column::OfferedAt)
        .filter(value_offer::Column::OwnerId.eq(owner_id))
        .filter(value_offer::Column::OfferedAt.is_not_null())
        .into_tuple()
        .all(conn)
        .await?;
    for at in offered.into_iter().flatten() {
        day_of(&mut rows, at, zone).offers += 1;
    }
    let asked: Vec<Option<DateTime<Utc>>> = ask::Entity::find()
        .select_only()
        .column(ask::Column::AskedAt)
        .filter(ask::Column::OwnerId.eq(owner_id))
        .filter(ask::Column::AskedAt.is_not_null())
        .into_tuple()
        .all(conn)
        .await?;
    for at in asked.into_iter().flatten() {
        day_of(&mut rows, at, zone).asks += 1;
    }
    let ends: Vec<ContactEnds> = entity::contact::Entity::find()
        .select_only()
        .columns([
            entity::contact::Column::Id,
            entity::contact::Column::FirstConversationAt,
            entity::contact::Column::LastConversationAt,
        ])
        .filter(entity::contact::Column::OwnerId.eq(owner_id))
        .into_tuple()
        .all(conn)
        .await?;
    let mut contacts = Vec::with_capacity(ends.len());
    for (id, first, last) in ends {
        contacts.push(id);
        if let Some(first) = first {
            day_of(&mut rows, first, zone).firsts += 1;
        }
        if let Some(last) = last {
            day_of(&mut rows, last, zone).lasts += 1;
        }
    }
    let per_chunk = usize::try_from(RECOUNT_PAGE / 5).unwrap_or(1_000);
    for chunk in contacts.chunks(per_chunk) {
        let parts: Vec<(Uuid, Option<DateTime<Utc>>)> = conversation_participant::Entity::find()
            .select_only()
            .columns([P::ContactId, P::OccurredAt])
            .filter(P::OwnerId.eq(owner_id))
            .filter(P::ContactId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        let mut periods: BTreeSet<(Uuid, Key)> = BTreeSet::new();
        for (contact_id, at) in parts {
            let Some(at) = at else { continue };
            let date = local_date(at, zone);
            for granularity in PEOPLE_PERIODS {
                periods.insert((
                    contact_id,
                    (period_of(granularity), bucket_start(date, granularity)),
                ));
            }
        }
        for (_, key) in periods {
            rows.entry(key).or_default().people += 1;
        }
    }
    rows.retain(|_, counts| !counts.is_zero());
    Ok(rows)
}

/// The owner's stored rows, without rows of zeros.
async fn stored(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
) -> Result<BTreeMap<(String, NaiveDate), Counts>, ApiError> {
    Ok(activity::Entity::find()
        .filter(activity::Column::OwnerId.eq(owner_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| ((m.period.clone(), m.starts_on), Counts::of(&m)))
        .filter(|(_, counts)| !counts.is_zero())
        .collect())
}

/// A stored row that differs from the recount: (period, first date, stored, expected).
pub type Wrong = (String, NaiveDate, Counts, Counts);

/// The owner's rows whose stored counts differ from a recount of the records in `zone`.
pub async fn wrong(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
) -> Result<Vec<Wrong>, ApiError> {
    let mut stored = stored(conn, owner_id).await?;
    let mut wrong = Vec::new();
    for ((period, starts_on), expected) in recount(conn, owner_id, zone).await? {
        let found = stored
            .remove(&(period.to_owned(), starts_on))
            .unwrap_or_default();
        if found != expected {
            wrong.push((period.to_owned(), starts_on, found, expected));
        }
    }
    wrong.extend(
        stored
            .into_iter()
            .map(|((period, starts_on), found)| (period, starts_on, found, Counts::default())),
    );
    Ok(wrong)
}

/// Replaces the owner's rows with a recount of the records in `zone`, in the caller's
/// transaction (after a time-zone change, to repair, after the migration). Returns the
/// number of rows written.
pub async fn rebuild_owner(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
) -> Result<usize, ApiError> {
    let rows = recount(conn, owner_id, zone).await?;
    activity::Entity::delete_many()
        .filter(activity::Column::OwnerId.eq(owner_id))
        .exec(conn)
        .await?;
    upsert(conn, owner_id, &rows).await?;
    Ok(rows.len())
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
        .map(|m| (m.starts_on, Counts::of(&m)))
        .collect())
}

/// Counts the activity of every owner left in `activity_pending` (by the migration that adds
/// the counts), one transaction per owner that also deletes its row: a process stopped part
/// way leaves the rest to the next start, and two instances starting at once count an owner
/// once (the second finds the row gone under the owner's lock). Returns the owners counted.
pub async fn count_pending(db: &crate::db::Db) -> Result<usize, ApiError> {
    let pending = || Alias::new("activity_pending");
    let owner = || Alias::new("owner_id");
    let owners: Vec<Uuid> = db
        .reader()
        .query_all(
            Query::select()
                .column(owner())
                .from(pending())
                .order_by(owner(), sea_orm::Order::Asc),
        )
        .await?
        .into_iter()
        .map(|row| row.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    let mut counted = 0;
    for owner_id in owners {
        counted += db
            .write(move |txn| {
                Box::pin(async move {
                    let zone = super::ledger::lock_owner(txn, owner_id).await?;
                    let deleted = txn
                        .execute(
                            Query::delete()
                                .from_table(pending())
                                .and_where(Expr::col(owner()).eq(owner_id)),
                        )
                        .await?;
                    if deleted.rows_affected() == 0 {
                        return Ok(0);
                    }
                    rebuild_owner(txn, owner_id, zone).await?;
                    Ok(1)
                })
            })
            .await?;
    }
    Ok(counted)
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
