//! Activity statistics over a range, and the weekly goals.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{ask, conversation, conversation_participant, user, value_offer};
use sea_orm::sea_query::{Alias, Expr, Func, IntoIden, Query, SelectStatement};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::clock;
use crate::db::Db;
use crate::domain::records::ThankYouStatus;
use crate::domain::relationship::{self, Today};
use crate::domain::stats::{self, Counts, Granularity, Tally};
use crate::error::ApiError;
use crate::services::{activity, ledger, union_all};

/// Statistics of a range: one tally per bucket, then the whole range.
pub struct Stats {
    pub buckets: Vec<(NaiveDate, NaiveDate, Tally)>,
    pub total: Tally,
}

/// What happened between `from` and `to` (local dates, inclusive): up to seven statements,
/// run together (see [`tallies`]).
pub async fn stats(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> Result<Stats, ApiError> {
    let buckets = stats::buckets(from, to, granularity);
    let mut ranges = buckets.clone();
    ranges.push((from, to));
    let mut tallies = tallies(db, owner_id, today, &ranges).await?;
    let total = tallies.pop().unwrap_or_default();
    Ok(Stats {
        buckets: buckets
            .into_iter()
            .zip(tallies)
            .map(|((start, end), tally)| (start, end, tally))
            .collect(),
        total,
    })
}

/// The tally of each range of local dates, in the order given, from the owner's `activity`
/// rows (see `services::activity`) where they answer, from the records where they do not
/// (see [`Plan`]):
/// - the records of the days before today: the day rows;
/// - today's records: counted up to now, one statement per count, each one `UNION ALL` arm
///   per range over an index on the owner and the instant counted (see [`counters`]);
/// - new people: the day rows' contacts whose first past conversation is in the range;
/// - people of a range that reaches today: the day rows' contacts whose last past
///   conversation is in it; of a range ended before today that is exactly one week or month:
///   that period's row; of any other range ended before today (a partial first bucket, the
///   total of a past range): a count of distinct contacts over its participant rows, whose
///   cost follows the activity in the range (distinct people are not additive).
///
/// First and last past conversations are the ledger's, brought up to date first. A local
/// date's instants are found with the owner's time zone here, so the statements hold no
/// time-zone arithmetic; instants after now (planned conversations) are not counted.
async fn tallies(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    ranges: &[(NaiveDate, NaiveDate)],
) -> Result<Vec<Tally>, ApiError> {
    let _permit = db.whole_network().await?;
    ledger::catch_up(db, owner_id, today.now).await?;
    let conn = db.reader();
    let plan = Plan::of(ranges, today);
    let period_rows = |granularity| {
        let span = plan.period_span(granularity);
        async move {
            match span {
                Some((from, to)) => {
                    let period = activity::period_of(granularity);
                    activity::periods(conn, owner_id, period, from, to).await
                }
                None => Ok(BTreeMap::new()),
            }
        }
    };
    let first = ranges.iter().map(|(from, _)| *from).min();
    let last = ranges.iter().map(|(_, to)| *to).max();
    let days = async {
        match (first, last) {
            (Some(first), Some(last)) => activity::days(conn, owner_id, first, last).await,
            _ => Ok(BTreeMap::new()),
        }
    };
    let c = counters(owner_id, today.now);
    let (held, people, offered, asked, days, weeks, months) = tokio::try_join!(
        c.held.read(conn, &plan.today_parts),
        c.people.read(conn, &plan.earlier),
        c.offered.read(conn, &plan.today_parts),
        c.asked.read(conn, &plan.today_parts),
        days,
        period_rows(Granularity::Week),
        period_rows(Granularity::Month),
    )?;
    Ok(ranges
        .iter()
        .enumerate()
        .map(|(i, range)| {
            let nth = |counts: &BTreeMap<usize, Vec<i64>>, n: usize| {
                counts.get(&i).and_then(|c| c.get(n)).copied().unwrap_or(0)
            };
            let mut stored = plan.days_of(i, *range, &days);
            if let Some((granularity, starts_on)) = plan.whole_periods.get(&i) {
                let rows = match granularity {
                    Granularity::Week => &weeks,
                    Granularity::Month => &months,
                };
                stored.people = rows.get(starts_on).map_or(0, |counts| counts.people);
            }
            Tally::from(Counts {
                conversations: stored.conversations + nth(&held, 0),
                thank_yous_sent: stored.thank_yous_sent + nth(&held, 1),
                thank_yous_owed: stored.thank_yous_owed + nth(&held, 2),
                distinct_people: stored.people + nth(&people, 0),
                new_people: stored.firsts,
                offers_given: stored.offers + nth(&offered, 0),
                asks_made: stored.asks + nth(&asked, 0),
            })
        })
        .collect())
}

/// An instant range `[start, until)` of the range with that index.
type Bound = (usize, DateTime<Utc>, DateTime<Utc>);

/// Which source answers each part of each range of [`tallies`].
struct Plan {
    yesterday: NaiveDate,
    /// Today's part of each range that reaches it, counted from the records.
    today_parts: Vec<Bound>,
    /// Ranges that reach today: their people are the contacts whose last past conversation
    /// is in them (the day rows' `lasts`).
    recent: BTreeSet<usize>,
    /// Ranges ended before today that are exactly one week or month: their people are that
    /// period's row.
    whole_periods: BTreeMap<usize, (Granularity, NaiveDate)>,
    /// Other ranges ended before today: their people are counted from participant rows.
    earlier: Vec<Bound>,
}

impl Plan {
    fn of(ranges: &[(NaiveDate, NaiveDate)], today: &Today) -> Self {
        let date = today.date();
        let start = |day: NaiveDate| relationship::start_of_day(day, today.zone);
        let end = |day: NaiveDate| start(relationship::add_days(day, 1));
        let mut plan = Self {
            yesterday: relationship::add_days(date, -1),
            today_parts: Vec::new(),
            recent: BTreeSet::new(),
            whole_periods: BTreeMap::new(),
            earlier: Vec::new(),
        };
        for (i, (from, to)) in ranges.iter().copied().enumerate() {
            if to >= date {
                plan.today_parts
                    .push((i, start(std::cmp::max(from, date)), end(to)));
                plan.recent.insert(i);
            } else if let Some(period) = whole_period((from, to)) {
                plan.whole_periods.insert(i, period);
            } else {
                plan.earlier.push((i, start(from), end(to)));
            }
        }
        plan
    }

    /// The first and last start of the whole periods of `granularity`, if there are any.
    fn period_span(&self, granularity: Granularity) -> Option<(NaiveDate, NaiveDate)> {
        let starts = self
            .whole_periods
            .values()
            .filter(|(g, _)| *g == granularity)
            .map(|(_, starts_on)| *starts_on);
        Some((starts.clone().min()?, starts.max()?))
    }

    /// What the day rows answer for range `i`, `(from, to)`: records of its days before
    /// today (today's are counted from the records), the contacts whose first past
    /// conversation is in it, and for a range that reaches today its people, those whose last
    /// past conversation is in it. First and last past conversations are never after now.
    fn days_of(
        &self,
        i: usize,
        (from, to): (NaiveDate, NaiveDate),
        days: &BTreeMap<NaiveDate, activity::Counts>,
    ) -> activity::Counts {
        let mut sum = activity::Counts::default();
        if from > to {
            return sum;
        }
        for (day, counts) in days.range(from..=to) {
            if *day <= self.yesterday {
                sum.conversations += counts.conversations;
                sum.thank_yous_sent += counts.thank_yous_sent;
                sum.thank_yous_owed += counts.thank_yous_owed;
                sum.offers += counts.offers;
                sum.asks += counts.asks;
            }
            sum.firsts += counts.firsts;
            if self.recent.contains(&i) {
                sum.people += counts.lasts;
            }
        }
        sum
    }
}

/// The week or month that `range` is exactly, if it is one.
fn whole_period((from, to): (NaiveDate, NaiveDate)) -> Option<(Granularity, NaiveDate)> {
    [Granularity::Week, Granularity::Month]
        .into_iter()
        .find(|granularity| {
            stats::bucket_start(from, *granularity) == from
                && relationship::add_days(stats::next_bucket_start(from, *granularity), -1) == to
        })
        .map(|granularity| (granularity, from))
}

/// The counts of [`tallies`], each over one table. Instants after `now` are not counted.
pub struct Counters {
    /// Past conversations, those whose thank-you was sent, those whose thank-you is owed
    /// (every conversation has a participant: the API requires one, and deleting a contact
    /// deletes the conversations it leaves empty).
    pub held: Ranges,
    /// Contacts who took part in them, from the participant rows: a range that ends before
    /// now.
    pub people: Ranges,
    pub offered: Ranges,
    pub asked: Ranges,
}

pub fn counters(owner_id: Uuid, now: DateTime<Utc>) -> Counters {
    use conversation::Column as C;
    use sea_orm::sea_query::{Asterisk, ExprTrait};

    let per_range = |table, owner, instant, counts: Vec<Expr>| Ranges {
        table,
        owner,
        instant,
        owner_id,
        now,
        counts,
    };
    let held_with = |status: ThankYouStatus| -> Expr {
        Expr::case(Expr::col(C::ThankYouStatus).eq(status.as_str()), 1).count()
    };
    let rows = || vec![Expr::col(Asterisk).count()];
    Counters {
        held: per_range(
            conversation::Entity.into_iden(),
            C::OwnerId.into_iden(),
            C::OccurredAt.into_iden(),
            vec![
                Expr::col(Asterisk).count(),
                held_with(ThankYouStatus::Sent),
                held_with(ThankYouStatus::Owed),
            ],
        ),
        people: per_range(
            conversation_participant::Entity.into_iden(),
            conversation_participant::Column::OwnerId.into_iden(),
            conversation_participant::Column::OccurredAt.into_iden(),
            vec![
                Func::count_distinct(Expr::col(conversation_participant::Column::ContactId)).into(),
            ],
        ),
        offered: per_range(
            value_offer::Entity.into_iden(),
            value_offer::Column::OwnerId.into_iden(),
            value_offer::Column::OfferedAt.into_iden(),
            rows(),
        ),
        asked: per_range(
            ask::Entity.into_iden(),
            ask::Column::OwnerId.into_iden(),
            ask::Column::AskedAt.into_iden(),
            rows(),
        ),
    }
}

/// Counts over the rows of one table whose instant falls in each of a list of ranges.
pub struct Ranges {
    table: sea_orm::sea_query::DynIden,
    owner: sea_orm::sea_query::DynIden,
    instant: sea_orm::sea_query::DynIden,
    owner_id: Uuid,
    now: DateTime<Utc>,
    counts: Vec<Expr>,
}

impl Ranges {
    /// One arm per range `(index, start, until)`, `[start, until)`: the index, then the
    /// counts.
    pub fn statement(
        &self,
        bounds: &[(usize, DateTime<Utc>, DateTime<Utc>)],
    ) -> Option<SelectStatement> {
        use sea_orm::sea_query::ExprTrait;

        let instant = || Expr::col(self.instant.clone());
        let past = clock::just_after(self.now);
        union_all(
            "range",
            bounds.iter().map(|(i, start, until)| {
                let mut arm = Query::select();
                arm.expr_as(Expr::val(*i as i64), Alias::new("range_index"));
                for (n, count) in self.counts.iter().enumerate() {
                    arm.expr_as(count.clone(), Alias::new(format!("count_{n}")));
                }
                // One bound on each side: SQLite's planner takes one per side for the index
                // range and cannot tell which of two parameters is the tighter.
                arm.from(self.table.clone())
                    .and_where(Expr::col(self.owner.clone()).eq(self.owner_id))
                    .and_where(instant().gte(*start))
                    .and_where(instant().lt(std::cmp::min(*until, past)));
                arm
            }),
        )
    }

    /// The counts of each range, by the range's index.
    async fn read(
        &self,
        conn: &impl ConnectionTrait,
        bounds: &[(usize, DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<BTreeMap<usize, Vec<i64>>, ApiError> {
        let Some(statement) = self.statement(bounds) else {
            return Ok(BTreeMap::new());
        };
        let mut counts = BTreeMap::new();
        for row in conn.query_all(&statement).await? {
            let i: i64 = row.try_get_by_index(0)?;
            let values = (1..=self.counts.len())
                .map(|n| row.try_get_by_index::<i64>(n))
                .collect::<Result<Vec<_>, _>>()?;
            counts.insert(usize::try_from(i).unwrap_or(usize::MAX), values);
        }
        Ok(counts)
    }
}

/// This week's progress against the owner's goals.
pub struct Goals {
    pub week_starts_on: NaiveDate,
    pub conversation_goal: u32,
    pub new_people_goal: u32,
    pub this_week: Tally,
    pub streak_weeks: u32,
}

/// This week's tally, and the streak from the weekly conversation counts of up to two years
/// back: this week's from the tally, the earlier weeks' from the day rows (see
/// [`earlier_weeks`]), read at the same time.
pub async fn goals(db: &Db, owner_id: Uuid, today: &Today) -> Result<Goals, ApiError> {
    let conn = db.reader();
    let account = user::Entity::find_by_id(owner_id)
        .one(conn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let date = today.date();
    let this_week = stats::week_start(date);
    let earliest = relationship::add_days(this_week, -7 * 104);
    let first_week = stats::week_start(today.date_of(account.created_at)).max(earliest);
    let conversation_goal = u32::try_from(account.weekly_conversation_goal).unwrap_or(0);
    let (this_week_tally, mut by_week) = tokio::try_join!(
        async {
            Ok::<_, ApiError>(
                tallies(db, owner_id, today, &[(this_week, date)])
                    .await?
                    .pop()
                    .unwrap_or_default(),
            )
        },
        async {
            if conversation_goal == 0 {
                return Ok(BTreeMap::new());
            }
            earlier_weeks(conn, owner_id, first_week, this_week).await
        },
    )?;
    by_week.insert(this_week, this_week_tally.conversations);
    Ok(Goals {
        week_starts_on: this_week,
        conversation_goal,
        new_people_goal: u32::try_from(account.weekly_new_people_goal).unwrap_or(0),
        this_week: this_week_tally,
        streak_weeks: stats::streak(&by_week, this_week, first_week, conversation_goal),
    })
}

/// Each week's conversations from `first_week` to the week before `this_week`, summed from
/// the owner's day rows: one index range scan of at most 104 weeks × 7 rows, whatever the size
/// of the network. Every conversation on a day before today is past, so the rows are the
/// weeks' past conversations.
async fn earlier_weeks(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    first_week: NaiveDate,
    this_week: NaiveDate,
) -> Result<BTreeMap<NaiveDate, u32>, ApiError> {
    let last_day = relationship::add_days(this_week, -1);
    let mut by_week: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    for (day, counts) in activity::days(conn, owner_id, first_week, last_day).await? {
        let held = u32::try_from(counts.conversations).unwrap_or(0);
        let week = by_week.entry(stats::week_start(day)).or_insert(0);
        *week = week.saturating_add(held);
    }
    Ok(by_week)
}
