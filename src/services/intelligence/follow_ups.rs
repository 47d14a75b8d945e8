//! The follow-up list: check-ins, owed thank-yous, next steps and open asks.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{ask, contact, conversation, conversation_participant, value_offer};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use uuid::Uuid;

use crate::clock;
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
///   `2 × (limit + 1)` rows in instant order from the cursor's date is complete up to the
///   date of its last row; when that holds fewer than `limit + 1` items past the cursor, the
///   rest of the page comes from that last date in list order (its instant range, ordered
///   by id in the statement, `LIMIT` what is missing), and when that date runs out before
///   the page is full, the same two reads go on from the next date (see [`Instants`]).
struct Stream<'a> {
    owner_id: Uuid,
    today: &'a Today,
    /// The window's last day: later items are not listed.
    last_day: NaiveDate,
    window: Option<Window>,
}

impl Stream<'_> {
    /// How many rows a read in instant order takes: twice a page.
    fn first_read(window: Window) -> u64 {
        2 * (window.limit as u64 + 1)
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

    /// The instants of a stream whose items are due `delay` days after the instant's local
    /// date, `[from, until)`: from the cursor's date on, up to the window's last day, and up
    /// to `until` at most. UTC midnights are widened by a day either way to cover every time
    /// zone.
    fn instant_range(
        &self,
        delay: i64,
        until: Option<DateTime<Utc>>,
    ) -> (Option<DateTime<Utc>>, DateTime<Utc>) {
        let day = Duration::days(1);
        let from = self
            .window
            .and_then(|w| w.after)
            .map(|(due, ..)| midnight(relationship::add_days(due, -delay)) - day);
        let last = midnight(relationship::add_days(self.last_day, 1 - delay)) + day;
        (from, until.map_or(last, |until| std::cmp::min(until, last)))
    }

    /// Reads an instant stream (see the type's comment): every row without a window; with
    /// one, the stream's first `limit + 1` items past the cursor in list order. `key` gives a
    /// row's due date and list key.
    async fn by_instant<E, R>(
        &self,
        conn: &impl ConnectionTrait,
        stream: Instants<E>,
        key: impl Fn(&R) -> FollowUpKey,
    ) -> Result<Vec<R>, ApiError>
    where
        E: EntityTrait,
        R: sea_orm::TryGetableMany,
    {
        let Some(window) = self.window else {
            return Ok(stream.in_order(None, None).into_tuple().all(conn).await?);
        };
        let wanted = window.limit + 1;
        let past = |r: &R| window.after.is_none_or(|after| key(r) > after);
        let first_read = Self::first_read(window);
        let mut found: Vec<R> = Vec::new();
        let mut from = None;
        loop {
            let rows: Vec<R> = stream
                .in_order(from, Some(first_read))
                .into_tuple()
                .all(conn)
                .await?;
            let last_due = match rows.last() {
                Some(last) if rows.len() as u64 == first_read => key(last).0,
                _ => {
                    found.extend(rows.into_iter().filter(past));
                    break;
                }
            };
            // Every date before the last row's is read whole.
            found.extend(rows.into_iter().filter(|r| key(r).0 < last_due && past(r)));
            if found.len() >= wanted {
                break;
            }
            // The last row's date in list order, past the cursor: none of it when the cursor
            // is beyond it, from the cursor on when the cursor is inside it.
            let need = wanted - found.len();
            let on_date: Vec<R> = match window.after {
                Some((due, kind, ..)) if (due, kind) > (last_due, stream.kind) => Vec::new(),
                after => {
                    let inside = after
                        .filter(|(due, kind, ..)| (*due, *kind) == (last_due, stream.kind))
                        .map(|(_, _, source, contact)| (source, contact));
                    stream
                        .on_date(self.today, last_due, inside, need as u64)
                        .into_tuple()
                        .all(conn)
                        .await?
                }
            };
            let date_ran_out = on_date.len() < need;
            found.extend(on_date.into_iter().filter(past));
            if !date_ran_out {
                break;
            }
            from = Some(stream.first_instant(self.today, relationship::add_days(last_due, 1)));
        }
        found.sort_by_key(&key);
        found.truncate(wanted);
        Ok(found)
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

        let delay = 1;
        let query = conversation_participant::Entity::find()
            .select_only()
            .columns([P::ConversationId, P::ContactId, P::OccurredAt])
            .filter(P::OwnerId.eq(self.owner_id))
            .filter(P::ThankYouStatus.eq(ThankYouStatus::Owed.as_str()))
            .filter(of_current_contact((
                conversation_participant::Entity,
                P::ContactId,
            )));
        // Past conversations only.
        let (from, until) = self.instant_range(delay, Some(clock::just_after(self.today.now)));
        let stream = Instants {
            kind: FollowUpKind::ThankYou,
            query,
            instant: P::OccurredAt,
            from,
            until,
            within_date: (P::ConversationId, Some(P::ContactId)),
            delay,
        };
        let today = self.today;
        self.by_instant(
            conn,
            stream,
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

        let delay = follow_ups::DELIVER_OFFER_AFTER_DAYS;
        let query = value_offer::Entity::find()
            .select_only()
            .columns([O::Id, O::ContactId, O::CreatedAt, O::Title])
            .filter(O::OwnerId.eq(self.owner_id))
            .filter(O::Status.eq(OfferStatus::Idea.as_str()))
            .filter(of_current_contact((value_offer::Entity, O::ContactId)));
        let (from, until) = self.instant_range(delay, None);
        let stream = Instants {
            kind: FollowUpKind::DeliverOffer,
            query,
            instant: O::CreatedAt,
            from,
            until,
            within_date: (O::Id, None),
            delay,
        };
        let today = self.today;
        self.by_instant(
            conn,
            stream,
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
        let delay = follow_ups::ASK_FOLLOW_UP_AFTER_DAYS;
        let (from, until) = self.instant_range(delay, None);
        let stream = Instants {
            kind: FollowUpKind::AskFollowUp,
            query: open.clone(),
            instant: A::AskedAt,
            from,
            until,
            within_date: (A::Id, None),
            delay,
        };
        let today = self.today;
        let mut asks = self
            .by_instant(
                conn,
                stream,
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

/// One kind's rows of an instant stream of [`Stream`]: `query` (every condition but the
/// instant's), its instant column and the range `[from, until)` of it the stream covers, the
/// columns that order the rows of one due date as the list does (the item's source id, then
/// its contact's when a source has several items), and the days from an instant's local date
/// to its item's due date.
///
/// Each statement bounds the instant once on each side, with the tighter of the bounds that
/// apply: SQLite's planner takes one bound per side for an index range and checks any other
/// row by row, and cannot tell which of two parameters is tighter.
struct Instants<E: EntityTrait> {
    kind: FollowUpKind,
    query: Select<E>,
    instant: E::Column,
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    within_date: (E::Column, Option<E::Column>),
    delay: i64,
}

impl<E: EntityTrait> Instants<E> {
    /// The rows of `[from, until)` within the stream's range.
    fn between(&self, from: Option<DateTime<Utc>>, until: DateTime<Utc>) -> Select<E> {
        let mut query = self.query.clone();
        if let Some(from) = std::cmp::max(from, self.from) {
            query = query.filter(self.instant.gte(from));
        }
        query.filter(self.instant.lt(std::cmp::min(until, self.until)))
    }

    /// The rows from instant `from` on, in instant order.
    fn in_order(&self, from: Option<DateTime<Utc>>, limit: Option<u64>) -> Select<E> {
        self.between(from, self.until)
            .order_by_asc(self.instant)
            .limit(limit)
    }

    /// The first instant whose item is due on `due`.
    fn first_instant(&self, today: &Today, due: NaiveDate) -> DateTime<Utc> {
        relationship::start_of_day(relationship::add_days(due, -self.delay), today.zone)
    }

    /// The rows whose items are due on `due`, in list order: after the item `after`
    /// (source, contact) when given, `limit` of them.
    fn on_date(
        &self,
        today: &Today,
        due: NaiveDate,
        after: Option<(Uuid, Uuid)>,
        limit: u64,
    ) -> Select<E> {
        let (source, contact) = self.within_date;
        let mut query = self.between(
            Some(self.first_instant(today, due)),
            self.first_instant(today, relationship::add_days(due, 1)),
        );
        if let Some((after_source, after_contact)) = after {
            query = query.filter(match contact {
                Some(contact) => beyond(source, contact, after_source, after_contact, true),
                None => Condition::all().add(source.gt(after_source)),
            });
        }
        query = query.order_by_asc(source);
        if let Some(contact) = contact {
            query = query.order_by_asc(contact);
        }
        query.limit(limit)
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
