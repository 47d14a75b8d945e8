//! The contact list: filters, sort orders and keyset pages.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::bearer::Auth;
use crate::api::pagination::{
    ListQuery, Page, decode_keyset, decode_position, encode_keyset, parse_limit,
};
use crate::api::state::AppState;
use crate::domain::relationship::{Health, Reciprocity, Relationship};
use crate::error::{ApiError, ProblemCode};
use crate::services::contacts::{self, After, Archived, Contact, ContactFilter, SortKey};

use super::ContactResponse;

/// Which contacts to list by archive state.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
enum ArchivedParam {
    /// Only contacts that are not archived (the default).
    #[serde(rename = "false")]
    False,
    /// Only archived contacts.
    #[serde(rename = "true")]
    True,
    /// Both.
    #[serde(rename = "all")]
    All,
}

/// Sort orders of the contact list; a leading `-` means descending.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
enum ContactSort {
    #[serde(rename = "full_name")]
    FullName,
    #[serde(rename = "-full_name")]
    FullNameDesc,
    #[serde(rename = "created_at")]
    CreatedAt,
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    #[serde(rename = "-updated_at")]
    UpdatedAtDesc,
    #[serde(rename = "next_check_in_on")]
    NextCheckInOn,
    #[serde(rename = "-next_check_in_on")]
    NextCheckInOnDesc,
    #[serde(rename = "last_conversation_at")]
    LastConversationAt,
    #[serde(rename = "-last_conversation_at")]
    LastConversationAtDesc,
}

impl ContactSort {
    fn parts(self) -> (SortKey, bool, &'static str) {
        match self {
            Self::FullName => (SortKey::FullName, false, "full_name"),
            Self::FullNameDesc => (SortKey::FullName, true, "-full_name"),
            Self::CreatedAt => (SortKey::CreatedAt, false, "created_at"),
            Self::CreatedAtDesc => (SortKey::CreatedAt, true, "-created_at"),
            Self::UpdatedAt => (SortKey::UpdatedAt, false, "updated_at"),
            Self::UpdatedAtDesc => (SortKey::UpdatedAt, true, "-updated_at"),
            Self::NextCheckInOn => (SortKey::NextCheckInOn, false, "next_check_in_on"),
            Self::NextCheckInOnDesc => (SortKey::NextCheckInOn, true, "-next_check_in_on"),
            Self::LastConversationAt => {
                (SortKey::LastConversationAt, false, "last_conversation_at")
            }
            Self::LastConversationAtDesc => {
                (SortKey::LastConversationAt, true, "-last_conversation_at")
            }
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ContactListQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (same `sort`).
    cursor: Option<String>,
    /// Words that must each start a word of the name, preferred name, email, company, title
    /// or notes (case-insensitive).
    q: Option<String>,
    /// Repeatable: contacts carrying every given tag (blank values are ignored).
    #[serde(default)]
    tag: Vec<String>,
    /// Company name, case-insensitive exact match.
    company: Option<String>,
    /// `false` (default), `true` or `all`.
    #[param(inline)]
    archived: Option<ArchivedParam>,
    /// Only contacts updated at or after this instant.
    updated_since: Option<DateTime<Utc>>,
    /// Only contacts whose `relationship.health` is this.
    #[param(inline)]
    health: Option<Health>,
    /// Only contacts whose `relationship.reciprocity` is this.
    #[param(inline)]
    reciprocity: Option<Reciprocity>,
    /// Only one-off contacts (`true`) or only the others (`false`).
    one_off: Option<bool>,
    /// Default `created_at`. `next_check_in_on` and `last_conversation_at` order by the
    /// derived relationship, contacts without a value last (first when descending).
    #[param(inline)]
    sort: Option<ContactSort>,
}

/// List contacts
///
/// Filter by words, tags, company, archive state, update time and the derived relationship
/// (`health`, `reciprocity`, `one_off`); sort by a stored field or by `next_check_in_on` or
/// `last_conversation_at`. Each page costs the same few queries whatever its length.
#[utoipa::path(
    tag = "contacts",
    params(ContactListQuery),
    responses(
        (status = 200, description = "One page of contacts.", body = Page<ContactResponse>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/contacts")]
pub(super) async fn list_contacts(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<ContactListQuery>,
) -> Result<web::Json<Page<ContactResponse>>, ApiError> {
    let query = query.0;
    let (sort, descending, sort_name) = query.sort.unwrap_or(ContactSort::CreatedAt).parts();
    let after = query
        .cursor
        .as_deref()
        .map(|cursor| decode_after(cursor, sort, sort_name))
        .transpose()?;
    let filter = ContactFilter {
        tags: normalized_tags(&query.tag),
        company: query.company.filter(|c| !c.trim().is_empty()),
        archived: match query.archived {
            None | Some(ArchivedParam::False) => Archived::Hidden,
            Some(ArchivedParam::True) => Archived::Only,
            Some(ArchivedParam::All) => Archived::Included,
        },
        updated_since: query.updated_since,
        health: query.health,
        reciprocity: query.reciprocity,
        one_off: query.one_off,
        sort,
        descending,
        after,
        limit: parse_limit(query.limit)?,
        ..ContactFilter::default()
    }
    .with_query(query.q.as_deref().unwrap_or_default());
    let today = auth.today(state.clock.now());
    let (rows, has_more) = contacts::list(&state.db, auth.user_id(), &filter, &today).await?;
    let next_cursor = rows
        .last()
        .filter(|_| has_more)
        .map(|(last, relationship)| next_cursor(sort, sort_name, last, relationship));
    Ok(web::Json(Page {
        data: rows
            .into_iter()
            .map(|(contact, relationship)| ContactResponse::new(contact, relationship))
            .collect::<Result<_, _>>()?,
        next_cursor,
        has_more,
    }))
}

/// Where a page of contacts sorted by `sort` (named `sort_name`) starts, from its cursor.
fn decode_after(cursor: &str, sort: SortKey, sort_name: &str) -> Result<After, ApiError> {
    let (value, id) = decode_keyset(cursor, sort_name)?;
    Ok(match sort {
        SortKey::FullName => After::FullName(value, id),
        SortKey::CreatedAt | SortKey::UpdatedAt => {
            let (at, id) = decode_position(cursor, sort_name)?;
            After::Instant(at, id)
        }
        SortKey::NextCheckInOn | SortKey::LastConversationAt => {
            let value = match value.as_str() {
                "" => None,
                number => Some(number.parse::<i64>().map_err(|_| {
                    ApiError::new(ProblemCode::InvalidCursor, "cursor is not valid")
                })?),
            };
            After::Derived(value, id)
        }
    })
}

/// The `tag` filters as stored: trimmed, lower-cased, each once; blank ones are ignored, like
/// empty ones.
fn normalized_tags(tags: &[String]) -> Vec<String> {
    let mut normalized: Vec<String> = tags
        .iter()
        .map(|tag| tag.trim().to_lowercase())
        .filter(|tag| !tag.is_empty())
        .collect();
    normalized.sort();
    normalized.dedup();
    normalized
}

/// The cursor of the page after the one ending with `last`.
fn next_cursor(
    sort: SortKey,
    sort_name: &str,
    last: &Contact,
    relationship: &Relationship,
) -> String {
    let value = match sort {
        SortKey::FullName => last.model.full_name.clone(),
        SortKey::CreatedAt => last.model.created_at.timestamp_micros().to_string(),
        SortKey::UpdatedAt => last.model.updated_at.timestamp_micros().to_string(),
        SortKey::NextCheckInOn | SortKey::LastConversationAt => sort
            .derived_value(relationship)
            .map(|v| v.to_string())
            .unwrap_or_default(),
    };
    encode_keyset(sort_name, &value, last.model.id)
}
