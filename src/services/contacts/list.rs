//! One page of the owner's contacts: every filter and sort, stored or derived, as indexed
//! queries on the contact rows.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use entity::{contact, contact_tag};
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement, UnionType,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Statement,
};
use uuid::Uuid;

use super::{Contact, tags_of};
use crate::db::Db;
use crate::domain::labels::search_terms;
use crate::domain::relationship::{
    self, Health, MAX_CADENCE_DAYS, Reciprocity, Relationship, Today,
};
use crate::error::{ApiError, ProblemCode};
use crate::services::{beyond_exprs, ledger, unindexed};

/// Which contacts a list shows, by archive state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Archived {
    #[default]
    Hidden,
    Only,
    Included,
}

/// A list's sort key and direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    FullName,
    #[default]
    CreatedAt,
    UpdatedAt,
    /// Derived: `relationship.next_check_in_on`, contacts without one last.
    NextCheckInOn,
    /// Derived: `relationship.last_conversation_at`, contacts never met last.
    LastConversationAt,
}

impl SortKey {
    /// The value a derived sort orders by: a day number or microseconds; none sorts last.
    pub fn derived_value(self, r: &Relationship) -> Option<i64> {
        match self {
            Self::NextCheckInOn => r.next_check_in_on.map(|d| i64::from(d.num_days_from_ce())),
            Self::LastConversationAt => r.last_conversation_at.map(|at| at.timestamp_micros()),
            _ => None,
        }
    }
}

/// Where a page starts: the sort value and id of the previous page's last item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum After {
    FullName(String, Uuid),
    Instant(DateTime<Utc>, Uuid),
    Derived(Option<i64>, Uuid),
}

#[derive(Clone, Debug, Default)]
pub struct ContactFilter {
    pub q: Vec<String>,
    pub tags: Vec<String>,
    pub company: Option<String>,
    pub archived: Archived,
    pub updated_since: Option<DateTime<Utc>>,
    pub health: Option<Health>,
    pub reciprocity: Option<Reciprocity>,
    pub one_off: Option<bool>,
    pub sort: SortKey,
    pub descending: bool,
    pub after: Option<After>,
    pub limit: u64,
}

impl ContactFilter {
    pub fn with_query(mut self, q: &str) -> Self {
        self.q = search_terms(q);
        self
    }
}

/// A contact with the relationship derived from its records.
pub type Listed = (Contact, Relationship);

/// The owner's contacts that pass every filter of `filter`, unordered. The relationship
/// filters compare the stored ledger's dates and balance with today, through expressions no
/// index serves; when `ranged`, the health filter also as its range of
/// `idx_contact_owner_next_check_in`, then the one condition an index serves besides the owner
/// and tags.
fn filtered(
    owner_id: Uuid,
    filter: &ContactFilter,
    today: NaiveDate,
    ranged: bool,
) -> Select<contact::Entity> {
    use contact::Column as C;

    let mut query = contact::Entity::find().filter(C::OwnerId.eq(owner_id));
    query = match filter.archived {
        Archived::Hidden => query.filter(C::ArchivedAt.is_null()),
        Archived::Only => query.filter(C::ArchivedAt.is_not_null()),
        Archived::Included => query,
    };
    for term in &filter.q {
        query = query.filter(C::SearchText.like(format!("% {term}%")));
    }
    if let Some(company) = &filter.company {
        query = query.filter(
            Expr::expr(Func::lower(Expr::col(C::Company))).eq(company.trim().to_lowercase()),
        );
    }
    if let Some(since) = filter.updated_since {
        // Only the health's range may lead the planner to its rows (see `Part::Health`).
        let updated_at = if ranged {
            unindexed(C::UpdatedAt)
        } else {
            C::UpdatedAt.into_expr()
        };
        query = query.filter(updated_at.gte(since));
    }
    if !filter.tags.is_empty() {
        // Contacts carrying every requested tag.
        let tagged = contact_tag::Entity::find()
            .select_only()
            .column(contact_tag::Column::ContactId)
            .filter(contact_tag::Column::OwnerId.eq(owner_id))
            .filter(contact_tag::Column::Tag.is_in(filter.tags.iter().cloned()))
            .group_by(contact_tag::Column::ContactId)
            .having(
                Expr::col(contact_tag::Column::Tag)
                    .count()
                    .eq(filter.tags.len() as i64),
            )
            .into_query();
        query = query.filter(C::Id.in_subquery(tagged));
    }
    // A health filter is found in its range of the check-in index, or checked on the rows the
    // sort's index finds (see `Part::Health`).
    if let Some(health) = filter.health {
        if ranged {
            query = query.filter(health_range(health, today));
        }
        query = query.filter(health_condition(health, today, unindexed));
    }
    // Reciprocity matches a large share of a network: compared through an expression, so
    // that the planner walks the sort's index and the page fills after a few rows, rather
    // than collecting every match through the filter column's index and sorting them all.
    if let Some(reciprocity) = filter.reciprocity {
        let balance = unindexed(C::Balance);
        query = query.filter(match reciprocity {
            Reciprocity::Giving => balance.gt(0),
            Reciprocity::Balanced => balance.eq(0),
            Reciprocity::Taking => balance.lt(0),
        });
    }
    // One-offs are few: their index `(owner_id, one_off_on)` finds them all, then they are
    // sorted. Their complement is most of the network, filtered along the sort's index.
    match filter.one_off {
        Some(true) => query = query.filter(C::OneOffOn.lte(today)),
        Some(false) => {
            let one_off_on = unindexed(C::OneOffOn);
            query = query.filter(
                Condition::any()
                    .add(one_off_on.clone().is_null())
                    .add(one_off_on.gt(today)),
            );
        }
        None => {}
    }
    query
}

/// The most rows of a health's range a page sorts: a larger range is walked along the sort's
/// index instead (see [`Part::Health`]).
pub const SORTED_AT_MOST: u64 = 1_000;

/// The condition of `health` today on the contact's stored dates, each column as `col`
/// writes it.
fn health_condition(
    health: Health,
    today: NaiveDate,
    col: impl Fn(contact::Column) -> Expr,
) -> Condition {
    use contact::Column as C;

    let (next, cold) = (col(C::NextCheckInOn), col(C::ColdOn));
    match health {
        Health::None => Condition::all().add(next.is_null()),
        Health::Ok => Condition::all().add(next.gt(today)),
        Health::Due => Condition::all().add(next.lte(today)).add(cold.gt(today)),
        Health::Cold => Condition::all().add(cold.lte(today)),
    }
}

/// The range of `idx_contact_owner_next_check_in` that holds every contact of `health` today,
/// and for `due` and `cold` some others, which [`health_condition`] drops: a check-in stays
/// due for at most the longest due window, and turns cold two days after it falls due at the
/// earliest.
fn health_range(health: Health, today: NaiveDate) -> Condition {
    let next = contact::Column::NextCheckInOn;
    let longest_due = relationship::due_window(MAX_CADENCE_DAYS).unsigned_abs();
    let earliest_due = today
        .checked_sub_days(Days::new(longest_due))
        .unwrap_or(NaiveDate::MIN);
    Condition::all().add(match health {
        Health::None => next.is_null(),
        Health::Ok => next.gt(today),
        Health::Due => next.between(earliest_due, today),
        Health::Cold => next.lt(today),
    })
}

/// A derived sort's cursor value, decoded: a day number under `next_check_in_on`,
/// microseconds under `last_conversation_at`.
#[derive(Clone, Copy, Debug)]
enum DerivedValue {
    Day(NaiveDate),
    At(DateTime<Utc>),
}

impl DerivedValue {
    fn decode(sort: SortKey, value: i64) -> Result<Self, ApiError> {
        let invalid = || ApiError::new(ProblemCode::InvalidCursor, "cursor is not valid");
        Ok(match sort {
            SortKey::NextCheckInOn => Self::Day(
                i32::try_from(value)
                    .ok()
                    .and_then(NaiveDate::from_num_days_from_ce_opt)
                    .ok_or_else(invalid)?,
            ),
            _ => Self::At(DateTime::from_timestamp_micros(value).ok_or_else(invalid)?),
        })
    }
}

/// A derived sort's cursor value as the stored column's value.
fn derived_value(sort: SortKey, value: i64) -> Result<sea_orm::Value, ApiError> {
    Ok(match DerivedValue::decode(sort, value)? {
        DerivedValue::Day(day) => day.into(),
        DerivedValue::At(at) => at.into(),
    })
}

/// How a part's query writes a column: as itself, for the planner to walk its index, or as
/// [`unindexed`], to be checked on or sorted from the rows another condition finds.
type ColumnAs<'a> = &'a dyn Fn(contact::Column) -> Expr;

/// `query` ordered by `(column, id)` in the page's direction.
fn ordered(
    query: Select<contact::Entity>,
    column: contact::Column,
    descending: bool,
    col: ColumnAs,
) -> Select<contact::Entity> {
    let order = if descending { Order::Desc } else { Order::Asc };
    query
        .order_by(col(column), order.clone())
        .order_by(col(contact::Column::Id), order)
}

/// The parts of a derived sort, in order: ascending by the column with contacts without a
/// value last, then by id; descending is the exact reverse. Each part is an index range scan
/// (`(owner_id, column, id)` for the values, `(owner_id, id)` for the rest); a cursor in the
/// second part skips the first.
fn derived_parts(
    query: Select<contact::Entity>,
    filter: &ContactFilter,
    col: ColumnAs,
) -> Result<Vec<(Span, Select<contact::Entity>)>, ApiError> {
    use contact::Column as C;

    let column = sort_column(filter.sort);
    let (cursor_value, cursor_id) = match &filter.after {
        Some(After::Derived(value, id)) => (Some(*value), Some(*id)),
        _ => (None, None),
    };
    let mut valued = query.clone().filter(col(column).is_not_null());
    if let (Some(Some(value)), Some(id)) = (cursor_value, cursor_id) {
        let value = derived_value(filter.sort, value)?;
        valued = valued.filter(beyond_exprs(
            (col(column), col(C::Id)),
            value,
            id,
            !filter.descending,
        ));
    }
    let mut valueless = query.filter(col(column).is_null());
    if let (Some(None), Some(id)) = (cursor_value, cursor_id) {
        valueless = valueless.filter(if filter.descending {
            col(C::Id).lt(id)
        } else {
            col(C::Id).gt(id)
        });
    }
    // Both parts order by (column, id), the valueless one too although its column is null
    // throughout: that is the order of the index, which then needs no sort on either backend.
    let valued = ordered(valued, column, filter.descending, col);
    let valueless = ordered(valueless, column, filter.descending, col);
    let in_second_part = cursor_value.is_some_and(|v| v.is_none() != filter.descending);
    let (valued, valueless) = ((Span::Valued, valued), (Span::Valueless, valueless));
    Ok(match (filter.descending, in_second_part) {
        (false, false) => vec![valued, valueless],
        (true, false) => vec![valueless, valued],
        (false, true) => vec![valueless],
        (true, true) => vec![valued],
    })
}

/// Which contacts a part of a page lists: those with a value of the sort's column (every
/// contact, for a stored sort), or those without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    Valued,
    Valueless,
}

/// The column a page sorts by, stored or derived.
fn sort_column(sort: SortKey) -> contact::Column {
    use contact::Column as C;

    match sort {
        SortKey::FullName => C::FullName,
        SortKey::CreatedAt => C::CreatedAt,
        SortKey::UpdatedAt => C::UpdatedAt,
        SortKey::NextCheckInOn => C::NextCheckInOn,
        SortKey::LastConversationAt => C::LastConversationAt,
    }
}

/// `query` as the ordered parts of the page's sort after its cursor: one for a stored sort,
/// two for a derived one (see [`derived_parts`]).
fn sorted_parts(
    query: Select<contact::Entity>,
    filter: &ContactFilter,
    col: ColumnAs,
) -> Result<Vec<(Span, Select<contact::Entity>)>, ApiError> {
    use contact::Column as C;

    let column = sort_column(filter.sort);
    if matches!(
        filter.sort,
        SortKey::NextCheckInOn | SortKey::LastConversationAt
    ) {
        return derived_parts(query, filter, col);
    }
    let mut query = query;
    if let Some(after) = &filter.after {
        let (value, id) = match after {
            After::FullName(name, id) => (sea_orm::Value::from(name.clone()), *id),
            After::Instant(at, id) => (sea_orm::Value::from(*at), *id),
            After::Derived(..) => {
                return Err(ApiError::new(
                    ProblemCode::InvalidCursor,
                    "cursor is not valid",
                ));
            }
        };
        query = query.filter(beyond_exprs(
            (col(column), col(C::Id)),
            value,
            id,
            !filter.descending,
        ));
    }
    Ok(vec![(
        Span::Valued,
        ordered(query, column, filter.descending, col),
    )])
}

/// The queries of one page of the contact list (see [`page_queries`]).
pub struct PagePlan {
    /// For a page with [`Part::Health`] parts: counts the health's range of
    /// `idx_contact_owner_next_check_in` up to [`SORTED_AT_MOST`] rows (an index search that
    /// stops there), which decides how each of them runs.
    pub in_range: Option<SelectStatement>,
    /// Run in turn until the page is full.
    pub parts: Vec<Part>,
}

/// One query of a page of contacts.
pub enum Part {
    /// The rows in page order along an index, every filter checked on the rows it finds.
    Walk(Select<contact::Entity>),
    /// A health filter under a stored sort, or over the contacts never met under a sort by
    /// `last_conversation_at`. A health may hold most of a network or almost none of it (few
    /// contacts with a cadence, few due today): walking the sort's index costs the page divided
    /// by the health's share of the network, collecting the health's range of
    /// `idx_contact_owner_next_check_in` and sorting it costs the range. A range the page's
    /// count ([`PagePlan::in_range`]) finds smaller than [`SORTED_AT_MOST`] is collected
    /// (`collect`); a larger one means the health holds a share of the network large enough
    /// to `walk`.
    Health {
        walk: Select<contact::Entity>,
        collect: Box<Select<contact::Entity>>,
    },
    /// A health filter under a sort by `next_check_in_on` or `last_conversation_at` whose
    /// rows may lie far along the sort's index (see [`by_cadence`]), over the contacts with a
    /// value (see [`CadencePart`]).
    Cadences(Box<CadencePart>),
}

/// A health filter under a sort by one of the two dates it follows, where the page's rows
/// may lie anywhere along the sort's index: the contacts due today are among those whose last
/// conversation lies furthest back, behind every contact still ok. Within one cadence, a
/// health is one range of `next_check_in_on` (due: from the cadence's due window before
/// today to today), and among the contacts that have met, `next_check_in_on` is the date of
/// `last_conversation_at` plus the cadence, so it orders them as `last_conversation_at` does.
/// The page reads the owner's cadences ([`CadencePart::cadences`], a loose scan of
/// `idx_contact_owner_cadence_check_in`), then, as one statement, the keys of each cadence's
/// first rows of its range in page order along that index, the page's first keys of those,
/// and their rows ([`CadencePart::page`]): the cost of the cadences and the page, not of the
/// network.
pub struct CadencePart {
    owner_id: Uuid,
    /// Every filter of the page but the health (which is the cadence's range) and its
    /// cursor, before the cadence, through expressions no index serves: the cadence's range
    /// is the one condition on `next_check_in_on` an index may serve, or SQLite's planner
    /// prefers the network's check-ins in page order. With no other filter than the archive
    /// state, each cadence's part reads the index alone.
    arm: Select<contact::Entity>,
    health: Health,
    sort: SortKey,
    descending: bool,
    today: NaiveDate,
    cursor: Option<CursorOn>,
}

/// Where the page after a cursor starts in each cadence's range of check-ins.
#[derive(Clone, Copy, Debug)]
enum CursorOn {
    /// Under `next_check_in_on`: the cursor's date.
    CheckIn(NaiveDate),
    /// Under `last_conversation_at`: the UTC date of the cursor's instant. A contact of
    /// cadence `c` after it checks in on that date plus `c` or later (earlier when
    /// descending), give or take the day between that date and the owner's.
    Conversation(NaiveDate),
}

impl CursorOn {
    /// The check-in date a contact of `cadence` after the cursor is at or beyond.
    fn bound(self, cadence: i32, descending: bool) -> NaiveDate {
        match self {
            Self::CheckIn(day) => day,
            Self::Conversation(day) => {
                let days = i64::from(cadence) + if descending { 1 } else { -1 };
                day.checked_add_signed(chrono::Duration::days(days))
                    .unwrap_or(if descending {
                        NaiveDate::MAX
                    } else {
                        NaiveDate::MIN
                    })
            }
        }
    }
}

impl CadencePart {
    /// The distinct cadences of the owner's contacts not archived, smallest first: one index
    /// search each.
    pub fn cadences(&self, backend: DbBackend) -> Statement {
        let (owner, values) = match backend {
            DbBackend::Postgres => ("$1", vec![self.owner_id.into()]),
            _ => ("?", vec![self.owner_id.into(); 2]),
        };
        let sql = format!(
            "WITH RECURSIVE k(c) AS ( \
               SELECT MIN(cadence_days) FROM contact \
               WHERE owner_id = {owner} AND archived_at IS NULL AND cadence_days IS NOT NULL \
               UNION ALL \
               SELECT (SELECT MIN(n.cadence_days) FROM contact AS n \
                 WHERE n.owner_id = {owner} AND n.archived_at IS NULL AND n.cadence_days > k.c) \
               FROM k WHERE k.c IS NOT NULL \
             ) \
             SELECT c FROM k WHERE c IS NOT NULL"
        );
        Statement::from_sql_and_values(backend, sql, values)
    }

    /// The first `limit` rows of the page among the contacts of `cadences`: the keys of each
    /// cadence's first `limit` in its range after the cursor, in page order, the first
    /// `limit` of those, and their rows. None when no cadence has a range left.
    pub fn page(&self, cadences: &[i32], limit: u64) -> Option<SelectStatement> {
        use contact::Column as C;

        let order = if self.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let column = sort_column(self.sort);
        let mut arms = cadences.iter().filter_map(|&cadence| {
            let (mut from, mut to) = cadence_range(self.health, cadence, self.today);
            if let Some(cursor) = self.cursor {
                let bound = cursor.bound(cadence, self.descending);
                if self.descending {
                    to = Some(to.map_or(bound, |to| Ord::min(to, bound)));
                } else {
                    from = Some(from.map_or(bound, |from| Ord::max(from, bound)));
                }
            }
            let next = C::NextCheckInOn;
            let range = match (from, to) {
                (Some(from), Some(to)) if from > to => return None,
                (Some(from), Some(to)) => next.between(from, to),
                (Some(from), None) => next.gte(from),
                (None, Some(to)) => next.lte(to),
                (None, None) => next.is_not_null(),
            };
            let arm = self
                .arm
                .clone()
                .filter(C::CadenceDays.eq(cadence))
                .filter(range)
                .order_by(C::NextCheckInOn, order.clone());
            // By `last_conversation_at`, the order of the cadence's index. By
            // `next_check_in_on`, the contacts of one date are then sorted by id, as
            // [`unindexed`]: in the index's order, the planner would walk the whole
            // network's check-ins instead, which need no sort.
            let arm = if self.sort == SortKey::LastConversationAt {
                arm.order_by(C::LastConversationAt, order.clone())
                    .order_by(C::Id, order.clone())
            } else {
                arm.order_by(unindexed(C::Id), order.clone())
            };
            // The id and the sort's value alone: a sort of the contacts of one date
            // carries those, not whole rows.
            Some(
                arm.select_only()
                    .column(C::Id)
                    .column(column)
                    .limit(limit)
                    .into_query(),
            )
        });
        let wrap = |(i, arm): (usize, SelectStatement)| {
            Query::select()
                .column(Asterisk)
                .from_subquery(arm, Alias::new(format!("cadence_{i}")))
                .to_owned()
        };
        let mut numbered = (&mut arms).enumerate();
        let mut union = wrap(numbered.next()?);
        for arm in numbered {
            union.union(UnionType::All, wrap(arm));
        }
        let page = Alias::new("page");
        let ids = Query::select()
            .column(Asterisk)
            .from_subquery(union, page.clone())
            .order_by(column, order.clone())
            .order_by(C::Id, order.clone())
            .limit(limit)
            .to_owned();
        // Then the page's rows, by their keys.
        Some(
            Query::select()
                .column((contact::Entity, Asterisk))
                .from(contact::Entity)
                .join_subquery(
                    JoinType::InnerJoin,
                    ids,
                    page.clone(),
                    Condition::all()
                        .add(Expr::col((contact::Entity, C::OwnerId)).eq(self.owner_id))
                        .add(Expr::col((contact::Entity, C::Id)).equals((page.clone(), C::Id))),
                )
                .order_by((page.clone(), column), order.clone())
                .order_by((page, C::Id), order)
                .to_owned(),
        )
    }
}

/// The range of `next_check_in_on`, first and last day, that holds the contacts of `cadence`
/// whose health is `health` today.
fn cadence_range(
    health: Health,
    cadence: i32,
    today: NaiveDate,
) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let window = relationship::due_window(cadence).unsigned_abs();
    let last_due = today.checked_sub_days(Days::new(window));
    match health {
        Health::None => (None, None),
        Health::Ok => (today.succ_opt(), None),
        Health::Due => (last_due, Some(today)),
        Health::Cold => (None, last_due.and_then(|day| day.pred_opt())),
    }
}

/// Whether a page of `health` with `filter` reads, among the contacts with a value, each
/// cadence's range of check-ins ([`CadencePart`]), which holds the contacts not archived. By
/// `last_conversation_at`, for every health but `none`. By `next_check_in_on`, the health's
/// range of that index holds `ok` alone, and walked from today down for `due` or from the
/// earliest check-in up for `cold` (where every cadence's range of the health starts) it
/// meets the health's contacts first; walked the other way, it starts where the longest
/// cadence's range does, and crosses the contacts of the shorter cadences that have already
/// turned cold (or are still due) first.
fn by_cadence(health: Health, filter: &ContactFilter) -> bool {
    // The cadences' index holds the contacts not archived.
    filter.archived == Archived::Hidden
        && match filter.sort {
            SortKey::LastConversationAt => health != Health::None,
            SortKey::NextCheckInOn => matches!(
                (health, filter.descending),
                (Health::Due, false) | (Health::Cold, true)
            ),
            _ => false,
        }
}

/// The queries of one page of the contact list, to run in turn until the page is full (see
/// [`Part`]). Every filter, stored or derived, is a condition on the contact row.
pub fn page_queries(
    owner_id: Uuid,
    filter: &ContactFilter,
    today: NaiveDate,
) -> Result<PagePlan, ApiError> {
    let as_itself = |c: contact::Column| c.into_expr();
    let walks = |ranged| {
        sorted_parts(
            filtered(owner_id, filter, today, ranged),
            filter,
            &as_itself,
        )
    };
    let walked = |parts: Vec<(Span, Select<contact::Entity>)>| PagePlan {
        in_range: None,
        parts: parts.into_iter().map(|(_, q)| Part::Walk(q)).collect(),
    };
    let health = match filter.health {
        // Without a health filter.
        None => return Ok(walked(walks(false)?)),
        // The health's range on the sort's own index, in the one span that holds it: nobody
        // without a check-in has a health but `none`, which nobody with one has.
        Some(health) if filter.sort == SortKey::NextCheckInOn && !by_cadence(health, filter) => {
            let holds = if health == Health::None {
                Span::Valueless
            } else {
                Span::Valued
            };
            // `none` is that span's own condition: stated twice, PostgreSQL would square its
            // share of the network and sort the whole span rather than walk it.
            let mut parts = walks(health != Health::None)?;
            parts.retain(|(span, _)| *span == holds);
            return Ok(walked(parts));
        }
        Some(health) => health,
    };
    let by_cadence = by_cadence(health, filter);
    let collects = sorted_parts(filtered(owner_id, filter, today, true), filter, &|c| {
        unindexed(c)
    })?;
    let mut parts = Vec::new();
    for ((span, walk), (_, collect)) in walks(false)?.into_iter().zip(collects) {
        parts.push(match span {
            Span::Valued if by_cadence => Part::Cadences(Box::new(CadencePart {
                owner_id,
                arm: cadence_arm(owner_id, filter, today)?,
                health,
                sort: filter.sort,
                descending: filter.descending,
                today,
                cursor: match &filter.after {
                    Some(After::Derived(Some(value), _)) => {
                        Some(match DerivedValue::decode(filter.sort, *value)? {
                            DerivedValue::Day(day) => CursorOn::CheckIn(day),
                            DerivedValue::At(at) => CursorOn::Conversation(at.date_naive()),
                        })
                    }
                    _ => None,
                },
            })),
            // Nobody without a check-in has a health but `none`.
            Span::Valueless if filter.sort == SortKey::NextCheckInOn => continue,
            _ => Part::Health {
                walk,
                collect: Box::new(collect),
            },
        });
    }
    let in_range = parts
        .iter()
        .any(|part| matches!(part, Part::Health { .. }))
        .then(|| {
            let in_range = contact::Entity::find()
                .select_only()
                .column(contact::Column::Id)
                .filter(contact::Column::OwnerId.eq(owner_id))
                .filter(health_range(health, today))
                .limit(SORTED_AT_MOST)
                .into_query();
            Query::select()
                .expr(Expr::col(Asterisk).count())
                .from_subquery(in_range, Alias::new("in_range"))
                .to_owned()
        });
    Ok(PagePlan { in_range, parts })
}

/// The query a [`CadencePart`] narrows to each cadence: every filter of the page but the
/// health, which each cadence's range of check-ins is, the contacts with a value of the sort's
/// column, after the cursor.
fn cadence_arm(
    owner_id: Uuid,
    filter: &ContactFilter,
    today: NaiveDate,
) -> Result<Select<contact::Entity>, ApiError> {
    let column = unindexed(sort_column(filter.sort));
    let others = ContactFilter {
        health: None,
        ..filter.clone()
    };
    let mut arm = filtered(owner_id, &others, today, true).filter(column.clone().is_not_null());
    if let Some(After::Derived(Some(value), id)) = &filter.after {
        // A cursor with a value lies in these contacts.
        arm = arm.filter(beyond_exprs(
            (column, unindexed(contact::Column::Id)),
            derived_value(filter.sort, *value)?,
            *id,
            !filter.descending,
        ));
    }
    Ok(arm)
}

/// One page of the owner's contacts with their relationships, and whether more follow.
///
/// Every filter and sort, stored or derived, is an indexed query on the contact rows (see
/// [`page_queries`]): the relationship's inputs are stored on them (the ledger, brought up to
/// date first, see `services::ledger`). Then the page's tags: 2 statements, one more when the
/// page runs into the second part of a derived sort, one more for a part read cadence by
/// cadence ([`Part::Cadences`]: its cadences), one more per page for parts that depend on the
/// size of their health's range ([`Part::Health`]: the count); plus the ledger's check for
/// out-of-date rows.
pub async fn list(
    db: &Db,
    owner_id: Uuid,
    filter: &ContactFilter,
    today: &Today,
) -> Result<(Vec<Listed>, bool), ApiError> {
    ledger::catch_up(db, owner_id, today.now).await?;
    let conn = db.reader();
    let backend = conn.get_database_backend();
    let limit = filter.limit + 1;
    let PagePlan { in_range, parts } = page_queries(owner_id, filter, today.date())?;
    // Whether the health's range is small enough to collect: counted once a part needs it.
    let mut collects = None;
    let mut models = Vec::new();
    for part in parts {
        let rest = limit - models.len() as u64;
        models.extend(match part {
            Part::Walk(query) => query.limit(rest).all(conn).await?,
            Part::Health { walk, collect } => {
                let small = match (collects, &in_range) {
                    (Some(small), _) => small,
                    (None, Some(in_range)) => {
                        let row = conn.query_one_raw(backend.build(in_range)).await?;
                        let found = row.map(|row| row.try_get_by_index::<i64>(0)).transpose()?;
                        let found = u64::try_from(found.unwrap_or_default()).unwrap_or(u64::MAX);
                        *collects.insert(found < SORTED_AT_MOST)
                    }
                    // Walking is right whatever the range holds; the count, planned with
                    // every health part, only spares a long walk.
                    (None, None) => false,
                };
                if small {
                    collect.limit(rest).all(conn).await?
                } else {
                    walk.limit(rest).all(conn).await?
                }
            }
            Part::Cadences(part) => {
                let cadences = conn
                    .query_all_raw(part.cadences(backend))
                    .await?
                    .iter()
                    .map(|row| row.try_get_by_index::<i32>(0))
                    .collect::<Result<Vec<_>, _>>()?;
                match part.page(&cadences, rest) {
                    Some(page) => {
                        contact::Model::find_by_statement(backend.build(&page))
                            .all(conn)
                            .await?
                    }
                    None => Vec::new(),
                }
            }
        });
        if models.len() as u64 == limit {
            break;
        }
    }
    let has_more = models.len() as u64 > filter.limit;
    let mut listed: Vec<(contact::Model, Relationship)> = models
        .into_iter()
        .map(|m| {
            let history = ledger::stored_history(&m);
            let r = relationship::derive(&history, m.cadence_days, m.created_at, today);
            (m, r)
        })
        .collect();
    listed.truncate(filter.limit as usize);
    let ids: Vec<Uuid> = listed.iter().map(|(m, _)| m.id).collect();
    let mut tags = tags_of(db.reader(), owner_id, &ids).await?;
    let page = listed
        .into_iter()
        .map(|(model, r)| {
            let contact = Contact {
                tags: tags.remove(&model.id).unwrap_or_default(),
                model,
            };
            (contact, r)
        })
        .collect();
    Ok((page, has_more))
}
