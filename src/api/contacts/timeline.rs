//! A contact's timeline: conversations, value offers and asks as one list.

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::asks::AskResponse;
use crate::api::bearer::Auth;
use crate::api::conversations::ConversationResponse;
use crate::api::offers::ValueOfferResponse;
use crate::api::pagination::{ListQuery, Page, decode_position, encode_position, parse_limit};
use crate::api::state::AppState;
use crate::error::ApiError;
use crate::services::timeline::{self, Entry};

/// One entry of a contact's timeline, told apart by `type`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TimelineItem {
    Conversation(ConversationResponse),
    ValueOffer(ValueOfferResponse),
    Ask(AskResponse),
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TimelineQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A contact's timeline
///
/// The conversations they took part in, the value offers made to them and the asks made of
/// them, newest first (conversations by `occurred_at`, offers and asks by `created_at`), as one
/// paginated list whose items carry a `type`.
#[utoipa::path(
    tag = "contacts",
    params(("id" = Uuid, Path, description = "The contact's id."), TimelineQuery),
    responses(
        (status = 200, description = "One page of the timeline.", body = Page<TimelineItem>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/v1/contacts/{id}/timeline")]
pub(super) async fn get_contact_timeline(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: ListQuery<TimelineQuery>,
) -> Result<web::Json<Page<TimelineItem>>, ApiError> {
    const SORT: &str = "-at";
    let query = query.0;
    let after = query
        .cursor
        .as_deref()
        .map(|c| decode_position(c, SORT))
        .transpose()?;
    let limit = parse_limit(query.limit)?;
    let (entries, has_more) =
        timeline::page(&state.db, auth.user_id(), id.into_inner(), after, limit).await?;
    let next_cursor = match (has_more, entries.last()) {
        (true, Some(last)) => Some(encode_position(SORT, last.key())),
        _ => None,
    };
    let data = entries
        .into_iter()
        .map(|entry| {
            Ok(match entry {
                Entry::Conversation(c) => TimelineItem::Conversation(c.try_into()?),
                Entry::Offer(o) => TimelineItem::ValueOffer(o.try_into()?),
                Entry::Ask(a) => TimelineItem::Ask(a.try_into()?),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(web::Json(Page {
        data,
        next_cursor,
        has_more,
    }))
}
