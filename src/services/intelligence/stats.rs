//! Activity statistics over a range, and the weekly goals.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{ask, contact, conversation_participant, user, value_offer};
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
    let activity = Activity::load(db, owner_id, today, earliest, date).await?;
    let mut by_week: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    for held in &activity.held {
        *by_week.entry(stats::week_start(held.on)).or_default() += 1;
    }
    let conversation_goal = u32::try_from(account.weekly_conversation_goal).unwrap_or(0);
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
