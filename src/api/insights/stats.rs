//! Statistics and weekly goals: `/v1/stats`, `/v1/goals`.

use actix_web::{get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::bearer::Auth;
use crate::api::pagination::ListQuery;
use crate::api::state::AppState;
use crate::domain::stats::{self, Granularity, Tally};
use crate::error::{ApiError, ProblemCode};
use crate::services::intelligence;

/// One week (Monday to Sunday) or month, clipped to the range.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    #[serde(flatten)]
    pub counts: Tally,
}

/// Activity over a range of your local dates.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "from": "2026-02-23", "to": "2026-03-04", "granularity": "week", "time_zone": "Europe/London",
    "buckets": [
        {"starts_on": "2026-02-23", "ends_on": "2026-03-01", "conversations": 4,
         "distinct_people": 3, "new_people": 1, "offers_given": 2, "asks_made": 1,
         "thank_you_rate": 0.75},
        {"starts_on": "2026-03-02", "ends_on": "2026-03-04", "conversations": 0,
         "distinct_people": 0, "new_people": 0, "offers_given": 0, "asks_made": 0,
         "thank_you_rate": null}
    ],
    "total": {"conversations": 4, "distinct_people": 3, "new_people": 1, "offers_given": 2,
              "asks_made": 1, "thank_you_rate": 0.75}
}))]
pub struct StatsResponse {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    /// The time zone the dates are local to (your account's).
    pub time_zone: String,
    pub buckets: Vec<Bucket>,
    /// The whole range; `distinct_people` counts each person once.
    pub total: Tally,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StatsQuery {
    /// First local date (inclusive), 0001-01-01 to 9999-12-31. Default: the Monday eleven
    /// weeks before `to`'s week.
    from: Option<NaiveDate>,
    /// Last local date (inclusive), 0001-01-01 to 9999-12-31. Default: today.
    to: Option<NaiveDate>,
    /// `week` (default; weeks start on Monday) or `month`.
    #[param(inline)]
    granularity: Option<Granularity>,
}

/// Get statistics
///
/// Per week or month and in total: conversations, distinct people, new people, offers given,
/// asks made and the thank-you rate. The default range is the last 12 weeks, the current one
/// included. A range longer than two years, or one ending before it starts, is 400.
#[utoipa::path(
    tag = "intelligence",
    params(StatsQuery),
    responses(
        (status = 200, description = "The statistics.", body = StatsResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/stats")]
pub(super) async fn get_stats(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<StatsQuery>,
) -> Result<web::Json<StatsResponse>, ApiError> {
    let query = query.0;
    let today = auth.today(state.clock.now());
    let to = query.to.unwrap_or_else(|| today.date());
    let from = query.from.unwrap_or_else(|| stats::default_range(to).0);
    for (name, date) in [("from", from), ("to", to)] {
        if !stats::in_calendar(date) {
            return Err(ApiError::new(
                ProblemCode::InvalidRange,
                format!("{name} ({date}) is outside 0001-01-01 to 9999-12-31"),
            ));
        }
    }
    if from > to {
        return Err(ApiError::new(
            ProblemCode::InvalidRange,
            format!("from ({from}) is after to ({to})"),
        ));
    }
    if stats::too_long(from, to) {
        return Err(ApiError::new(
            ProblemCode::InvalidRange,
            format!(
                "the range from {from} to {to} is longer than {} months",
                stats::MAX_RANGE_MONTHS
            ),
        ));
    }
    let granularity = query.granularity.unwrap_or_default();
    let result =
        intelligence::stats(&state.db, auth.user_id(), &today, from, to, granularity).await?;
    Ok(web::Json(StatsResponse {
        from,
        to,
        granularity,
        time_zone: today.zone.name().to_owned(),
        buckets: result
            .buckets
            .into_iter()
            .map(|(starts_on, ends_on, tally)| Bucket {
                starts_on,
                ends_on,
                counts: tally,
            })
            .collect(),
        total: result.total,
    }))
}

/// Progress against one weekly goal.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalProgress {
    /// The goal; 0 when none is set.
    pub goal: u32,
    /// So far this week.
    pub done: u32,
    /// Whether `done` reached `goal`; null without a goal.
    pub met: Option<bool>,
}

impl GoalProgress {
    fn new(goal: u32, done: u32) -> Self {
        Self {
            goal,
            done,
            met: (goal > 0).then_some(done >= goal),
        }
    }
}

/// This week's progress.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "week_starts_on": "2026-03-02", "week_ends_on": "2026-03-08",
    "conversations": {"goal": 5, "done": 3, "met": false},
    "new_people": {"goal": 1, "done": 1, "met": true},
    "streak_weeks": 4
}))]
pub struct GoalsResponse {
    /// Monday of the current week in your time zone.
    pub week_starts_on: NaiveDate,
    pub week_ends_on: NaiveDate,
    /// Past conversations this week against `weekly_conversation_goal`.
    pub conversations: GoalProgress,
    /// People met for the first time this week against `weekly_new_people_goal`.
    pub new_people: GoalProgress,
    /// Consecutive weeks, back from this one, that met the conversation goal. This week
    /// counts once met; until then the streak runs through last week. 0 without a goal.
    pub streak_weeks: u32,
}

/// Get goal progress
///
/// This week's progress against the weekly goals set with `PATCH /v1/me`, and the streak of
/// weeks that met the conversation goal. Weeks start on Monday in your time zone.
#[utoipa::path(
    tag = "intelligence",
    responses(
        (status = 200, description = "This week's progress.", body = GoalsResponse),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/goals")]
pub(super) async fn get_goals(
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<web::Json<GoalsResponse>, ApiError> {
    let today = auth.today(state.clock.now());
    let goals = intelligence::goals(&state.db, auth.user_id(), &today).await?;
    Ok(web::Json(GoalsResponse {
        week_starts_on: goals.week_starts_on,
        week_ends_on: crate::domain::relationship::add_days(goals.week_starts_on, 6),
        conversations: GoalProgress::new(goals.conversation_goal, goals.this_week.conversations),
        new_people: GoalProgress::new(goals.new_people_goal, goals.this_week.new_people),
        streak_weeks: goals.streak_weeks,
    }))
}
