//! Owner-scoped queries and mutations, one module per resource: the only code that uses
//! `entity::*`. Every function that touches user data takes the owner's id first.

/// Accounts: register, look up, update, change password, delete.
pub mod accounts;
/// Each owner's activity counts by local day, week and month, kept on every write.
pub mod activity;
/// Asks: what a user requests.
pub mod asks;
/// Secret calendar feed tokens.
pub mod calendar_feeds;
/// Contacts and their tags.
pub mod contacts;
/// Conversations and their participants.
pub mod conversations;
/// The due date of each open follow-up, stored on the row it comes from.
pub mod due_dates;
/// The topics of the ideas, one row each, kept on every offer write.
pub mod idea_topics;
/// Stored responses for `Idempotency-Key` replays.
pub mod idempotency;
/// Follow-ups, suggestions, statistics and goals.
pub mod intelligence;
/// The relationship ledger stored on each contact, kept exact on write.
pub mod ledger;
/// Value offers: what a user gives.
pub mod offers;
/// The owner a write counts for: their time zone, read once per transaction under a lock;
/// the owner-by-owner work a migration leaves.
pub mod owner;
/// Personal access tokens for scripts.
pub mod personal_tokens;
/// The read, update and delete flows that offers, asks and conversations share.
pub mod records;
/// What relationship rules need, gathered per contact in grouped queries.
pub mod relationships;
/// Refresh-token families: issue, rotate with reuse detection, revoke.
pub mod sessions;
/// How many contacts carry each tag, kept on every tag write.
pub mod tag_counts;
/// A contact's conversations, offers and asks as one list.
pub mod timeline;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, SqlErr, Value,
};
use uuid::Uuid;

use self::owner::Owner;

use crate::domain::version::{Precondition, etag};
use crate::error::ApiError;

/// A validated page request: at most `limit` items after the one with id `after`.
#[derive(Debug)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Uuid>,
}

/// A stored string column decoded by `parse`. A value the API would never have written (a
/// hand edit, a faulty migration) is an internal error naming the column and the value: the
/// row is not served as some default.
pub fn decode<T>(
    column: &str,
    stored: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, ApiError> {
    parse(stored).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "stored value {stored:?} of column {column} is not one the API writes"
        ))
    })
}

/// A stored JSON column decoded, failing like [`decode`].
pub fn decode_json<T: serde::de::DeserializeOwned>(
    column: &str,
    stored: &serde_json::Value,
) -> Result<T, ApiError> {
    T::deserialize(stored).map_err(|err| {
        ApiError::Internal(anyhow::anyhow!(
            "stored JSON of column {column} does not decode: {err}"
        ))
    })
}

/// `column` as an expression no index serves (`COALESCE(column, column)`, the same value), for
/// a condition that must be checked on the rows another condition finds rather than tempt the
/// planner to walk its own index. Without statistics SQLite's planner judges a short `IN` on a
/// status, or a bound on a date, as selective as a few primary keys, and then reads every row
/// of the owner by that index.
pub fn unindexed<C: sea_orm::sea_query::IntoColumnRef + Clone>(
    column: C,
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, Func};

    Expr::expr(Func::coalesce([
        Expr::col(column.clone()),
        Expr::col(column),
    ]))
}

/// The `arms` (each ordered and limited) as one `UNION ALL`, each wrapped in a subquery named
/// `{name}{i}`: SQLite orders and limits an arm of a union only inside one. None without arms.
pub fn union_all(
    name: &str,
    arms: impl IntoIterator<Item = sea_orm::sea_query::SelectStatement>,
) -> Option<sea_orm::sea_query::SelectStatement> {
    use sea_orm::sea_query::{Alias, Asterisk, Query, UnionType};

    let mut union: Option<sea_orm::sea_query::SelectStatement> = None;
    for (i, arm) in arms.into_iter().enumerate() {
        let arm = Query::select()
            .column(Asterisk)
            .from_subquery(arm, Alias::new(format!("{name}{i}")))
            .to_owned();
        match union.as_mut() {
            None => union = Some(arm),
            Some(union) => {
                union.union(UnionType::All, arm);
            }
        }
    }
    union
}

/// True when `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A `LIKE` pattern matching text that contains `text` literally: its `%`, `_` and the escape
/// character itself are escaped, the same way on SQLite and PostgreSQL.
pub fn containing(text: &str) -> sea_orm::sea_query::LikeExpr {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    sea_orm::sea_query::LikeExpr::new(escaped).escape('\\')
}

/// The rows after `(value, id)` in `(sort, id)` order: ascending, or descending when
/// `ascending` is false. The keyset condition behind every paginated list.
///
/// The leading `sort >= value` (or `<=`) repeats what the OR implies: with bound parameters,
/// SQLite derives no index range from the OR alone and walks the owner's index entries from
/// the start, so a deep page cost more than the first; the bound lets it seek to the cursor.
pub fn beyond<C: ColumnTrait>(
    sort: C,
    id: C,
    value: impl Into<Value> + Clone,
    last_id: Uuid,
    ascending: bool,
) -> Condition {
    beyond_exprs(
        (sort.into_expr(), id.into_expr()),
        value,
        last_id,
        ascending,
    )
}

/// [`beyond`] on the sort and id as expressions (a column as [`unindexed`], say).
pub fn beyond_exprs(
    (sort, id): (sea_orm::sea_query::Expr, sea_orm::sea_query::Expr),
    value: impl Into<Value> + Clone,
    last_id: Uuid,
    ascending: bool,
) -> Condition {
    use sea_orm::sea_query::ExprTrait;

    if ascending {
        Condition::all().add(sort.clone().gte(value.clone())).add(
            Condition::any()
                .add(sort.clone().gt(value.clone()))
                .add(Condition::all().add(sort.eq(value)).add(id.gt(last_id))),
        )
    } else {
        Condition::all().add(sort.clone().lte(value.clone())).add(
            Condition::any()
                .add(sort.clone().lt(value.clone()))
                .add(Condition::all().add(sort.eq(value)).add(id.lt(last_id))),
        )
    }
}

/// One page of `query` in `(sort, id)` order after the cursor `after` (ascending, or
/// descending when `ascending` is false): `limit + 1` rows read, the page, and whether more
/// follow. Every list sorted by a column and its id pages this way.
pub async fn keyset_page<E, V>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    (sort, id): (E::Column, E::Column),
    after: Option<(V, Uuid)>,
    ascending: bool,
    limit: u64,
) -> Result<(Vec<E::Model>, bool), ApiError>
where
    E: EntityTrait,
    V: Into<Value> + Clone,
{
    let query = match after {
        Some((value, last_id)) => query.filter(beyond(sort, id, value, last_id, ascending)),
        None => query,
    };
    let query = if ascending {
        query.order_by_asc(sort).order_by_asc(id)
    } else {
        query.order_by_desc(sort).order_by_desc(id)
    };
    let mut rows = query.limit(limit + 1).all(conn).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, has_more))
}

/// The columns that identify one version of a user's row.
#[derive(Clone, Copy)]
pub struct Versioned<C> {
    pub id: C,
    pub owner_id: C,
    pub updated_at: C,
}

impl<C: ColumnTrait> Versioned<C> {
    fn is(&self, id: Uuid, owner_id: Uuid, version: DateTime<Utc>) -> Condition {
        Condition::all()
            .add(self.id.eq(id))
            .add(self.owner_id.eq(owner_id))
            .add(self.updated_at.eq(version))
    }

    /// Writes `changes` to the row if it is still at `version`, the version the write's
    /// transaction read; [`ApiError::row_moved`] when another write got there first, for
    /// the write to run again. Check and write are one statement, so no lock is needed.
    pub async fn update<A>(
        &self,
        conn: &impl ConnectionTrait,
        changes: A,
        id: Uuid,
        owner_id: Uuid,
        version: DateTime<Utc>,
    ) -> Result<(), ApiError>
    where
        A: ActiveModelTrait + Send,
        A::Entity: EntityTrait<Column = C>,
    {
        let result = A::Entity::update_many()
            .set(changes)
            .filter(self.is(id, owner_id, version))
            .exec(conn)
            .await?;
        match result.rows_affected {
            1 => Ok(()),
            _ => Err(ApiError::row_moved()),
        }
    }

    /// The version of the owner's row `id`, if `precondition` allows it: 404 when the row is
    /// not the owner's, 412 when `If-Match` names another version.
    pub async fn current<E>(
        &self,
        conn: &impl ConnectionTrait,
        owner_id: Uuid,
        id: Uuid,
        precondition: &Precondition,
    ) -> Result<DateTime<Utc>, ApiError>
    where
        E: EntityTrait<Column = C>,
    {
        let version: DateTime<Utc> = E::find()
            .select_only()
            .column(self.updated_at)
            .filter(self.id.eq(id))
            .filter(self.owner_id.eq(owner_id))
            .into_tuple()
            .one(conn)
            .await?
            .ok_or_else(ApiError::not_found)?;
        precondition.require(&etag(id, version))?;
        Ok(version)
    }

    /// [`Versioned::update`], returning the row as written, with the owner's zone read in the
    /// same statement when `zone` (see [`Owner::write_returning`]).
    pub async fn update_returning<A>(
        &self,
        conn: &impl ConnectionTrait,
        owner: &mut Owner,
        changes: A,
        (id, version): (Uuid, DateTime<Utc>),
        zone: bool,
    ) -> Result<<A::Entity as EntityTrait>::Model, ApiError>
    where
        A: ActiveModelTrait + Send,
        A::Entity: EntityTrait<Column = C>,
    {
        let update = A::Entity::update_many()
            .set(changes)
            .filter(self.is(id, owner.id, version))
            .into_query();
        let mut written = owner
            .write_returning::<A::Entity, _>(conn, update, zone)
            .await?;
        match (written.pop(), written.is_empty()) {
            (Some(row), true) => Ok(row),
            _ => Err(ApiError::row_moved()),
        }
    }

    /// Deletes the row if it is still at `version`; [`ApiError::row_moved`] otherwise, as
    /// [`Versioned::update`].
    pub async fn delete<E>(
        &self,
        conn: &impl ConnectionTrait,
        id: Uuid,
        owner_id: Uuid,
        version: DateTime<Utc>,
    ) -> Result<(), ApiError>
    where
        E: EntityTrait<Column = C>,
    {
        let result = E::delete_many()
            .filter(self.is(id, owner_id, version))
            .exec(conn)
            .await?;
        match result.rows_affected {
            1 => Ok(()),
            _ => Err(ApiError::row_moved()),
        }
    }
}
