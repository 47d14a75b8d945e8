//! Relationship intelligence: `/v1/follow-ups`, `/v1/suggestions`, `/v1/stats`, `/v1/goals`.

use actix_web::{get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::bearer::Auth;
use crate::api::pagination::{ListQuery, Page, decode_keyset, encode_keyset, parse_limit};
use crate::api::state::AppState;
use crate::domain::follow_ups::{FollowUp, FollowUpKey, FollowUpKind};
use crate::domain::records::OfferKind;
use crate::domain::relationship::Relationship;
use crate::domain::stats::{self, Granularity, Tally};
use crate::domain::suggestions::{self, Reason};
use crate::error::{ApiError, ProblemCode};
use crate::services::{intelligence, offers};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_follow_ups)
        .service(list_suggestions)
        .service(get_stats)
        .service(get_goals);
}

pub const MAX_WITHIN_DAYS: i64 = 365;

/// Where a follow-up's source lives.
pub fn href(kind: FollowUpKind, source_id: Uuid) -> String {
    match kind {
        FollowUpKind::ThankYou | FollowUpKind::NextStep => {
            format!("/v1/conversations/{source_id}")
        }
        FollowUpKind::CheckIn => format!("/v1/contacts/{source_id}"),
        FollowUpKind::DeliverOffer => format!("/v1/value-offers/{source_id}"),
        FollowUpKind::AskFollowUp => format!("/v1/asks/{source_id}"),
    }
}

/// One thing to do for one contact.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "kind": "thank_you", "due_on": "2026-03-03", "overdue_days": 1,
    "contact_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "contact_name": "Grace Hopper",
    "source_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a60",
    "href": "/v1/conversations/0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a60",
    "detail": "Coffee after the compilers meetup"
}))]
pub struct FollowUpResponse {
    pub kind: FollowUpKind,
    pub due_on: NaiveDate,
    /// Whole days past `due_on`; 0 when not overdue.
    pub overdue_days: i64,
    pub contact_id: Uuid,
    pub contact_name: String,
    /// The id of the conversation (`thank_you`, `next_step`), contact (`check_in`), value
    /// offer (`deliver_offer`) or ask (`ask_follow_up`) the item comes from.
    pub source_id: Uuid,
    /// The source's path in this API.
    pub href: String,
    /// The conversation's summary, the next step, or the offer's or ask's title; null for a
    /// check-in.
    pub detail: Option<String>,
}

impl FollowUpResponse {
    pub fn new(item: FollowUp, today: NaiveDate) -> Self {
        Self {
            overdue_days: item.overdue_days(today),
            href: href(item.kind, item.source_id),
            kind: item.kind,
            due_on: item.due_on,
            contact_id: item.contact_id,
            contact_name: item.contact_name,
            source_id: item.source_id,
            detail: item.detail,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FollowUpQuery {
    /// How many days ahead of today to look, 0–365; overdue items always show.
    #[param(minimum = 0, maximum = 365, default = 7)]
    within_days: Option<i64>,
    /// Repeatable: only these kinds.
    #[serde(default)]
    #[param(inline)]
    kind: Vec<FollowUpKind>,
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (same filters).
    cursor: Option<String>,
}

const FOLLOW_UP_SORT: &str = "follow_ups";

fn encode_follow_up((due, kind, source, contact): FollowUpKey) -> String {
    encode_keyset(
        FOLLOW_UP_SORT,
        &format!("{due}|{}|{source}", kind.priority()),
        contact,
    )
}

fn decode_follow_up(cursor: &str) -> Result<FollowUpKey, ApiError> {
    let (value, contact) = decode_keyset(cursor, FOLLOW_UP_SORT)?;
    let mut parts = value.split('|');
    let parsed = (|| {
        let due = parts.next()?.parse().ok()?;
        let kind = FollowUpKind::from_priority(parts.next()?.parse().ok()?)?;
        let source = parts.next()?.parse().ok()?;
        Some((due, kind, source, contact))
    })();
    parsed.ok_or_else(|| ApiError::new(ProblemCode::InvalidCursor, "cursor is not valid"))
}

/// List follow-ups
///
/// One prioritized to-do list across your network, of five kinds:
/// - `thank_you`: a past conversation whose thank-you is `owed`, one item per participant;
///   due the day after it happened.
/// - `check_in`: a contact whose `relationship.next_check_in_on` has come or comes within
///   the window.
/// - `next_step`: a conversation's undone `next_step` due within the window, under its
///   participant who comes first by name.
/// - `deliver_offer`: a value offer still an `idea` seven days after it was created.
/// - `ask_follow_up`: an ask still `asked` fourteen days after `asked_at`.
///
/// Overdue items always show. Order: overdue first, then by `due_on` (the most overdue
/// first), then by kind in the order `thank_you`, `next_step`, `ask_follow_up`, `check_in`,
/// `deliver_offer`, then by source id and contact id. Archived contacts have no follow-ups.
/// Dates are local to your `time_zone`.
#[utoipa::path(
    tag = "intelligence",
    params(FollowUpQuery),
    responses(
        (status = 200, description = "One page of follow-ups.", body = Page<FollowUpResponse>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/follow-ups")]
async fn list_follow_ups(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<FollowUpQuery>,
) -> Result<web::Json<Page<FollowUpResponse>>, ApiError> {
    let query = query.0;
    let within_days = query.within_days.unwrap_or(7);
    if !(0..=MAX_WITHIN_DAYS).contains(&within_days) {
        return Err(ApiError::invalid_query(format!(
            "within_days must be between 0 and {MAX_WITHIN_DAYS}, got {within_days}"
        )));
    }
    let limit = parse_limit(query.limit)? as usize;
    let after = query.cursor.as_deref().map(decode_follow_up).transpose()?;
    let today = auth.today(state.clock.now());
    let window = intelligence::Window { after, limit };
    let mut items = intelligence::follow_ups(
        &state.db,
        auth.user_id(),
        &today,
        within_days,
        &query.kind,
        Some(window),
    )
    .await?;
    if let Some(after) = after {
        items.retain(|item| item.key() > after);
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = items
        .last()
        .filter(|_| has_more)
        .map(|last| encode_follow_up(last.key()));
    let date = today.date();
    Ok(web::Json(Page {
        data: items
            .into_iter()
            .map(|item| FollowUpResponse::new(item, date))
            .collect(),
        next_cursor,
        has_more,
    }))
}

/// An `idea` worth bringing along.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestedOffer {
    pub id: Uuid,
    /// The contact the idea was noted for (may be someone else with the same interests).
    pub contact_id: Uuid,
    pub kind: OfferKind,
    pub title: String,
    pub url: Option<String>,
    pub topics: Vec<String>,
    pub href: String,
}

/// A contact to reach out to, and why.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "contact_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "contact_name": "Grace Hopper",
    "score": 70, "reason": "offer_something_first",
    "message": "You have asked Grace Hopper for more than you have given: offer something first.",
    "suggested_offer": {
        "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a61",
        "contact_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "kind": "article",
        "title": "The history of COBOL", "url": "https://example.com/cobol",
        "topics": ["cobol"], "href": "/v1/value-offers/0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a61"
    },
    "relationship": {
        "conversation_count": 2, "first_conversation_at": "2026-01-12T08:30:00Z",
        "last_conversation_at": "2026-01-20T17:00:00Z", "next_check_in_on": "2026-02-19",
        "health": "cold", "gives": 0, "asks": 2, "balance": -2, "reciprocity": "taking",
        "thank_yous_owed": 0, "one_off": false
    }
}))]
pub struct SuggestionResponse {
    pub contact_id: Uuid,
    pub contact_name: String,
    /// Higher first; see the operation's description.
    pub score: i64,
    pub reason: Reason,
    /// The suggestion as a sentence.
    pub message: String,
    /// An `idea` offer for this contact, else one whose topics meet their interests.
    pub suggested_offer: Option<SuggestedOffer>,
    pub relationship: Relationship,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SuggestionQuery {
    /// How many suggestions, 1–50.
    #[param(minimum = 1, maximum = 50, default = 10)]
    limit: Option<i64>,
}

/// List suggestions
///
/// The next best gestures: contacts (not archived) ranked by a score that adds
/// - once a check-in is due: 10 points plus 100 per full cadence overdue, at most 210;
/// - 40 per thank-you owed, at most 120;
/// - 15 per ask more than gives, at most 60.
///
/// Contacts scoring 0 are left out. Equal scores rank the longer overdue first, then by name,
/// then by id. `reason` is the first of `thank_you_owed`, `offer_something_first` (a `taking`
/// relationship), `going_cold`, `check_in_due` that applies. One page; `has_more` tells
/// whether more contacts scored.
#[utoipa::path(
    tag = "intelligence",
    params(SuggestionQuery),
    responses(
        (status = 200, description = "The suggestions, best first.", body = Page<SuggestionResponse>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/suggestions")]
async fn list_suggestions(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<SuggestionQuery>,
) -> Result<web::Json<Page<SuggestionResponse>>, ApiError> {
    let limit = match query.0.limit {
        None => 10,
        Some(n @ 1..=50) => n as usize,
        Some(n) => {
            return Err(ApiError::invalid_query(format!(
                "limit must be between 1 and 50, got {n}"
            )));
        }
    };
    let today = auth.today(state.clock.now());
    let date = today.date();
    let (picked, has_more) =
        intelligence::suggestions(&state.db, auth.user_id(), &today, limit).await?;
    let data = picked
        .into_iter()
        .map(|s| {
            let suggested_offer = match s.offer {
                Some(o) => {
                    let f = offers::fields_of(&o)?;
                    Some(SuggestedOffer {
                        href: format!("/v1/value-offers/{}", o.id),
                        id: o.id,
                        contact_id: f.contact_id,
                        kind: f.kind,
                        title: f.title,
                        url: f.url,
                        topics: f.topics,
                    })
                }
                None => None,
            };
            Ok(SuggestionResponse {
                contact_id: s.contact_id,
                message: suggestions::message(
                    s.score.reason,
                    &s.contact_name,
                    &s.relationship,
                    date,
                ),
                contact_name: s.contact_name,
                score: s.score.points,
                reason: s.score.reason,
                suggested_offer,
                relationship: s.relationship,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(web::Json(Page {
        data,
        next_cursor: None,
        has_more,
    }))
}

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
async fn get_stats(
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
async fn get_goals(
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
