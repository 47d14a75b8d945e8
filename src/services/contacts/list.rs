//! One page of the owner's contacts: every filter and sort, stored or derived, as indexed
//! queries on the contact rows.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use entity::{contact, contact_tag};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Order, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select,
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

/// A derived sort's cursor value as the stored column's value: a day number as a date, or
/// microseconds as an instant.
fn derived_value(sort: SortKey, value: i64) -> Result<sea_orm::Value, ApiError> {
    let invalid = || ApiError::new(ProblemCode::InvalidCursor, "cursor is not valid");
    Ok(match sort {
        SortKey::NextCheckInOn => i32::try_from(value)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(invalid)?
            .into(),
        _ => DateTime::from_timestamp_micros(value)
            .ok_or_else(invalid)?
            .into(),
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
) -> Result<Vec<Select<contact::Entity>>, ApiError> {
    use contact::Column as C;

    let column = match filter.sort {
        SortKey::NextCheckInOn => C::NextCheckInOn,
        _ => C::LastConversationAt,
    };
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
    Ok(match (filter.descending, in_second_part) {
        (false, false) => vec![valued, valueless],
        (true, false) => vec![valueless, valued],
        (false, true) => vec![valueless],
        (true, true) => vec![valued],
    })
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
) -> Result<Vec<Select<contact::Entity>>, ApiError> {
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
    Ok(vec![ordered(query, column, filter.descending, col)])
}

/// One query of a page of contacts; a page runs its parts in turn until it is full.
pub enum Part {
    /// The rows in page order along an index, every filter checked on the rows it finds.
    Walk(Select<contact::Entity>),
    /// A health filter under a sort by another column than `next_check_in_on`. A health may
    /// hold most of a network or almost none of it (few contacts with a cadence, few due
    /// today): walking the sort's index costs the page divided by the health's share of the
    /// network, collecting the health's range of `idx_contact_owner_next_check_in` and sorting
    /// it costs the range. `in_range` counts the range up to [`SORTED_AT_MOST`] rows (an index
    /// search that stops there); a smaller range is collected (`collect`), a larger one means
    /// the health holds a share of the network large enough to `walk`.
    Health(HealthPart),
}

/// The queries of a [`Part::Health`] (two of them boxed: a part is as large as its walk).
pub struct HealthPart {
    pub in_range: Box<SelectStatement>,
    pub walk: Select<contact::Entity>,
    pub collect: Box<Select<contact::Entity>>,
}

/// The queries of one page of the contact list, to run in turn until the page is full (see
/// [`Part`]). Every filter, stored or derived, is a condition on the contact row.
pub fn page_queries(
    owner_id: Uuid,
    filter: &ContactFilter,
    today: NaiveDate,
) -> Result<Vec<Part>, ApiError> {
    let as_itself = |c: contact::Column| c.into_expr();
    let walks = |ranged| {
        sorted_parts(
            filtered(owner_id, filter, today, ranged),
            filter,
            &as_itself,
        )
    };
    Ok(match filter.health {
        // Without a health filter, or with the health's range on the sort's own index.
        None => walks(false)?.into_iter().map(Part::Walk).collect(),
        Some(_) if filter.sort == SortKey::NextCheckInOn => {
            walks(true)?.into_iter().map(Part::Walk).collect()
        }
        Some(health) => {
            let collects = sorted_parts(filtered(owner_id, filter, today, true), filter, &|c| {
                unindexed(c)
            })?;
            let in_range = contact::Entity::find()
                .select_only()
                .column(contact::Column::Id)
                .filter(contact::Column::OwnerId.eq(owner_id))
                .filter(health_range(health, today))
                .limit(SORTED_AT_MOST)
                .into_query();
            let in_range = Query::select()
                .expr(Expr::col(Asterisk).count())
                .from_subquery(in_range, Alias::new("in_range"))
                .to_owned();
            walks(false)?
                .into_iter()
                .zip(collects)
                .map(|(walk, collect)| {
                    Part::Health(HealthPart {
                        in_range: Box::new(in_range.clone()),
                        walk,
                        collect: Box::new(collect),
                    })
                })
                .collect()
        }
    })
}

/// One page of the owner's contacts with their relationships, and whether more follow.
///
/// Every filter and sort, stored or derived, is an indexed query on the contact rows (see
/// [`page_queries`]): the relationship's inputs are stored on them (the ledger, brought up to
/// date first, see `services::ledger`). Then the page's tags: 2 statements (3 when the second
/// part of a derived sort is needed, one more per part for a health filter under another
/// sort than `next_check_in_on`), plus the ledger's check for out-of-date rows.
pub async fn list(
    db: &Db,
    owner_id: Uuid,
    filter: &ContactFilter,
    today: &Today,
) -> Result<(Vec<Listed>, bool), ApiError> {
    ledger::catch_up(db, owner_id, today.now).await?;
    let conn = db.reader();
    let limit = filter.limit + 1;
    let mut models = Vec::new();
    let mut counted = None;
    for part in page_queries(owner_id, filter, today.date())? {
        let rest = limit - models.len() as u64;
        models.extend(match part {
            Part::Walk(query) => query.limit(rest).all(conn).await?,
            Part::Health(part) => {
                let HealthPart {
                    in_range,
                    walk,
                    collect,
                } = part;
                // The parts of one page share their range: counted once.
                let counted = match counted {
                    Some(counted) => counted,
                    None => {
                        let backend = conn.get_database_backend();
                        let row = conn.query_one_raw(backend.build(&*in_range)).await?;
                        let found = row.map(|row| row.try_get_by_index::<i64>(0)).transpose()?;
                        *counted.insert(found.unwrap_or_default())
                    }
                };
                if u64::try_from(counted).unwrap_or(u64::MAX) < SORTED_AT_MOST {
                    collect.limit(rest).all(conn).await?
                } else {
                    walk.limit(rest).all(conn).await?
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
