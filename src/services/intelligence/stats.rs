//! Activity statistics over a range, and the weekly goals.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{ask, contact, conversation, conversation_participant, user, value_offer};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::records::ThankYouStatus;
use crate::domain::relationship::{self, Today};
use crate::domain::stats::{self, Granularity, Held, Tally};
use crate::error::ApiError;
use crate::services::ledger;

/// Statistics of a range: one tally per bucket, then the whole range.
pub struct Stats {
    pub buckets: Vec<(NaiveDate, NaiveDate, Tally)>,
    pub total: Tally,
}

/// What happened between `from` and `to` (local dates, inclusive). Four statements.
pub async fn stats(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> Result<Stats, ApiError> {
    let activity = Activity::load(db, owner_id, today, from, to).await?;
    let buckets = stats::buckets(from, to, granularity)
        .into_iter()
        .map(|(start, end)| (start, end, activity.tally(start, end)))
        .collect();
    Ok(Stats {
        buckets,
        total: activity.tally(from, to),
    })
}

/// The dated records of a range of local dates.
struct Activity {
    held: Vec<Held>,
    first_met: HashMap<Uuid, NaiveDate>,
    offered: Vec<NaiveDate>,
    asked: Vec<NaiveDate>,
}

impl Activity {
    /// Reads the conversations, offers and asks of the range with a day more on each side in
    /// UTC, and each contact's first conversation, then keeps what falls on the local dates:
    /// no time-zone arithmetic in SQL. Four statements, run together.
    async fn load(
        db: &Db,
        owner_id: Uuid,
        today: &Today,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Self, ApiError> {
        let _permit = db.whole_network().await?;
        ledger::catch_up(db, owner_id, today.now).await?;
        let conn = db.reader();
        let start = from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let start = start.checked_sub_signed(Duration::days(1)).unwrap_or(start);
        let end = to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let end = end
            .checked_add_signed(Duration::days(2))
            .unwrap_or(end)
            .min(today.now);
        let inside = |d: &NaiveDate| (from..=to).contains(d);

        let offered = value_offer::Entity::find()
            .select_only()
            .column(value_offer::Column::OfferedAt)
            .filter(value_offer::Column::OwnerId.eq(owner_id))
            .filter(value_offer::Column::OfferedAt.gte(start))
            .filter(value_offer::Column::OfferedAt.lte(end))
            .into_tuple::<DateTime<Utc>>()
            .all(conn);
        let asked = ask::Entity::find()
            .select_only()
            .column(ask::Column::AskedAt)
            .filter(ask::Column::OwnerId.eq(owner_id))
            .filter(ask::Column::AskedAt.gte(start))
            .filter(ask::Column::AskedAt.lte(end))
            .into_tuple::<DateTime<Utc>>()
            .all(conn);
        // Conversations from the participant rows' copies of their date and thank-you status.
        use conversation_participant::Column as P;
        let rows = conversation_participant::Entity::find()
            .select_only()
            .columns([
                P::ConversationId,
                P::ContactId,
                P::OccurredAt,
                P::ThankYouStatus,
            ])
            .filter(P::OwnerId.eq(owner_id))
            .filter(P::OccurredAt.gte(start))
            .filter(P::OccurredAt.lte(end))
            .into_tuple::<(Uuid, Uuid, DateTime<Utc>, String)>()
            .all(conn);
        let (rows, first, offered, asked) = tokio::try_join!(
            async { Ok::<_, ApiError>(rows.await?) },
            first_met_between(conn, owner_id, start, end),
            async { Ok::<_, ApiError>(offered.await?) },
            async { Ok::<_, ApiError>(asked.await?) },
        )?;
        let mut by_conversation: BTreeMap<Uuid, Held> = BTreeMap::new();
        for (conversation_id, contact_id, at, status) in rows {
            let on = today.date_of(at);
            if !inside(&on) {
                continue;
            }
            let thank_you = crate::services::decode(
                "conversation.thank_you_status",
                &status,
                ThankYouStatus::from_stored,
            )?;
            by_conversation
                .entry(conversation_id)
                .or_insert_with(|| Held {
                    on,
                    thank_you,
                    participants: Vec::new(),
                })
                .participants
                .push(contact_id);
        }
        let held = by_conversation.into_values().collect();
        let first_met = first
            .into_iter()
            .map(|(id, first)| (id, today.date_of(first)))
            .filter(|(_, on)| inside(on))
            .collect();

        let dates = |instants: Vec<DateTime<Utc>>| -> Vec<NaiveDate> {
            instants
                .into_iter()
                .map(|at| today.date_of(at))
                .filter(inside)
                .collect()
        };
        Ok(Self {
            held,
            first_met,
            offered: dates(offered),
            asked: dates(asked),
        })
    }

    fn tally(&self, from: NaiveDate, to: NaiveDate) -> Tally {
        stats::tally(
            from,
            to,
            &self.held,
            &self.first_met,
            &self.offered,
            &self.asked,
        )
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

/// Up to two years of weekly conversation counts back from this week, for the streak.
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
    let activity = Activity::load(db, owner_id, today, this_week, date).await?;
    let conversation_goal = u32::try_from(account.weekly_conversation_goal).unwrap_or(0);
    let by_week = weeks_meeting(
        conn,
        owner_id,
        today,
        this_week,
        first_week,
        conversation_goal,
    )
    .await?;
    Ok(Goals {
        week_starts_on: this_week,
        conversation_goal,
        new_people_goal: u32::try_from(account.weekly_new_people_goal).unwrap_or(0),
        this_week: activity.tally(this_week, date),
        streak_weeks: stats::streak(&by_week, this_week, first_week, conversation_goal),
    })
}

/// Each contact whose first past conversation falls between `start` and `end`, with it: a
/// range of the ledger's index `(owner_id, first_conversation_at)`.
async fn first_met_between(
    conn: &impl sea_orm::ConnectionTrait,
    owner_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<HashMap<Uuid, DateTime<Utc>>, ApiError> {
    use contact::Column as C;

    let rows: Vec<(Uuid, DateTime<Utc>)> = contact::Entity::find()
        .select_only()
        .columns([C::Id, C::FirstConversationAt])
        .filter(C::OwnerId.eq(owner_id))
        .filter(C::FirstConversationAt.gte(start))
        .filter(C::FirstConversationAt.lte(end))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Weeks per statement of [`weeks_meeting`].
const WEEKS_PER_READ: i64 = 8;

/// Each week's past conversations counted up to `goal` (all the streak needs to know), from
/// this week back to the first earlier week that falls short, or to `first_week`. Each week
/// is a scan of the conversation index `(owner_id, occurred_at, …)` stopped at `goal` rows,
/// eight weeks to a statement: the cost follows the streak and the goal, not the network.
async fn weeks_meeting(
    conn: &impl sea_orm::ConnectionTrait,
    owner_id: Uuid,
    today: &Today,
    this_week: NaiveDate,
    first_week: NaiveDate,
    goal: u32,
) -> Result<BTreeMap<NaiveDate, u32>, ApiError> {
    use conversation::Column as C;
    use sea_orm::QueryTrait;
    use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query, UnionType};

    let mut by_week = BTreeMap::new();
    let mut next = this_week;
    while goal > 0 && next >= first_week {
        let weeks: Vec<NaiveDate> = (0..WEEKS_PER_READ)
            .map(|i| relationship::add_days(next, -7 * i))
            .filter(|week| *week >= first_week)
            .collect();
        let mut union: Option<sea_orm::sea_query::SelectStatement> = None;
        for (i, week) in weeks.iter().enumerate() {
            let from = relationship::start_of_day(*week, today.zone);
            let until = relationship::start_of_day(relationship::add_days(*week, 7), today.zone);
            let held = conversation::Entity::find()
                .select_only()
                .expr(Expr::val(1))
                .filter(C::OwnerId.eq(owner_id))
                .filter(C::OccurredAt.gte(from))
                .filter(C::OccurredAt.lt(until))
                .filter(C::OccurredAt.lte(today.now))
                .limit(u64::from(goal))
                .into_query();
            let arm = Query::select()
                .expr_as(Expr::val(i as i64), Alias::new("week"))
                .expr_as(Expr::col(Asterisk).count(), Alias::new("held"))
                .from_subquery(held, Alias::new("w"))
                .to_owned();
            match union.as_mut() {
                None => union = Some(arm),
                Some(union) => {
                    union.union(UnionType::All, arm);
                }
            }
        }
        let Some(union) = union else { break };
        for row in conn.query_all(&union).await? {
            let (i, held): (i64, i64) = row.try_get_many_by_index()?;
            if let Some(week) = usize::try_from(i).ok().and_then(|i| weeks.get(i)) {
                by_week.insert(*week, u32::try_from(held).unwrap_or(u32::MAX));
            }
        }
        // This week may still be under way; any earlier week short of the goal ends a streak.
        let short = weeks
            .iter()
            .any(|week| *week != this_week && by_week.get(week).copied().unwrap_or(0) < goal);
        match weeks.last() {
            Some(last) if !short => next = relationship::add_days(*last, -7),
            _ => break,
        }
    }
    Ok(by_week)
}
