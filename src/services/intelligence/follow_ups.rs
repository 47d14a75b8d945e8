//! The follow-up list: check-ins, owed thank-yous, next steps and open asks.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{ask, contact, conversation, conversation_participant, value_offer};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::follow_ups::{self, FollowUp, FollowUpKey, FollowUpKind, OpenAsk};
use crate::domain::records::{AskStatus, OfferStatus, ThankYouStatus};
use crate::domain::relationship::{self, Today};
use crate::error::ApiError;
use crate::services::ledger;

use super::roster;

/// The part of the follow-up list a caller will show: the items after `after` in list order,
/// `limit` of them.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub after: Option<FollowUpKey>,
    pub limit: usize,
}

/// Every follow-up due within `within_days` of today (overdue ones included) of the kinds in
/// `kinds` (all when empty), in list order; with a `window`, possibly without thank-yous
/// beyond it, but with every item of the window and the one after it. Archived contacts have
/// none. Up to eight statements, each reading only the owner's rows of one table; all but
/// one run together. A thank-you's `detail` (its conversation's summary) is left empty:
/// [`describe`] fills it in for the items that will be shown, so a user owing thousands of
/// notes reads only a page of texts.
pub async fn follow_ups(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    within_days: i64,
    kinds: &[FollowUpKind],
    window: Option<Window>,
) -> Result<Vec<FollowUp>, ApiError> {
    use conversation::Column as C;
    use conversation_participant::Column as P;

    let _permit = db.whole_network().await?;
    ledger::catch_up(db, owner_id, today.now).await?;
    let conn = db.reader();
    let wanted = |kind| kinds.is_empty() || kinds.contains(&kind);
    let date = today.date();
    let next_steps = conversation::Entity::find()
        .select_only()
        .filter(C::OwnerId.eq(owner_id))
        .filter(C::NextStep.is_not_null())
        .filter(C::NextStepDoneAt.is_null())
        .filter(C::NextStepDueOn.lte(relationship::add_days(date, within_days)));
    let steps = when(
        wanted(FollowUpKind::NextStep),
        next_steps
            .clone()
            .columns([C::Id, C::NextStepDueOn, C::NextStep])
            .into_tuple::<(Uuid, NaiveDate, String)>()
            .all(conn),
    );
    let next_steps = next_steps.column(C::Id);
    let ideas = when(
        wanted(FollowUpKind::DeliverOffer),
        value_offer::Entity::find()
            .select_only()
            .column(value_offer::Column::Id)
            .column(value_offer::Column::ContactId)
            .column(value_offer::Column::CreatedAt)
            .column(value_offer::Column::Title)
            .filter(value_offer::Column::OwnerId.eq(owner_id))
            .filter(value_offer::Column::Status.eq(OfferStatus::Idea.as_str()))
            .into_tuple::<(Uuid, Uuid, DateTime<Utc>, String)>()
            .all(conn),
    );
    let open = when(
        wanted(FollowUpKind::AskFollowUp),
        ask::Entity::find()
            .select_only()
            .column(ask::Column::Id)
            .column(ask::Column::ContactId)
            .column(ask::Column::AskedAt)
            .column(ask::Column::CreatedAt)
            .column(ask::Column::Title)
            .filter(ask::Column::OwnerId.eq(owner_id))
            .filter(ask::Column::Status.eq(AskStatus::Asked.as_str()))
            .into_tuple::<OpenAsk>()
            .all(conn),
    );
    let owed = async {
        if wanted(FollowUpKind::ThankYou) {
            owed_thank_yous(conn, owner_id, today, window).await
        } else {
            Ok(Vec::new())
        }
    };
    let steps_by = when(
        wanted(FollowUpKind::NextStep),
        conversation_participant::Entity::find()
            .select_only()
            .columns([P::ConversationId, P::ContactId])
            .filter(P::ConversationId.in_subquery(next_steps.clone().into_query()))
            .into_tuple::<(Uuid, Uuid)>()
            .all(conn),
    );
    let (roster, owed, steps, steps_by, ideas, open) =
        tokio::try_join!(roster(conn, owner_id), owed, steps, steps_by, ideas, open)?;
    let sources = follow_ups::Sources {
        contacts: roster
            .into_iter()
            .map(|(m, next)| (m.id, m.full_name, next))
            .collect(),
        owed,
        steps,
        step_participants: steps_by,
        ideas,
        open_asks: open,
    };
    Ok(follow_ups::assemble(sources, today, within_days, wanted))
}

/// The owed thank-yous, one row per participant who is a current contact: conversation,
/// contact, when it happened. Read from the participant rows' copies of the conversation's
/// date and status (their covering index; no conversation row is read).
///
/// A user may owe thousands, and a window shows a few, so with a window only the rows that
/// can reach it are returned. A thank-you is due the day after its conversation, so list
/// order follows `occurred_at` from one local date to the next: the window needs every row
/// from the cursor's date to the date of the `limit + 1`-th row past the cursor. One
/// statement reads twice that many rows in time order from the cursor's date; when they
/// reach past that date, they are enough. Otherwise (a date with more rows than that), a
/// first statement finds the `limit + 1`-th row's time and a second reads up to the end of
/// its date. Dates are local to the user, so UTC bounds are widened by a day, which only adds
/// rows that the caller's own cursor check and truncation then drop.
async fn owed_thank_yous(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    today: &Today,
    window: Option<Window>,
) -> Result<Vec<(Uuid, Uuid, DateTime<Utc>)>, ApiError> {
    use conversation_participant::Column as P;

    let current = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::OwnerId.eq(owner_id))
        .filter(contact::Column::ArchivedAt.is_null())
        .into_query();
    let owed = || {
        conversation_participant::Entity::find()
            .select_only()
            .filter(P::OwnerId.eq(owner_id))
            .filter(P::ThankYouStatus.eq(ThankYouStatus::Owed.as_str()))
            .filter(P::OccurredAt.lte(today.now))
            .filter(P::ContactId.in_subquery(current.clone()))
    };
    let mut rows = owed().columns([P::ConversationId, P::ContactId, P::OccurredAt]);
    if let Some(window) = window {
        let day = Duration::days(1);
        // The cursor's item is due on its date; its conversation happened the day before.
        let cursor_date = window
            .after
            .map(|(due, ..)| midnight(relationship::add_days(due, -1)));
        let from = cursor_date.and_then(|d| d.checked_sub_signed(day));
        let wanted = window.limit + 1;
        let mut first = rows.clone().order_by_asc(P::OccurredAt);
        if let Some(from) = from {
            first = first.filter(P::OccurredAt.gte(from));
        }
        let first = first
            .limit(2 * wanted as u64)
            .into_tuple::<(Uuid, Uuid, DateTime<Utc>)>()
            .all(conn)
            .await?;
        if first.len() < 2 * wanted {
            return Ok(first);
        }
        let past_cursor: Vec<NaiveDate> = first
            .iter()
            .filter(|(conversation, contact, at)| {
                let due = follow_ups::thank_you_due(today.date_of(*at));
                let key = (due, FollowUpKind::ThankYou, *conversation, *contact);
                window.after.is_none_or(|after| key > after)
            })
            .map(|(.., at)| today.date_of(*at))
            .collect();
        let reached = past_cursor.get(wanted - 1).zip(first.last());
        if reached.is_some_and(|(needed, (.., last))| today.date_of(*last) > *needed) {
            return Ok(first);
        }
        let past_cursor_date = cursor_date.and_then(|d| d.checked_add_signed(day * 2));
        let mut later = owed()
            .column(P::OccurredAt)
            .order_by_asc(P::OccurredAt)
            .offset(window.limit as u64)
            .limit(1);
        if let Some(past) = past_cursor_date {
            later = later.filter(P::OccurredAt.gte(past));
        }
        let last = later.into_tuple::<DateTime<Utc>>().one(conn).await?;
        let until = last.and_then(|at| midnight(today.date_of(at)).checked_add_signed(day * 2));
        if let Some(from) = from {
            rows = rows.filter(P::OccurredAt.gte(from));
        }
        if let Some(until) = until {
            rows = rows.filter(P::OccurredAt.lt(until));
        }
    }
    Ok(rows
        .into_tuple::<(Uuid, Uuid, DateTime<Utc>)>()
        .all(conn)
        .await?)
}

/// The first instant of `date` in UTC.
fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Fills in the summary of each thank-you item's conversation: one statement per thousand
/// conversations (a page needs one), none when `items` has no thank-you.
pub async fn describe(db: &Db, owner_id: Uuid, items: &mut [FollowUp]) -> Result<(), ApiError> {
    use conversation::Column as C;

    let mut ids: Vec<Uuid> = items
        .iter()
        .filter(|i| i.kind == FollowUpKind::ThankYou)
        .map(|i| i.source_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    let mut summaries: HashMap<Uuid, String> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        // Looked up by primary key, the owner checked on each row: with `owner_id = ?` in the
        // statement, SQLite's planner walked all of the owner's conversations instead.
        let rows = conversation::Entity::find()
            .select_only()
            .columns([C::Id, C::OwnerId, C::Summary])
            .filter(C::Id.is_in(chunk.iter().copied()))
            .into_tuple::<(Uuid, Uuid, String)>()
            .all(db.reader())
            .await?;
        summaries.extend(
            rows.into_iter()
                .filter(|(_, owner, _)| *owner == owner_id)
                .map(|(id, _, summary)| (id, summary)),
        );
    }
    for item in items.iter_mut() {
        if item.kind == FollowUpKind::ThankYou {
            item.detail = summaries.get(&item.source_id).cloned();
        }
    }
    Ok(())
}

/// The rows of `query` when `wanted`; none, without a statement, otherwise.
async fn when<T>(
    wanted: bool,
    query: impl Future<Output = Result<Vec<T>, DbErr>>,
) -> Result<Vec<T>, ApiError> {
    if wanted {
        Ok(query.await?)
    } else {
        Ok(Vec::new())
    }
}
