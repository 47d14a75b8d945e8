//! `/v1/tags`: every tag of the caller's contacts with its count.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::bearer::Auth;
use crate::api::pagination::Page;
use crate::api::state::AppState;
use crate::error::ApiError;
use crate::services::contacts;

/// A tag and how many contacts carry it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"tag": "mentor", "contacts": 4}))]
struct TagCount {
    tag: String,
    contacts: i64,
}

/// List tags
///
/// Every tag of the caller's contacts with the number of contacts carrying it, most used first.
/// All tags come in one page.
#[utoipa::path(
    tag = "contacts",
    responses(
        (status = 200, description = "The tags.", body = Page<TagCount>),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/tags")]
pub(super) async fn list_tags(
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<web::Json<Page<TagCount>>, ApiError> {
    let counts = contacts::tag_counts(&state.db, auth.user_id()).await?;
    let data = counts
        .into_iter()
        .map(|(tag, contacts)| TagCount { tag, contacts })
        .collect();
    Ok(web::Json(Page {
        data,
        next_cursor: None,
        has_more: false,
    }))
}
