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
use crate::domain::suggestions::{self, Reason};
use crate::error::{ApiError, ProblemCode};
use crate::services::{intelligence, offers};

mod stats;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_follow_ups)
        .service(list_suggestions)
        .service(stats::get_stats)
        .service(stats::get_goals);
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
