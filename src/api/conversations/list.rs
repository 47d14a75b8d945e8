//! The conversation list: filters, sort orders and keyset pages.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::bearer::Auth;
use crate::api::pagination::{ListQuery, Page, decode_position, encode_position, parse_limit};
use crate::api::state::AppState;
use crate::domain::labels::search_terms;
use crate::domain::records::{Channel, ThankYouStatus};
use crate::error::ApiError;
use crate::services::conversations::{self, ConversationFilter};

use super::ConversationResponse;

/// Sort orders of the conversation list.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
enum ConversationSort {
    #[serde(rename = "occurred_at")]
    OccurredAt,
    #[serde(rename = "-occurred_at")]
    OccurredAtDesc,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ConversationListQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (same `sort`).
    cursor: Option<String>,
    /// Conversations this contact took part in.
    contact_id: Option<Uuid>,
    #[param(inline)]
    channel: Option<Channel>,
    /// `occurred_at` at or after this instant.
    from: Option<DateTime<Utc>>,
    /// `occurred_at` before this instant.
    to: Option<DateTime<Utc>>,
    #[param(inline)]
    thank_you_status: Option<ThankYouStatus>,
    /// Words that must each start a word of the summary, notes or learned.
    q: Option<String>,
    /// Default `-occurred_at` (newest first).
    #[param(inline)]
    sort: Option<ConversationSort>,
}

/// List conversations
///
/// Newest first by default; filter by participant, channel, date range, thank-you status or words.
/// Keyset-paginated.
#[utoipa::path(
    tag = "conversations",
    params(ConversationListQuery),
    responses(
        (status = 200, description = "One page of conversations.", body = Page<ConversationResponse>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/conversations")]
pub(super) async fn list_conversations(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<ConversationListQuery>,
) -> Result<web::Json<Page<ConversationResponse>>, ApiError> {
    let query = query.0;
    let ascending = matches!(query.sort, Some(ConversationSort::OccurredAt));
    let sort_name = if ascending {
        "occurred_at"
    } else {
        "-occurred_at"
    };
    let after = query
        .cursor
        .as_deref()
        .map(|c| decode_position(c, sort_name))
        .transpose()?;
    let filter = ConversationFilter {
        contact_id: query.contact_id,
        channel: query.channel,
        from: query.from,
        to: query.to,
        thank_you_status: query.thank_you_status,
        q: search_terms(query.q.as_deref().unwrap_or_default()),
        ascending,
        after,
        limit: parse_limit(query.limit)?,
    };
    let (rows, has_more) = conversations::list(&state.db, auth.user_id(), &filter).await?;
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_position(
            sort_name,
            (last.model.occurred_at, last.model.id),
        )),
        _ => None,
    };
    Ok(web::Json(Page {
        data: rows
            .into_iter()
            .map(ConversationResponse::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor,
        has_more,
    }))
}
