//! The follow-up list: check-ins, owed thank-yous, next steps and open asks.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{ask, contact, conversation, conversation_participant, value_offer};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select,
};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::follow_ups::{self, FollowUp, FollowUpKey, FollowUpKind};
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

/// One owner's follow-up list as streams, one per kind, each read in the list's own order
/// within its kind, due date then id, through an index that gives that order: a page is an
/// exact keyset range from the cursor, `limit + 1` rows, whatever the size of the network.
/// Check-ins and next steps carry their due dates in their own columns; owed thank-yous,
/// ideas and open asks carry the due date stored on their rows (`services::due_dates`).
struct Stream<'a> {
    owner_id: Uuid,
    today: &'a Today,
    /// The window's last day: later items are not listed.
    last_day: NaiveDate,
    window: Option<Window>,
}

impl Stream<'_> {
    /// The rows a stream reads: a page and one more, or all of them without a window.
    fn limit(&self) -> Option<u64> {
        self.window.map(|w| w.limit as u64 + 1)
    }

    /// The condition that keeps a stream of `kind` ordered by `date` then `id` after the
    /// cursor.
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

    /// Contacts whose check-in falls due by the last day: id, name, `next_check_in_on`.
    async fn check_ins(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<Vec<(Uuid, String, NaiveDate)>, DbErr> {
        self.check_ins_query().into_tuple().all(conn).await
    }

    fn check_ins_query(&self) -> Select<contact::Entity> {
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
            .limit(self.limit())
    }

    /// Open next steps due by the last day of conversations with a current participant:
    /// (conversation, due date, step), and the participants of those conversations.
    async fn next_steps(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<(Vec<(Uuid, NaiveDate, String)>, Vec<(Uuid, Uuid)>), ApiError> {
        use conversation_participant::Column as P;

        let steps: Vec<(Uuid, NaiveDate, String)> =
            self.next_steps_query().into_tuple().all(conn).await?;
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

    fn next_steps_query(&self) -> Select<conversation::Entity> {
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
        conversation::Entity::find()
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
            .limit(self.limit())
    }

    /// Owed thank-yous of past conversations, one per participant who is a current contact:
    /// (conversation, contact, due date), from the participant rows' copies of their
    /// conversation's time and status and its stored due date (no conversation row is read).
    async fn owed(&self, conn: &impl ConnectionTrait) -> Result<Vec<OwedRow>, DbErr> {
        self.owed_query().into_tuple().all(conn).await
    }

    fn owed_query(&self) -> Select<conversation_participant::Entity> {
        use conversation_participant::Column as P;

        let mut query = conversation_participant::Entity::find()
            .select_only()
            .columns([P::ConversationId, P::ContactId, P::ThankYouDueOn])
            .filter(P::OwnerId.eq(self.owner_id))
            .filter(P::ThankYouDueOn.lte(self.last_day))
            // A planned conversation owes nothing until it has happened: checked row by row,
            // on the rows due by the last day only.
            .filter(P::OccurredAt.lte(self.today.now));
        if let Some((due, kind, conversation, contact)) = self.window.and_then(|w| w.after) {
            query = query.filter(match kind.cmp(&FollowUpKind::ThankYou) {
                std::cmp::Ordering::Less => Condition::all().add(P::ThankYouDueOn.gte(due)),
                std::cmp::Ordering::Equal => Condition::all().add(P::ThankYouDueOn.gte(due)).add(
                    Condition::any().add(P::ThankYouDueOn.gt(due)).add(beyond(
                        P::ConversationId,
                        P::ContactId,
                        conversation,
                        contact,
                        true,
                    )),
                ),
                std::cmp::Ordering::Greater => Condition::all().add(P::ThankYouDueOn.gt(due)),
            });
        }
        query
            .filter(of_current_contact((
                conversation_participant::Entity,
                P::ContactId,
            )))
            .order_by_asc(P::ThankYouDueOn)
            .order_by_asc(P::ConversationId)
            .order_by_asc(P::ContactId)
            .limit(self.limit())
    }

    /// Offers still an idea, of current contacts: (id, contact, due date, title).
    async fn ideas(&self, conn: &impl ConnectionTrait) -> Result<Vec<TitledRow>, DbErr> {
        self.ideas_query().into_tuple().all(conn).await
    }

    fn ideas_query(&self) -> Select<value_offer::Entity> {
        use value_offer::Column as O;

        value_offer::Entity::find()
            .select_only()
            .columns([O::Id, O::ContactId, O::DeliverDueOn, O::Title])
            .filter(O::OwnerId.eq(self.owner_id))
            .filter(O::DeliverDueOn.lte(self.last_day))
            .filter(self.keyset_after(FollowUpKind::DeliverOffer, O::DeliverDueOn, O::Id))
            .filter(of_current_contact((value_offer::Entity, O::ContactId)))
            .order_by_asc(O::DeliverDueOn)
            .order_by_asc(O::Id)
            .limit(self.limit())
    }

    /// Asks still awaiting an answer, of current contacts: (id, contact, due date, title).
    async fn open_asks(&self, conn: &impl ConnectionTrait) -> Result<Vec<TitledRow>, DbErr> {
        self.open_asks_query().into_tuple().all(conn).await
    }

    fn open_asks_query(&self) -> Select<ask::Entity> {
        use ask::Column as A;

        ask::Entity::find()
            .select_only()
            .columns([A::Id, A::ContactId, A::FollowUpDueOn, A::Title])
            .filter(A::OwnerId.eq(self.owner_id))
            .filter(A::FollowUpDueOn.lte(self.last_day))
            .filter(self.keyset_after(FollowUpKind::AskFollowUp, A::FollowUpDueOn, A::Id))
            .filter(of_current_contact((ask::Entity, A::ContactId)))
            .order_by_asc(A::FollowUpDueOn)
            .order_by_asc(A::Id)
            .limit(self.limit())
    }
}

/// The statement each kind's stream runs for one page of the owner's follow-up list after
/// `after`, for tests that check how the database reads them.
pub fn stream_statements(
    backend: sea_orm::DbBackend,
    owner_id: Uuid,
    today: &Today,
    within_days: i64,
    after: Option<FollowUpKey>,
) -> Vec<(FollowUpKind, sea_orm::Statement)> {
    let stream = Stream {
        owner_id,
        today,
        last_day: relationship::add_days(today.date(), within_days),
        window: Some(Window { after, limit: 25 }),
    };
    vec![
        (
            FollowUpKind::CheckIn,
            stream.check_ins_query().build(backend),
        ),
        (
            FollowUpKind::NextStep,
            stream.next_steps_query().build(backend),
        ),
        (FollowUpKind::ThankYou, stream.owed_query().build(backend)),
        (
            FollowUpKind::DeliverOffer,
            stream.ideas_query().build(backend),
        ),
        (
            FollowUpKind::AskFollowUp,
            stream.open_asks_query().build(backend),
        ),
    ]
}

/// An owed thank-you as read: conversation, contact, due date.
type OwedRow = (Uuid, Uuid, NaiveDate);
/// An idea or an open ask as read: id, contact, due date, title.
type TitledRow = (Uuid, Uuid, NaiveDate, String);

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
