//! The follow-up list: check-ins, owed thank-yous, next steps and open asks.

use chrono::NaiveDate;
use entity::contact;
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, Order, Query, SelectStatement, WithClause,
    WithQuery,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryTrait, Statement};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::follow_ups::{self, FollowUp, FollowUpKey, FollowUpKind};
use crate::domain::relationship::{self, Today};
use crate::error::ApiError;
use crate::services::{ledger, union_all};

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
/// the size of the network (see [`Stream`]). The streams, with the names of their contacts,
/// the participants of their next steps and the summaries of their thank-yous' conversations,
/// are read in one statement, which also asks the ledger whether any of the owner's rows has
/// fallen out of date (a check-in whose planned conversation has come, a clock set back): when
/// one has, the rows are brought up to date and the statement runs again.
pub async fn follow_ups(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    within_days: i64,
    kinds: &[FollowUpKind],
    window: Option<Window>,
) -> Result<Vec<FollowUp>, ApiError> {
    // Without a window (the calendar feed), every overdue item of the network is read. With
    // one, each stream is a search of its index bounded by the page, whatever the values: one
    // plan serves every request (`Db::generic_reader`).
    let (_permit, conn) = match window {
        None => (Some(db.whole_network().await?), db.reader()),
        Some(_) => (None, db.generic_reader()),
    };
    let wanted = |kind| kinds.is_empty() || kinds.contains(&kind);
    let stream = Stream {
        owner_id,
        today,
        last_day: relationship::add_days(today.date(), within_days),
        window,
    };
    let mut read = stream.read(conn, &wanted, true).await?;
    if read.stale {
        ledger::bring_up_to_date(db, owner_id, today.now).await?;
        read = stream.read(conn, &wanted, false).await?;
    }
    Ok(follow_ups::assemble(
        read.sources,
        today,
        within_days,
        wanted,
    ))
}

/// The name of the follow-up statement's page of items, merged from the streams.
const PAGE: &str = "page";

/// The kind of a row of the follow-up statement: a [`FollowUpKind`]'s priority, or one of
/// these two.
const STEP_PARTICIPANT: i32 = 100;
const STALE: i32 = 101;

mod streams;

use self::streams::typed_null;

/// A row of the follow-up statement: source, contact, kind, due date, contact name, detail.
type Row = (
    Uuid,
    Uuid,
    i32,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
);

/// What the follow-up statement read.
struct Read {
    sources: follow_ups::Sources,
    /// Some of the owner's ledger rows are out of date.
    stale: bool,
}

/// Adds a row of the follow-up statement, of `kind`, to what the list is made of.
fn add_row(sources: &mut follow_ups::Sources, kind: i32, row: Row) -> Result<(), DbErr> {
    use FollowUpKind::*;

    let (source, contact, _, due, name, detail) = row;
    if kind == STEP_PARTICIPANT {
        sources.step_participants.push((source, contact));
        sources
            .contacts
            .push((contact, present(name, "a name")?, None));
        return Ok(());
    }
    let kind = u8::try_from(kind)
        .ok()
        .and_then(FollowUpKind::from_priority)
        .ok_or_else(|| DbErr::Custom(format!("a follow-up row of kind {kind}")))?;
    let due = present(due, "a due date")?;
    if kind == NextStep {
        // Named by its participants' rows.
        sources
            .steps
            .push((source, due, present(detail, "its step")?));
        return Ok(());
    }
    let name = present(name, "a name")?;
    let next_check_in = (kind == CheckIn).then_some(due);
    sources.contacts.push((contact, name, next_check_in));
    match kind {
        ThankYou => sources.owed.push((source, contact, due, detail)),
        DeliverOffer => {
            let title = present(detail, "a title")?;
            sources.ideas.push((source, contact, due, title));
        }
        AskFollowUp => {
            let title = present(detail, "a title")?;
            sources.open_asks.push((source, contact, due, title));
        }
        CheckIn | NextStep => {}
    }
    Ok(())
}

/// A value a row of its kind always has, or an error naming what is missing.
fn present<T>(value: Option<T>, what: &str) -> Result<T, DbErr> {
    value.ok_or_else(|| DbErr::Custom(format!("a follow-up row without {what}")))
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

    /// Reads the streams of the kinds `wanted` takes, in one statement, with the ledger's
    /// out-of-date probe when `probe`.
    async fn read(
        &self,
        conn: &impl ConnectionTrait,
        wanted: &impl Fn(FollowUpKind) -> bool,
        probe: bool,
    ) -> Result<Read, ApiError> {
        let mut read = Read {
            sources: follow_ups::Sources::default(),
            stale: false,
        };
        let Some(statement) = self.statement(wanted, probe) else {
            return Ok(read);
        };
        for row in conn.query_all(&statement).await? {
            let row: Row = row.try_get_many_by_index()?;
            match row.2 {
                STALE => read.stale = true,
                kind => add_row(&mut read.sources, kind, row)?,
            }
        }
        Ok(read)
    }

    /// The follow-up statement: the streams of the kinds `wanted` takes, merged in list order
    /// and cut to the window (`page`), then the current participants of the page's next steps,
    /// and with `probe` the ledger's out-of-date probe; none when nothing is wanted. The merge
    /// sorts at most a window's rows of each kind, and only the page crosses from the
    /// database: each row returned costs more than the sort.
    fn statement(&self, wanted: &impl Fn(FollowUpKind) -> bool, probe: bool) -> Option<WithQuery> {
        let streams = self
            .arms()
            .into_iter()
            .filter(|(kind, _)| wanted(*kind))
            .map(|(_, arm)| arm);
        let mut page = Query::select()
            .column(Asterisk)
            .from_subquery(union_all("stream", streams)?, Alias::new("streams"))
            .to_owned();
        if let Some(limit) = self.limit() {
            for column in ["due", "kind", "source", "contact"] {
                page.order_by(Alias::new(column), Order::Asc);
            }
            page.limit(limit);
        }
        let mut arms = vec![
            Query::select()
                .column(Asterisk)
                .from(Alias::new(PAGE))
                .to_owned(),
        ];
        if wanted(FollowUpKind::NextStep) {
            arms.push(self.step_participants_query());
        }
        if probe {
            arms.extend(self.stale_arms());
        }
        let cte = CommonTableExpression::new()
            .query(page)
            .table_name(Alias::new(PAGE))
            .materialized(true)
            .to_owned();
        Some(union_all("follow_up", arms)?.with(WithClause::new().cte(cte).to_owned()))
    }

    /// Each kind's stream.
    fn arms(&self) -> [(FollowUpKind, SelectStatement); 5] {
        [
            (FollowUpKind::ThankYou, self.owed_query().into_query()),
            (FollowUpKind::NextStep, self.next_steps_query().into_query()),
            (
                FollowUpKind::AskFollowUp,
                self.open_asks_query().into_query(),
            ),
            (FollowUpKind::CheckIn, self.check_ins_query().into_query()),
            (FollowUpKind::DeliverOffer, self.ideas_query().into_query()),
        ]
    }

    /// The ledger's out-of-date probe ([`ledger::stale_arms`]) as rows of the statement.
    fn stale_arms(&self) -> impl Iterator<Item = SelectStatement> {
        ledger::stale_arms(self.owner_id, self.today.now, Some(1))
            .into_iter()
            .map(|mut arm| {
                arm.expr(contact::Column::Id.into_expr())
                    .expr(Expr::val(STALE))
                    .expr(typed_null("date"))
                    .expr(typed_null("text"))
                    .expr(typed_null("text"));
                arm
            })
    }
}

/// The statement each kind's stream runs for one page of the owner's follow-up list after
/// `after`, and the whole statement of the page, for tests that check how the database reads
/// them.
pub fn stream_statements(
    backend: sea_orm::DbBackend,
    owner_id: Uuid,
    today: &Today,
    within_days: i64,
    after: Option<FollowUpKey>,
) -> (Vec<(FollowUpKind, Statement)>, Option<Statement>) {
    let stream = Stream {
        owner_id,
        today,
        last_day: relationship::add_days(today.date(), within_days),
        window: Some(Window { after, limit: 25 }),
    };
    let arms = stream
        .arms()
        .into_iter()
        .map(|(kind, arm)| (kind, backend.build(&arm)))
        .collect();
    let whole = stream.statement(&|_| true, true);
    (arms, whole.map(|whole| backend.build(&whole)))
}
