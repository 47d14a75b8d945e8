//! Counting an owner's activity from the records: for `rapport ledger verify` and `rebuild`, a
//! time-zone change, seeding, and the owners the migration left pending.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{activity, contact, conversation, conversation_participant};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{ContactEnds, Counts, DAY, Key, asked_at, counts_of, offered_at, period_of, upsert};
use crate::db::Write;
use crate::domain::activity::PEOPLE_PERIODS;
use crate::domain::records::ThankYouStatus;
use crate::domain::relationship::local_date;
use crate::domain::stats::bucket_start;
use crate::error::ApiError;

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
    let mut rows: BTreeMap<Key, Counts> = BTreeMap::new();
    count_conversations(conn, owner_id, zone, &mut rows).await?;
    for at in offered_at(conn, owner_id, None).await? {
        day_of(&mut rows, at, zone).offers += 1;
    }
    for at in asked_at(conn, owner_id, None).await? {
        day_of(&mut rows, at, zone).asks += 1;
    }
    let contacts = count_first_and_last(conn, owner_id, zone, &mut rows).await?;
    count_people(conn, owner_id, zone, &contacts, &mut rows).await?;
    rows.retain(|_, counts| !counts.is_zero());
    Ok(rows)
}

/// Counts the owner's conversations and their thank-yous on their days, a page at a time.
async fn count_conversations(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
    rows: &mut BTreeMap<Key, Counts>,
) -> Result<(), ApiError> {
    use conversation::Column as C;
    use sea_orm::Condition;

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
            let row = day_of(rows, *at, zone);
            row.conversations += 1;
            match crate::services::decode(
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
            _ => return Ok(()),
        }
    }
}

/// Counts each contact on the days of its first and last past conversations (the ledger's
/// columns); returns the owner's contacts.
async fn count_first_and_last(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
    rows: &mut BTreeMap<Key, Counts>,
) -> Result<Vec<Uuid>, ApiError> {
    let ends: Vec<ContactEnds> = contact::Entity::find()
        .select_only()
        .columns([
            contact::Column::Id,
            contact::Column::FirstConversationAt,
            contact::Column::LastConversationAt,
        ])
        .filter(contact::Column::OwnerId.eq(owner_id))
        .into_tuple()
        .all(conn)
        .await?;
    let mut contacts = Vec::with_capacity(ends.len());
    for (id, first, last) in ends {
        contacts.push(id);
        if let Some(first) = first {
            day_of(rows, first, zone).firsts += 1;
        }
        if let Some(last) = last {
            day_of(rows, last, zone).lasts += 1;
        }
    }
    Ok(contacts)
}

/// Counts the distinct people of each week and month, from the participant rows of a chunk
/// of `contacts` at a time.
async fn count_people(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    zone: Tz,
    contacts: &[Uuid],
    rows: &mut BTreeMap<Key, Counts>,
) -> Result<(), ApiError> {
    use conversation_participant::Column as P;

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
    Ok(())
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
        .map(|m| ((m.period.clone(), m.starts_on), counts_of(&m)))
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
pub async fn rebuild_owner(conn: &impl Write, owner_id: Uuid, zone: Tz) -> Result<usize, ApiError> {
    let rows = recount(conn, owner_id, zone).await?;
    activity::Entity::delete_many()
        .filter(activity::Column::OwnerId.eq(owner_id))
        .exec(conn)
        .await?;
    upsert(conn, owner_id, &rows).await?;
    Ok(rows.len())
}

/// Counts the activity of every owner left in `activity_pending` by the migration that adds
/// the counts; see [`crate::services::owner::drain_pending`]. Returns the owners counted.
pub async fn count_pending(db: &crate::db::Db) -> Result<usize, ApiError> {
    crate::services::owner::drain_pending(db, "activity_pending", |txn, owner_id, zone| {
        Box::pin(async move { rebuild_owner(txn, owner_id, zone).await.map(|_| ()) })
    })
    .await
}
