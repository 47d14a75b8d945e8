//! The follow-up list: check-ins, owed thank-yous, next steps and open asks.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{ask, contact, conversation, conversation_participant, value_offer};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::follow_ups::{self, FollowUp, FollowUpKey, FollowUpKind, OpenAsk};
use crate::domain::records::{AskStatus, OfferStatus, ThankYouStatus};
use crate::domain::relationship::{self, Today};
use crate::error::ApiError;
use crate::services::{beyond, ledger};

/// The part of the follow-up list a caller will show: the items after `after` in list order,
/// `limit` of them.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub after: Option<FollowUpKey>,
    pub limit: usize,
}

/// Every follow-up due within `within_days` of today (overdue ones included) of the kinds in
/// `kinds` (all when empty), in list order; with a `window`, at least every item of the
/// window and the one after it. Archived contacts have none.
///
/// Each kind is read as a stream in the order of its due date, through an index that gives
/// that order, starting at the cursor's date: with a window, a page of each kind, whatever
/// the size of the network (see [`Stream`]). Then one statement names the contacts of the
/// items, and the streams are merged. A thank-you's `detail` (its conversation's summary) is
/// left empty: [`describe`] fills it in for the items that will be shown.
pub async fn follow_ups(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    within_days: i64,
    kinds: &[FollowUpKind],
    window: Option<Window>,
) -> Result<Vec<FollowUp>, ApiError> {
    // Without a window (the calendar feed), every overdue item of the network is read.
    let _permit = match window {
        None => Some(db.whole_network().await?),
        Some(_) => None,
    };
    ledger::catch_up(db, owner_id, today.now).await?;
    let conn = db.reader();
    let wanted = |kind| kinds.is_empty() || kinds.contains(&kind);
    let stream = Stream {
        owner_id,
        today,
        last_day: relationship::add_days(today.date(), within_days),
        window,
    };
    let (check_ins, owed, (steps, step_participants), ideas, open_asks) = tokio::try_join!(
        when(wanted(FollowUpKind::CheckIn), stream.check_ins(conn)),
        when(wanted(FollowUpKind::ThankYou), stream.owed(conn)),
        async {
            if wanted(FollowUpKind::NextStep) {
                stream.next_steps(conn).await
            } else {
                Ok((Vec::new(), Vec::new()))
            }
        },
        when(wanted(FollowUpKind::DeliverOffer), stream.ideas(conn)),
        when(wanted(FollowUpKind::AskFollowUp), stream.open_asks(conn)),
    )?;
    let mut referenced: Vec<Uuid> = owed.iter().map(|(_, contact, _)| *contact).collect();
    referenced.extend(step_participants.iter().map(|(_, contact)| *contact));
    referenced.extend(ideas.iter().map(|(_, contact, ..)| *contact));
    referenced.extend(open_asks.iter().map(|(_, contact, ..)| *contact));
    let mut contacts: Vec<(Uuid, String, Option<NaiveDate>)> = check_ins
        .into_iter()
        .map(|(id, name, next)| (id, name, Some(next)))
        .collect();
    contacts.extend(
        current_names(conn, owner_id, referenced)
            .await?
            .into_iter()
            .map(|(id, name)| (id, name, None)),
    );
    let sources = follow_ups::Sources {
        contacts,
        owed,
        steps,
        step_participants,
        ideas,
        open_asks,
    };
    Ok(follow_ups::assemble(sources, today, within_days, wanted))
}

/// The names of those of `ids` that are current (not archived) contacts of the owner, one
/// statement per thousand ids. Looked up by primary key, the owner checked on each row: with
/// `owner_id = ?` in the statement, SQLite's planner walked all of the owner's contacts.
async fn current_names(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    mut ids: Vec<Uuid>,
) -> Result<Vec<(Uuid, String)>, ApiError> {
    use contact::Column as C;

    ids.sort_unstable();
    ids.dedup();
    let mut names = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let rows: Vec<(Uuid, Uuid, String)> = contact::Entity::find()
            .select_only()
            .columns([C::Id, C::OwnerId, C::FullName])
            .filter(C::Id.is_in(chunk.iter().copied()))
            .filter(C::ArchivedAt.is_null())
            .into_tuple()
            .all(conn)
            .await?;
        names.extend(
            rows.into_iter()
                .filter(|(_, owner, _)| *owner == owner_id)
                .map(|(id, _, name)| (id, name)),
        );
    }
    Ok(names)
}

/// `EXISTS` a current (not archived) contact whose id is `column`.
fn of_current_contact(column: impl sea_orm::sea_query::IntoColumnRef) -> Condition {
    use contact::Column as C;

    Condition::all().add(Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(contact::Entity)
            .and_where(Expr::col((contact::Entity, C::Id)).equals(column))
            .and_where(Expr::col((contact::Entity, C::ArchivedAt)).is_null())
            .to_owned(),
    ))
}

/// One owner's follow-up list as streams, one per kind, each read in due-date order.
///
/// - **By date then id** (check-ins: `next_check_in_on`, contact id; next steps:
///   `next_step_due_on`, conversation id): the list's own order within a kind, so a page is
///   an exact keyset range from the cursor, `limit + 1` rows.
/// - **By instant** (thank-yous: the conversation's time; ideas: creation; asks: the time
///   they were made): the due date is the instant's local date plus a delay, so the order of
///   instants is the order of due dates, but within a date the list orders by id. A read of
///   `k` rows from the cursor's date is complete up to the date of its last row; when that
///   holds fewer than `limit + 1` items past the cursor, the read is repeated with twice `k`
///   (a date with more items than a page is rare, and the total stays under twice the
///   last read).
struct Stream<'a> {
    owner_id: Uuid,
    today: &'a Today,
    /// The window's last day: later items are not listed.
    last_day: NaiveDate,
    window: Option<Window>,
}

impl Stream<'_> {
    /// How many rows a first read takes: twice a page, or all without a window.
    fn first_read(&self) -> Option<u64> {
        self.window.map(|w| 2 * (w.limit as u64 + 1))
    }

    /// The condition that keeps a date-then-id stream of `kind` after the cursor.
    fn keyset_after<C: ColumnTrait>(&self, kind: FollowUpKind, date: C, id: C) -> Condition {
        let Some((due, after_kind, source, _)) = self.window.and_then(|w| w.after) else {
            return Condition::all();
        };
        match after_kind.cmp(&kind) {
            std::cmp::Ordering::Less => Condition::all().add(date.gte(due)),
            std::cmp::Ordering::Equal => beyond(date, id, due, source, true),
            std::cmp::Ordering::Greater => Condition::all().add(date.gt(due)),
        }
    }

    /// Bounds on an instant column for a stream whose items are due `delay` days after the
    /// instant's local date: from the cursor's date on, up to the window's last day. UTC
    /// midnights are widened by a day either way to cover every time zone.
    fn instant_bounds<C: ColumnTrait>(&self, column: C, delay: i64) -> Condition {
        let day = Duration::days(1);
        let mut bounds = Condition::all();
        if let Some((due, ..)) = self.window.and_then(|w| w.after) {
            let from = midnight(relationship::add_days(due, -delay)) - day;
            bounds = bounds.add(column.gte(from));
        }
        let until = midnight(relationship::add_days(self.last_day, 1 - delay)) + day;
        bounds.add(column.lt(until))
    }

    /// Reads an instant stream with `read(limit)` (rows in instant order), growing the read
    /// until it settles the window (see the type's comment). `key` gives a row's due date and
    /// list key.
    async fn by_instant<R, F, Fut>(
        &self,
        read: F,
        key: impl Fn(&R) -> FollowUpKey,
    ) -> Result<Vec<R>, ApiError>
    where
        F: Fn(Option<u64>) -> Fut,
        Fut: Future<Output = Result<Vec<R>, DbErr>>,
    {
        let Some(window) = self.window else {
            return Ok(read(None).await?);
        };
        let mut limit = self.first_read().unwrap_or(u64::MAX);
        loop {
            let mut rows = read(Some(limit)).await?;
            if (rows.len() as u64) < limit {
                rows.retain(|r| window.after.is_none_or(|after| key(r) > after));
                rows.sort_by_key(&key);
                rows.truncate(window.limit + 1);
                return Ok(rows);
            }
            let last_due = rows.last().map(|r| key(r).0);
            let complete = |r: &R| Some(key(r).0) < last_due;
            let settled = rows
                .iter()
                .filter(|r| complete(r) && window.after.is_none_or(|after| key(r) > after))
                .count();
            if settled > window.limit {
                // The stream's part of the window: its first `limit + 1` items past the cursor.
                rows.retain(|r| complete(r) && window.after.is_none_or(|after| key(r) > after));
                rows.sort_by_key(&key);
                rows.truncate(window.limit + 1);
                return Ok(rows);
            }
            limit = limit.saturating_mul(2);
        }
    }

    /// Contacts whose check-in falls due by the last day: id, name, `next_check_in_on`.
    async fn check_ins(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<Vec<(Uuid, String, NaiveDate)>, DbErr> {
        use contact::Column as C;

        contact::Entity::find()
            .select_only()
            .columns([C::Id, C::FullName, C::NextCheckInOn])
            .filter(C::OwnerId.eq(self.owner_id))
            .filter(C::NextCheckInOn.lte(self.last_day))
            .filter(C::ArchivedAt.is_null())
            .filter(self.keyset_after(FollowUpKind::CheckIn, C::NextCheckInOn, C::Id))
            .order_by_asc(C::NextCheckInOn)
            .order_by_asc(C::Id)
            .limit(self.window.map(|w| w.limit as u64 + 1))
            .into_tuple()
            .all(conn)
            .await
    }

    /// Open next steps due by the last day of conversations with a current participant:
    /// (conversation, due date, step), and the participants of those conversations.
    async fn next_steps(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<(Vec<(Uuid, NaiveDate, String)>, Vec<(Uuid, Uuid)>), ApiError> {
        use conversation::Column as C;
        use conversation_participant::Column as P;

        let current_participant = Condition::all().add(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(conversation_participant::Entity)
                .and_where(
                    Expr::col((conversation_participant::Entity, P::ConversationId))
                        .equals((conversation::Entity, C::Id)),
                )
                .cond_where(of_current_contact((
                    conversation_participant::Entity,
                    P::ContactId,
                )))
                .to_owned(),
        ));
        let steps: Vec<(Uuid, NaiveDate, String)> = conversation::Entity::find()
            .select_only()
            .columns([C::Id, C::NextStepDueOn, C::NextStep])
            .filter(C::OwnerId.eq(self.owner_id))
            .filter(C::NextStepDueOn.lte(self.last_day))
            .filter(C::NextStep.is_not_null())
            .filter(C::NextStepDoneAt.is_null())
            .filter(self.keyset_after(FollowUpKind::NextStep, C::NextStepDueOn, C::Id))
            .filter(current_participant)
            .order_by_asc(C::NextStepDueOn)
            .order_by_asc(C::Id)
            .limit(self.window.map(|w| w.limit as u64 + 1))
            .into_tuple()
            .all(conn)
            .await?;
        let ids: Vec<Uuid> = steps.iter().map(|(id, ..)| *id).collect();
        let mut participants = Vec::new();
        for chunk in ids.chunks(1000) {
            participants.extend(
                conversation_participant::Entity::find()
                    .select_only()
                    .columns([P::ConversationId, P::ContactId])
                    .filter(P::ConversationId.is_in(chunk.iter().copied()))
                    .into_tuple::<(Uuid, Uuid)>()
                    .all(conn)
                    .await?,
            );
        }
        Ok((steps, participants))
    }

    /// Owed thank-yous of past conversations, one per participant who is a current contact:
    /// (conversation, contact, when it happened), from the participant rows' copies of their
    /// conversation's time and status (no conversation row is read).
    async fn owed(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<Vec<(Uuid, Uuid, DateTime<Utc>)>, ApiError> {
        use conversation_participant::Column as P;

        let query = conversation_participant::Entity::find()
            .select_only()
            .columns([P::ConversationId, P::ContactId, P::OccurredAt])
            .filter(P::OwnerId.eq(self.owner_id))
            .filter(P::ThankYouStatus.eq(ThankYouStatus::Owed.as_str()))
            .filter(P::OccurredAt.lte(self.today.now))
            .filter(self.instant_bounds(P::OccurredAt, 1))
            .filter(of_current_contact((
                conversation_participant::Entity,
                P::ContactId,
            )))
            .order_by_asc(P::OccurredAt);
        let today = self.today;
        self.by_instant(
            |limit| query.clone().limit(limit).into_tuple().all(conn),
            |(conversation, contact, at): &(Uuid, Uuid, DateTime<Utc>)| {
                let due = follow_ups::thank_you_due(today.date_of(*at));
                (due, FollowUpKind::ThankYou, *conversation, *contact)
            },
        )
        .await
    }

    /// Offers still an idea, of current contacts: (id, contact, created, title).
    async fn ideas(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<Vec<(Uuid, Uuid, DateTime<Utc>, String)>, ApiError> {
        use value_offer::Column as O;

        let query = value_offer::Entity::find()
            .select_only()
            .columns([O::Id, O::ContactId, O::CreatedAt, O::Title])
            .filter(O::OwnerId.eq(self.owner_id))
            .filter(O::Status.eq(OfferStatus::Idea.as_str()))
            .filter(self.instant_bounds(O::CreatedAt, follow_ups::DELIVER_OFFER_AFTER_DAYS))
            .filter(of_current_contact((value_offer::Entity, O::ContactId)))
            .order_by_asc(O::CreatedAt);
        let today = self.today;
        self.by_instant(
            |limit| query.clone().limit(limit).into_tuple().all(conn),
            |(id, contact, created_at, _): &(Uuid, Uuid, DateTime<Utc>, String)| {
                let due = follow_ups::deliver_offer_due(today.date_of(*created_at));
                (due, FollowUpKind::DeliverOffer, *id, *contact)
            },
        )
        .await
    }

    /// Asks still awaiting an answer, of current contacts. An ask is `asked` only with an
    /// `asked_at` (the API stamps it); a row without one, which only a hand edit makes, is
    /// read too and due from its creation.
    async fn open_asks(&self, conn: &impl ConnectionTrait) -> Result<Vec<OpenAsk>, ApiError> {
        use ask::Column as A;

        let open = ask::Entity::find()
            .select_only()
            .columns([A::Id, A::ContactId, A::AskedAt, A::CreatedAt, A::Title])
            .filter(A::OwnerId.eq(self.owner_id))
            .filter(A::Status.eq(AskStatus::Asked.as_str()))
            .filter(of_current_contact((ask::Entity, A::ContactId)));
        let query = open
            .clone()
            .filter(self.instant_bounds(A::AskedAt, follow_ups::ASK_FOLLOW_UP_AFTER_DAYS))
            .order_by_asc(A::AskedAt);
        let today = self.today;
        let mut asks = self
            .by_instant(
                |limit| query.clone().limit(limit).into_tuple().all(conn),
                |(id, contact, asked_at, created_at, _): &OpenAsk| {
                    let on = today.date_of(asked_at.unwrap_or(*created_at));
                    (
                        follow_ups::ask_follow_up_due(on),
                        FollowUpKind::AskFollowUp,
                        *id,
                        *contact,
                    )
                },
            )
            .await?;
        asks.extend(
            open.filter(A::AskedAt.is_null())
                .into_tuple::<OpenAsk>()
                .all(conn)
                .await?,
        );
        Ok(asks)
    }
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
async fn when<T, E: Into<ApiError>>(
    wanted: bool,
    query: impl Future<Output = Result<Vec<T>, E>>,
) -> Result<Vec<T>, ApiError> {
    if wanted {
        query.await.map_err(Into::into)
    } else {
        Ok(Vec::new())
    }
}
