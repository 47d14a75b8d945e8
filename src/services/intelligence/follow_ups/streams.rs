//! The streams of the follow-up statement, one query per kind, and the columns they share.

use entity::{ask, contact, conversation, conversation_participant, value_offer};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};
use uuid::Uuid;

use super::{PAGE, STEP_PARTICIPANT, Stream};
use crate::domain::follow_ups::FollowUpKind;
use crate::services::beyond;

/// Whether `column` is the id of a current (not archived) contact of `owner_id`: a search of
/// the primary key for each row, as a scalar subquery rather than `EXISTS`. PostgreSQL's
/// planner turns an `EXISTS` into a join, and knowing the owner's value it may then walk every
/// contact of the owner to join them, which it judges cheap on small tables; a scalar subquery
/// stays a lookup by key for each row.
fn of_current_contact(owner_id: Uuid, column: impl sea_orm::sea_query::IntoColumnRef) -> Condition {
    use contact::Column as C;

    let current = SimpleExpr::SubQuery(
        None,
        Box::new(
            Query::select()
                .expr(Expr::val(1))
                .from(contact::Entity)
                .and_where(Expr::col((contact::Entity, C::OwnerId)).eq(owner_id))
                .and_where(Expr::col((contact::Entity, C::Id)).equals(column))
                .and_where(Expr::col((contact::Entity, C::ArchivedAt)).is_null())
                .to_owned()
                .into(),
        ),
    );
    Condition::all().add(Expr::expr(current).is_not_null())
}

/// The name of `owner_id`'s contact whose id is `column`: a search of the primary key for
/// each row returned.
fn name_of(owner_id: Uuid, column: impl sea_orm::sea_query::IntoColumnRef) -> SimpleExpr {
    use contact::Column as C;

    SimpleExpr::SubQuery(
        None,
        Box::new(
            Query::select()
                .column((contact::Entity, C::FullName))
                .from(contact::Entity)
                .and_where(Expr::col((contact::Entity, C::OwnerId)).eq(owner_id))
                .and_where(Expr::col((contact::Entity, C::Id)).equals(column))
                .to_owned()
                .into(),
        ),
    )
}

impl Stream<'_> {
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

    /// Contacts whose check-in falls due by the last day, with their names.
    pub(super) fn check_ins_query(&self) -> Select<contact::Entity> {
        use contact::Column as C;

        row_of(
            contact::Entity::find(),
            [
                C::Id.into_expr(),
                C::Id.into_expr(),
                kind_of(FollowUpKind::CheckIn),
                C::NextCheckInOn.into_expr(),
                C::FullName.into_expr(),
                typed_null("text"),
            ],
        )
        .filter(C::OwnerId.eq(self.owner_id))
        .filter(C::NextCheckInOn.lte(self.last_day))
        .filter(C::ArchivedAt.is_null())
        .filter(self.keyset_after(FollowUpKind::CheckIn, C::NextCheckInOn, C::Id))
        .order_by_asc(C::NextCheckInOn)
        .order_by_asc(C::Id)
        .limit(self.limit())
    }

    /// Open next steps due by the last day of conversations with a current participant, with
    /// the step as the detail (no contact: the participants are rows of their own).
    pub(super) fn next_steps_query(&self) -> Select<conversation::Entity> {
        use conversation::Column as C;
        use conversation_participant::Column as P;

        let current_participant = Condition::all().add(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(conversation_participant::Entity)
                .and_where(
                    Expr::col((conversation_participant::Entity, P::OwnerId)).eq(self.owner_id),
                )
                .and_where(
                    Expr::col((conversation_participant::Entity, P::ConversationId))
                        .equals((conversation::Entity, C::Id)),
                )
                .cond_where(of_current_contact(
                    self.owner_id,
                    (conversation_participant::Entity, P::ContactId),
                ))
                .to_owned(),
        ));
        row_of(
            conversation::Entity::find(),
            [
                C::Id.into_expr(),
                C::Id.into_expr(),
                kind_of(FollowUpKind::NextStep),
                C::NextStepDueOn.into_expr(),
                typed_null("text"),
                C::NextStep.into_expr(),
            ],
        )
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

    /// The current participants of the page's next steps, with their names: the item goes
    /// under the one who comes first by name.
    pub(super) fn step_participants_query(&self) -> SelectStatement {
        use conversation_participant::Column as P;

        let steps = Query::select()
            .column(Alias::new("source"))
            .from(Alias::new(PAGE))
            .and_where(Expr::col(Alias::new("kind")).eq(kind_of(FollowUpKind::NextStep)))
            .to_owned();
        row_of(
            conversation_participant::Entity::find(),
            [
                P::ConversationId.into_expr(),
                P::ContactId.into_expr(),
                Expr::val(STEP_PARTICIPANT),
                typed_null("date"),
                name_of(
                    self.owner_id,
                    (conversation_participant::Entity, P::ContactId),
                ),
                typed_null("text"),
            ],
        )
        .filter(P::OwnerId.eq(self.owner_id))
        .filter(P::ConversationId.in_subquery(steps))
        .filter(of_current_contact(
            self.owner_id,
            (conversation_participant::Entity, P::ContactId),
        ))
        .into_query()
    }

    /// Owed thank-yous of past conversations, one per participant who is a current contact,
    /// from the participant rows' copies of their conversation's time and status and its
    /// stored due date, with the conversation's summary as the detail.
    pub(super) fn owed_query(&self) -> Select<conversation_participant::Entity> {
        use conversation_participant::Column as P;

        let summary = SimpleExpr::SubQuery(
            None,
            Box::new(
                Query::select()
                    .column((conversation::Entity, conversation::Column::Summary))
                    .from(conversation::Entity)
                    .and_where(
                        Expr::col((conversation::Entity, conversation::Column::OwnerId))
                            .eq(self.owner_id),
                    )
                    .and_where(
                        Expr::col((conversation::Entity, conversation::Column::Id))
                            .equals((conversation_participant::Entity, P::ConversationId)),
                    )
                    .to_owned()
                    .into(),
            ),
        );
        let mut query = row_of(
            conversation_participant::Entity::find(),
            [
                P::ConversationId.into_expr(),
                P::ContactId.into_expr(),
                kind_of(FollowUpKind::ThankYou),
                P::ThankYouDueOn.into_expr(),
                name_of(
                    self.owner_id,
                    (conversation_participant::Entity, P::ContactId),
                ),
                summary,
            ],
        )
        .filter(P::OwnerId.eq(self.owner_id))
        .filter(P::ThankYouDueOn.lte(self.last_day))
        // A planned conversation owes nothing until it has happened: checked row by row, on
        // the rows due by the last day only.
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
            .filter(of_current_contact(
                self.owner_id,
                (conversation_participant::Entity, P::ContactId),
            ))
            .order_by_asc(P::ThankYouDueOn)
            .order_by_asc(P::ConversationId)
            .order_by_asc(P::ContactId)
            .limit(self.limit())
    }

    /// Offers still an idea, of current contacts, with their titles.
    pub(super) fn ideas_query(&self) -> Select<value_offer::Entity> {
        use value_offer::Column as O;

        self.titled_query(
            FollowUpKind::DeliverOffer,
            [O::Id, O::ContactId, O::OwnerId, O::DeliverDueOn, O::Title],
        )
    }

    /// Asks still awaiting an answer, of current contacts, with their titles.
    pub(super) fn open_asks_query(&self) -> Select<ask::Entity> {
        use ask::Column as A;

        self.titled_query(
            FollowUpKind::AskFollowUp,
            [A::Id, A::ContactId, A::OwnerId, A::FollowUpDueOn, A::Title],
        )
    }

    /// The stream of `kind` from a table of titled records of one contact each (ideas, open
    /// asks): `columns` are its id, contact, owner, stored due date and title.
    fn titled_query<E: EntityTrait + Default>(
        &self,
        kind: FollowUpKind,
        [id, contact_id, owner_id, due, title]: [E::Column; 5],
    ) -> Select<E> {
        row_of(
            E::find(),
            [
                id.into_expr(),
                contact_id.into_expr(),
                kind_of(kind),
                due.into_expr(),
                name_of(self.owner_id, (E::default(), contact_id)),
                title.into_expr(),
            ],
        )
        .filter(owner_id.eq(self.owner_id))
        .filter(due.lte(self.last_day))
        .filter(self.keyset_after(kind, due, id))
        .filter(of_current_contact(
            self.owner_id,
            (E::default(), contact_id),
        ))
        .order_by_asc(due)
        .order_by_asc(id)
        .limit(self.limit())
    }
}

/// The columns of a row of the follow-up statement, in order: source, contact, kind, due
/// date, contact name, detail.
const COLUMNS: [&str; 6] = ["source", "contact", "kind", "due", "name", "detail"];

fn row_of<E: EntityTrait>(select: Select<E>, columns: [SimpleExpr; 6]) -> Select<E> {
    let mut select = select.select_only();
    for (column, name) in columns.into_iter().zip(COLUMNS) {
        select = select.column_as(column, name);
    }
    select
}

/// A kind's priority as a constant of the statement.
fn kind_of(kind: FollowUpKind) -> SimpleExpr {
    Expr::val(i32::from(kind.priority()))
}

/// A null of the SQL type `name`: a union's arms must agree on their columns' types, and
/// PostgreSQL reads an untyped null in a subquery as text.
pub(super) fn typed_null(name: &str) -> SimpleExpr {
    Expr::cust(format!("CAST(NULL AS {name})"))
}
