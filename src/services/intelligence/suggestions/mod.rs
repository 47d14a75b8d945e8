//! The next best gestures: contacts ranked, each with an idea to bring.
//!
//! **Top k from the ledger.** A contact's score is `suggestion_base` (thank-yous owed and
//! taking, stored by the ledger) plus the overdue points of its check-in, which depend on
//! today, `next_check_in_on` and the cadence. Among the due contacts of one base and one
//! cadence, an earlier `next_check_in_on` never scores less and always ranks first on equal
//! scores, so the partial index `(owner_id, suggestion_base, cadence_days, next_check_in_on,
//! name_key, id)` lists each such group in rank order. One statement walks that index from
//! group to group (a loose index scan: three index searches per group, plus one per base
//! level) and returns each group's earliest `next_check_in_on`, hence the group's best
//! score, and the date of its `limit + 1`-th due contact when it has that many. Every due
//! contact scores at least its base plus 10, and the first `limit + 1` of a full group at
//! least what the `limit + 1`-th scores, so the walk alone proves a floor the `limit + 1`-th
//! best contact reaches: the `limit + 1`-th best of those sure scores (one per group, its
//! best; `limit + 1` per full group, the last one's). One more statement then reads, as one
//! `UNION ALL`, the first `limit + 1` due contacts in rank order of each group whose best
//! reaches the floor, among those checked in early enough to reach it themselves (a date
//! found from the floor, so a group contributes no more rows than can rank), and, among
//! contacts with nothing due (who score their base alone and rank by name), the first
//! `limit + 1` by `(suggestion_base, name_key, id)` of each base that reaches it (its due
//! contacts score above the base, so their groups are read). Each contact comes with the id
//! of its own oldest idea, the first choice of what to bring. The cost follows the number of
//! distinct (base, cadence) groups and the page, not the network.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{contact, value_offer};
use sea_orm::sea_query::{ExprTrait, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement,
};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::records::OfferStatus;
use crate::domain::relationship::{self, Relationship, Today};
use crate::domain::suggestions::{self, Score};
use crate::error::ApiError;
use crate::services::ledger::{self, LEDGER_ROW, LedgerRow};
use crate::services::{unindexed, union_all};

mod ideas;

use self::ideas::ideas_for;
pub use self::ideas::{Place, topic_pages};

/// A suggested gesture.
pub struct Suggestion {
    pub contact_id: Uuid,
    pub contact_name: String,
    pub relationship: Relationship,
    pub score: Score,
    pub offer: Option<value_offer::Model>,
}

/// The best `limit` gestures and whether more were found: the ranked contacts from the
/// ledger (see the module comment), whole, with the ledger's out-of-date probe in the first
/// statement (when it finds rows, they are brought up to date and the ranking read again),
/// then the ideas chosen for them ([`ideas_for`]), and those offers, whole.
pub async fn suggestions(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    limit: usize,
) -> Result<(Vec<Suggestion>, bool), ApiError> {
    // Each statement reads by index searches bounded by the page, whatever the values: one
    // plan serves every request (`Db::generic_reader`).
    let conn = db.generic_reader();
    let date = today.date();
    let mut ranked = match best(conn, owner_id, date, Some(today.now), limit + 1).await? {
        Some(ranked) => ranked,
        None => {
            ledger::bring_up_to_date(db, owner_id, today.now).await?;
            best(conn, owner_id, date, None, limit + 1)
                .await?
                .unwrap_or_default()
        }
    };
    let has_more = ranked.len() > limit;
    ranked.truncate(limit);

    let mut scored = Vec::with_capacity(ranked.len());
    for row in ranked {
        let (history, cadence_days) = (row.row.ledger().history, row.row.cadence_days);
        let relationship = relationship::derive(&history, cadence_days, row.row.created_at, today);
        if let Some(score) = suggestions::score(&relationship, cadence_days, date) {
            scored.push((row, relationship, score));
        }
    }
    scored.sort_by_cached_key(|(row, r, score)| {
        suggestions::rank_key(score, r.overdue_days(date), &row.full_name, row.id())
    });

    let wishes = scored
        .iter()
        .map(|(row, ..)| {
            let interests: Vec<String> =
                crate::services::decode_json("contact.interests", &row.interests)?;
            Ok((row.own_idea, interests))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let chosen = ideas_for(conn, owner_id, &wishes).await?;
    let chosen_ids: Vec<Uuid> = chosen.iter().flatten().copied().collect();
    let offers: HashMap<Uuid, value_offer::Model> = if chosen_ids.is_empty() {
        HashMap::new()
    } else {
        // By primary key, `(owner_id, id)`; one that stopped being an idea since the read
        // above is not suggested (checked on the rows found: see `unindexed`).
        value_offer::Entity::find()
            .filter(value_offer::Column::Id.is_in(chosen_ids))
            .filter(value_offer::Column::OwnerId.eq(owner_id))
            .filter(unindexed(value_offer::Column::Status).eq(OfferStatus::Idea.as_str()))
            .all(conn)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect()
    };
    let picked = scored
        .into_iter()
        .zip(chosen)
        .map(|((row, relationship, score), offer)| Suggestion {
            contact_id: row.id(),
            contact_name: row.full_name,
            relationship,
            score,
            // Two contacts may be offered the same idea.
            offer: offer.and_then(|id| offers.get(&id).cloned()),
        })
        .collect();
    Ok((picked, has_more))
}

/// A contact as the ranking sees it and a suggestion shows it: its ledger row, whose columns
/// its score and order need, and what the suggestion says of it.
#[derive(Clone, Debug, FromQueryResult)]
struct Candidate {
    #[sea_orm(nested)]
    row: LedgerRow,
    name_key: String,
    full_name: String,
    interests: serde_json::Value,
    /// The contact's own oldest idea, if any (see [`own_idea`]).
    own_idea: Option<Uuid>,
}

impl Candidate {
    fn id(&self) -> Uuid {
        self.row.id
    }

    fn points(&self, today: NaiveDate) -> i64 {
        let row = &self.row;
        row.suggestion_base
            + suggestions::overdue_points(row.next_check_in_on, row.cadence_days, today)
    }

    /// The score and overdue parts of `suggestions::rank_key`, from the stored columns.
    fn rank(&self, today: NaiveDate) -> (std::cmp::Reverse<i64>, std::cmp::Reverse<i64>) {
        let overdue_days = self
            .row
            .next_check_in_on
            .map_or(0, |next| Ord::max((today - next).num_days(), 0));
        (
            std::cmp::Reverse(self.points(today)),
            std::cmp::Reverse(overdue_days),
        )
    }
}

/// The kind of a row of the [`groups`] statement: a group, or a row of the ledger's
/// out-of-date probe.
const GROUP: i32 = 0;
const STALE: i32 = 1;

/// A (base, cadence) group of contacts, with its earliest check-in (its best score) and the
/// check-in of its `wanted`-th due contact when it has that many. Or, of kind [`STALE`], a
/// sign that some of the owner's ledger rows are out of date.
#[derive(Debug, FromQueryResult)]
struct Group {
    kind: i32,
    suggestion_base: i64,
    cadence_days: i32,
    next_check_in_on: Option<NaiveDate>,
    nth_due_on: Option<NaiveDate>,
}

impl Group {
    /// The score of a contact of this group whose check-in is `next`.
    fn points_at(&self, next: Option<NaiveDate>, today: NaiveDate) -> i64 {
        self.suggestion_base + suggestions::overdue_points(next, Some(self.cadence_days), today)
    }

    fn points(&self, today: NaiveDate) -> i64 {
        self.points_at(self.next_check_in_on, today)
    }

    /// The latest check-in date at which a contact of this group scores at least `floor`,
    /// when its best does: a contact checked in later cannot be among the best. Today when
    /// there is no floor. The points never fall as the check-in moves earlier, so the date is
    /// found by bisecting the days overdue between none and the group's most overdue.
    fn latest_reaching(&self, floor: Option<i64>, today: NaiveDate) -> NaiveDate {
        let (Some(floor), Some(best)) = (floor, self.next_check_in_on) else {
            return today;
        };
        let reaches =
            |days: i64| self.points_at(Some(relationship::add_days(today, -days)), today) >= floor;
        let (mut low, mut high) = (0, Ord::max((today - best).num_days(), 0));
        if !reaches(high) {
            return today;
        }
        while low < high {
            let mid = low + (high - low) / 2;
            if reaches(mid) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        relationship::add_days(today, -low)
    }

    /// Scores that distinct due contacts of this group are sure to reach: its best once, or,
    /// when it has `wanted` due, `wanted` times the `wanted`-th one's.
    fn sure_points(&self, today: NaiveDate, wanted: usize) -> impl Iterator<Item = i64> {
        match self.nth_due_on {
            Some(nth) => std::iter::repeat_n(self.points_at(Some(nth), today), wanted),
            None => std::iter::repeat_n(self.points(today), 1),
        }
    }
}

/// The best `wanted` contacts scoring above 0, best first (see the module comment). With
/// `probe`, the first statement also asks whether any of the owner's ledger rows are out of
/// date at that instant; `None` when they are, for the caller to bring them up to date first.
async fn best(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    today: NaiveDate,
    probe: Option<DateTime<Utc>>,
    wanted: usize,
) -> Result<Option<Vec<Candidate>>, ApiError> {
    let backend = conn.get_database_backend();
    let rows = Group::find_by_statement(groups(backend, owner_id, probe, today, wanted))
        .all(conn)
        .await?;
    if rows.iter().any(|row| row.kind == STALE) {
        return Ok(None);
    }
    // A group whose most overdue contact is not due yet has nobody due.
    let due: Vec<&Group> = rows
        .iter()
        .filter(|g| g.kind == GROUP && g.points(today) > g.suggestion_base)
        .collect();
    let mut sure: Vec<i64> = due
        .iter()
        .flat_map(|g| g.sure_points(today, wanted))
        .collect();
    sure.sort_unstable_by(|a, b| b.cmp(a));
    // The `wanted`-th best score is at least this; without it, every group and base is read.
    let floor = wanted.checked_sub(1).and_then(|i| sure.get(i).copied());
    let reaches = |points: i64| floor.is_none_or(|floor| points >= floor);
    let read: Vec<(i64, i32, NaiveDate)> = due
        .iter()
        .filter(|g| reaches(g.points(today)))
        .map(|g| {
            let latest = g.latest_reaching(floor, today);
            (g.suggestion_base, g.cadence_days, latest)
        })
        .collect();
    let levels: Vec<i64> = suggestions::base_levels()
        .into_iter()
        .filter(|base| *base > 0 && reaches(*base))
        .collect();
    let mut found = match candidates(owner_id, &read, &levels, today, wanted) {
        Some(statement) => {
            Candidate::find_by_statement(backend.build(&statement))
                .all(conn)
                .await?
        }
        None => Vec::new(),
    };
    found.sort_by(|a, b| {
        (a.rank(today), &a.name_key, a.id()).cmp(&(b.rank(today), &b.name_key, b.id()))
    });
    found.truncate(wanted);
    Ok(Some(found))
}

/// The owner's contacts as [`Candidate`]s: the columns of its ledger row and of the
/// suggestion, and [`own_idea`].
fn candidate_select(owner_id: Uuid) -> sea_orm::Select<contact::Entity> {
    use contact::Column as C;
    contact::Entity::find()
        .select_only()
        .columns(LEDGER_ROW)
        .columns([C::NameKey, C::FullName, C::Interests])
        .expr_as(own_idea(owner_id), "own_idea")
        .filter(C::OwnerId.eq(owner_id))
}

/// The id of the contact's own oldest idea (by creation, then id), the first rule of
/// `suggestions::suggested_offer`: a correlated subquery, the first row of the contact's range
/// of the index `(owner_id, contact_id, created_at, id)`, read for each candidate in the
/// statement that reads the candidates.
fn own_idea(owner_id: Uuid) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Expr, Query, SimpleExpr};
    use value_offer::Column as V;

    let first = Query::select()
        .column((value_offer::Entity, V::Id))
        .from(value_offer::Entity)
        .and_where(Expr::col((value_offer::Entity, V::OwnerId)).eq(owner_id))
        .and_where(
            Expr::col((value_offer::Entity, V::ContactId))
                .equals((contact::Entity, contact::Column::Id)),
        )
        // Not the index on status: a contact has few offers, the owner many ideas.
        .and_where(unindexed((value_offer::Entity, V::Status)).eq(OfferStatus::Idea.as_str()))
        .order_by((value_offer::Entity, V::CreatedAt), sea_orm::Order::Asc)
        .order_by((value_offer::Entity, V::Id), sea_orm::Order::Asc)
        .limit(1)
        .to_owned();
    SimpleExpr::SubQuery(None, Box::new(first.into()))
}

/// One row per (base, cadence) group of the owner's contacts that are not archived and have
/// a cadence, with the group's earliest `next_check_in_on` and the `next_check_in_on` of its
/// `wanted`-th contact due on `today`, if any ([`Group`]). A recursive walk of the index
/// `idx_contact_suggest_due`: from each base level (cadence 0), one index search finds the
/// next cadence of that base, then one the group's earliest date and one more a range of at
/// most `wanted` entries. With `probe`, the ledger's out-of-date probe at that instant
/// ([`ledger::stale_arms`]) rides along: a row of kind [`STALE`] for each of its arms that
/// finds a row.
pub fn groups(
    backend: DbBackend,
    owner_id: Uuid,
    probe: Option<DateTime<Utc>>,
    today: NaiveDate,
    wanted: usize,
) -> Statement {
    // The levels are the domain's own integers, not input.
    let seeds = suggestions::base_levels()
        .iter()
        .map(|base| format!("({base}, 0)"))
        .collect::<Vec<_>>()
        .join(", ");
    // The statement runs with a plan made without its values (`Db::generic_reader`), so the
    // probe's arms walk their indexes in order (`ledger::stale_arms`): unordered, the probe's
    // generic plan scanned the owner's contacts for its one row, 45 ms a walk instead of 1 ms
    // on an owner of 100,000 contacts when nothing was out of date.
    let (probe, probe_values) = match probe
        .and_then(|now| union_all("stale", ledger::stale_arms(owner_id, now, Some(1))))
        .map(|statement| backend.build(&statement))
    {
        Some(Statement { sql, values, .. }) => (Some(sql), values.map(|v| v.0).unwrap_or_default()),
        None => (None, Vec::new()),
    };
    // The owner's and today's parameters. PostgreSQL numbers the probe's parameters from
    // `$1`, so these come after them. The driver binds SQLite's unnumbered `?` in the order
    // they appear: the owner's three and today, then the probe's.
    let (owner, day, values) = match backend {
        DbBackend::Postgres => {
            let mut values = probe_values;
            values.push(owner_id.into());
            values.push(today.into());
            let n = values.len();
            (format!("${}", n - 1), format!("${n}"), values)
        }
        _ => {
            let mut values = vec![owner_id.into(); 3];
            values.push(today.into());
            values.extend(probe_values);
            ("?".to_owned(), "?".to_owned(), values)
        }
    };
    // The `wanted`-th due contact; `wanted` is the page size, an integer, not input.
    let nth = wanted.saturating_sub(1);
    let mut sql = format!(
        "WITH RECURSIVE g(b, c) AS ( \
           VALUES {seeds} \
           UNION ALL \
           SELECT g.b, (SELECT n.cadence_days FROM contact AS n \
             WHERE n.owner_id = {owner} AND n.archived_at IS NULL AND n.suggestion_base = g.b \
               AND n.cadence_days > g.c \
             ORDER BY n.cadence_days LIMIT 1) \
           FROM g WHERE g.c IS NOT NULL \
         ) \
         SELECT {GROUP} AS kind, CAST(g.b AS BIGINT) AS suggestion_base, \
           g.c AS cadence_days, \
           (SELECT MIN(m.next_check_in_on) FROM contact AS m \
             WHERE m.owner_id = {owner} AND m.archived_at IS NULL AND m.suggestion_base = g.b \
               AND m.cadence_days = g.c) AS next_check_in_on, \
           (SELECT d.next_check_in_on FROM contact AS d \
             WHERE d.owner_id = {owner} AND d.archived_at IS NULL AND d.suggestion_base = g.b \
               AND d.cadence_days = g.c AND d.next_check_in_on <= {day} \
             ORDER BY d.next_check_in_on LIMIT 1 OFFSET {nth}) AS nth_due_on \
         FROM g \
         WHERE g.c > 0"
    );
    if let Some(probe) = probe {
        sql.push_str(&format!(
            " UNION ALL SELECT {STALE}, CAST(0 AS BIGINT), 0, CAST(NULL AS DATE), \
               CAST(NULL AS DATE) \
             FROM ({probe}) AS stale"
        ));
    }
    Statement::from_sql_and_values(backend, sql, values)
}

/// The first `wanted` due contacts of one (base, cadence) group, in rank order, checked in
/// on `latest` or before.
pub fn due_in_group(
    owner_id: Uuid,
    base: i64,
    cadence_days: i32,
    latest: NaiveDate,
    wanted: usize,
) -> SelectStatement {
    use contact::Column as C;

    candidate_select(owner_id)
        .filter(C::ArchivedAt.is_null())
        .filter(C::SuggestionBase.eq(base))
        .filter(C::CadenceDays.eq(cadence_days))
        .filter(C::NextCheckInOn.lte(latest))
        .order_by_asc(C::NextCheckInOn)
        .order_by_asc(C::NameKey)
        .order_by_asc(C::Id)
        .limit(wanted as u64)
        .into_query()
}

/// In one statement, none when there is nothing to read: for each of `groups` (base,
/// cadence, latest check-in that can rank), the first `wanted` due contacts in rank order
/// ([`due_in_group`]), and for each of `levels`, the first `wanted` contacts of that base
/// with nothing due on `today`, by name.
pub fn candidates(
    owner_id: Uuid,
    groups: &[(i64, i32, NaiveDate)],
    levels: &[i64],
    today: NaiveDate,
    wanted: usize,
) -> Option<SelectStatement> {
    use contact::Column as C;
    use sea_orm::Condition;

    let due = groups
        .iter()
        .map(|(base, cadence, latest)| due_in_group(owner_id, *base, *cadence, *latest, wanted));
    let nothing_due = levels.iter().map(|base| {
        candidate_select(owner_id)
            .filter(C::ArchivedAt.is_null())
            .filter(C::SuggestionBase.eq(*base))
            .filter(
                Condition::any()
                    .add(unindexed(C::CadenceDays).is_null())
                    .add(unindexed(C::NextCheckInOn).gt(today)),
            )
            .order_by_asc(C::NameKey)
            .order_by_asc(C::Id)
            .limit(wanted as u64)
            .into_query()
    });
    union_all("candidate", due.chain(nothing_due))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `latest_reaching` is the latest check-in scoring at least the floor, found by trying
    /// every date from the group's most overdue one to today.
    #[test]
    fn the_latest_check_in_that_reaches_a_floor_is_the_last_one_that_scores_it() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 4).expect("a date");
        for cadence_days in [1, 7, 30, 90] {
            for overdue in [0, 1, 5, 29, 60, 400] {
                let group = Group {
                    kind: GROUP,
                    suggestion_base: 40,
                    cadence_days,
                    next_check_in_on: Some(relationship::add_days(today, -overdue)),
                    nth_due_on: None,
                };
                for floor in [
                    None,
                    Some(0),
                    Some(50),
                    Some(51),
                    Some(95),
                    Some(150),
                    Some(250),
                ] {
                    let brute = (0..=overdue)
                        .map(|days| relationship::add_days(today, -days))
                        .find(|next| {
                            floor.is_none_or(|f| group.points_at(Some(*next), today) >= f)
                        });
                    let latest = group.latest_reaching(floor, today);
                    match brute {
                        Some(expected) => assert_eq!(latest, expected, "{group:?} {floor:?}"),
                        // Not read at all: its best does not reach the floor.
                        None => assert!(group.points(today) < floor.unwrap_or(0), "{group:?}"),
                    }
                }
            }
        }
    }
}
