//! The follow-up calendar feed: `POST /v1/me/calendar-token` and `GET /v1/calendar.ics`.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use icalendar::{Calendar, Component, Event, EventLike};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::bearer::Auth;
use crate::api::idempotency::carrying_secret;
use crate::api::insights::href;
use crate::api::pagination::ListQuery;
use crate::api::state::AppState;
use crate::domain::follow_ups::{FollowUp, FollowUpKind};
use crate::error::ApiError;
use crate::services::{calendar_feeds, intelligence, relationships};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_calendar_token)
        .service(get_calendar_feed);
}

/// How far ahead the feed looks; overdue follow-ups always show.
pub const FEED_DAYS: i64 = 30;

/// A calendar feed URL, shown once.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "url": "https://rapport.example.com/v1/calendar.ics?token=rcal_4m0Zk9w1bQ2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ",
    "token": "rcal_4m0Zk9w1bQ2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ",
    "created_at": "2026-11-26T09:46:22Z"
}))]
struct CalendarToken {
    /// Subscribe to this URL in a calendar app. Anyone holding it can read your follow-ups.
    url: String,
    /// `rcal_…`, the secret part of `url`.
    token: String,
    created_at: DateTime<Utc>,
}

/// Issue a calendar feed URL
///
/// Creates a secret feed URL for calendar apps; any earlier URL stops working at once
/// (rotate it here if it leaks). The token is shown in this response only. Needs a login's
/// access token: a personal access token is refused (403). The token is not kept for idempotent
/// replays: a retry with the same `Idempotency-Key` rotates nothing and is answered 409
/// `secret_not_replayed`.
#[utoipa::path(
    tag = "calendar",
    params(crate::openapi::IdempotencyKeyHeader),
    responses(
        (status = 201, description = "The new feed URL.", body = CalendarToken,
            headers(("Location" = String, description = "The feed's path, token included."))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::IdempotencyConflict),
        (status = 422, response = crate::openapi::ValidationFailed),
    )
)]
#[post("/v1/me/calendar-token")]
async fn create_calendar_token(
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_login()?;
    let now = crate::clock::now();
    let token = calendar_feeds::rotate(&state.db, auth.user_id(), now).await?;
    let path = format!("/v1/calendar.ics?token={token}");
    let url = format!("{}{path}", state.public_url);
    Ok(carrying_secret(
        HttpResponse::Created()
            .insert_header((LOCATION, path))
            .json(CalendarToken {
                url,
                token,
                created_at: now,
            }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// The `rcal_…` token from `POST /v1/me/calendar-token`.
    #[param(min_length = 1)]
    token: String,
}

fn summary(item: &FollowUp) -> String {
    let name = &item.contact_name;
    let detail = item.detail.as_deref().unwrap_or_default();
    match item.kind {
        FollowUpKind::ThankYou => format!("Thank {name}"),
        FollowUpKind::NextStep => format!("Next step with {name}: {detail}"),
        FollowUpKind::AskFollowUp => format!("Follow up with {name}: {detail}"),
        FollowUpKind::CheckIn => format!("Check in with {name}"),
        FollowUpKind::DeliverOffer => format!("Offer {name}: {detail}"),
    }
}

/// `text` with every control character a space, except the line breaks a description may keep
/// (`keep_newlines`), which iCalendar escapes: a raw carriage return would end the content line
/// for parsers that take CR as a newline, and let stored text inject properties (`UID:`).
fn ics_text(text: &str, keep_newlines: bool) -> String {
    text.chars()
        .map(|c| match c {
            '\n' if keep_newlines => c,
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// The feed as iCalendar text. Overdue items sit on today, so they stay in sight until done;
/// each UID names the item's kind, source and contact, so a calendar app updates an event
/// rather than adding a second one.
fn render(items: &[FollowUp], today: NaiveDate, stamp: DateTime<Utc>) -> String {
    let mut calendar = Calendar::new();
    calendar.name("Rapport follow-ups");
    for item in items {
        let overdue = item.overdue_days(today);
        let mut title = summary(item);
        if overdue > 0 {
            title = format!("{title} (overdue {overdue} d)");
        }
        let mut description = format!("Due {}.", item.due_on);
        if let Some(detail) = &item.detail {
            description = format!("{detail}\n{description}");
        }
        let uid = format!(
            "{}-{}-{}@rapport",
            item.kind.as_str(),
            item.source_id,
            item.contact_id
        );
        calendar.push(
            Event::new()
                .uid(&uid)
                .timestamp(stamp)
                .summary(&ics_text(&title, false))
                .description(&ics_text(
                    &format!("{description}\n{}", href(item.kind, item.source_id)),
                    true,
                ))
                .all_day(item.due_on.max(today))
                .done(),
        );
    }
    calendar.done().to_string()
}

/// Calendar feed
///
/// Your follow-ups of the next 30 days and the overdue ones, one all-day event each, as
/// `text/calendar`. Authenticated by the secret `token` in the URL (calendar apps cannot send
/// headers); a wrong or rotated token is 404.
#[utoipa::path(
    tag = "calendar",
    security(()),
    params(FeedQuery),
    responses(
        (status = 200, description = "The feed.", content_type = "text/calendar", body = String),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/v1/calendar.ics")]
async fn get_calendar_feed(
    state: web::Data<AppState>,
    query: ListQuery<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let owner_id = calendar_feeds::owner_of(&state.db, &query.0.token)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = state.clock.now();
    let today = relationships::today(state.db.reader(), owner_id, now).await?;
    let items = intelligence::follow_ups(&state.db, owner_id, &today, FEED_DAYS, &[], None).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/calendar; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "private, no-cache"))
        .body(render(&items, today.date(), now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn control_characters_in_stored_text_cannot_inject_calendar_lines() {
        let item = FollowUp {
            kind: FollowUpKind::NextStep,
            due_on: NaiveDate::from_ymd_opt(2026, 3, 5).unwrap(),
            contact_id: Uuid::now_v7(),
            contact_name: "Ada\rUID:evil\u{1b}[31m".into(),
            source_id: Uuid::now_v7(),
            detail: Some("Send the deck\r\nDTSTART:19700101\u{0b}".into()),
        };
        let today = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap();
        let feed = render(&[item], today, Utc::now());
        for line in feed.split("\r\n") {
            assert!(
                !line.contains('\r') && !line.contains('\n'),
                "a bare line break: {line:?}"
            );
            assert!(
                !line.chars().any(|c| c.is_control()),
                "a control character: {line:?}"
            );
            assert!(
                !line.starts_with("UID:evil") && !line.starts_with("DTSTART:1970"),
                "{line:?}"
            );
        }
        assert_eq!(feed.matches("\r\nUID:").count(), 1);
    }
}
