//! Keyset pagination: `limit` (1–100, default 25) and an opaque `cursor`, answered with
//! `{data, next_cursor, has_more}`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ProblemCode};
use crate::services::PageRequest;

pub const DEFAULT_LIMIT: u64 = 25;
pub const MAX_LIMIT: u64 = 100;

/// Query parameters of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        let limit = parse_limit(self.limit)?;
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest { limit, after })
    }
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<Uuid, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| {
            ApiError::new(
                ProblemCode::InvalidCursor,
                "cursor is not one this API returned",
            )
        })
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// `last_id` is the key of the last item on this page.
    pub fn new(data: Vec<T>, has_more: bool, last_id: Option<Uuid>) -> Self {
        let next_cursor = if has_more {
            last_id.map(encode_cursor)
        } else {
            None
        };
        Self {
            data,
            next_cursor,
            has_more,
        }
    }
}

/// A list's query string, parsed with repeated keys (`tag=a&tag=b`) and unknown parameters
/// refused (400), so a typo never silently widens a filter. An empty value of a free-text
/// parameter (`q`, `company`, `tag`, `topic`, `cursor`) means the parameter is absent; an empty value of
/// any other parameter (an id, a date, a number, an enum) is 400, for the same reason.
pub struct ListQuery<T>(pub T);

/// Parameters whose empty value means "absent".
const FREE_TEXT: &[&str] = &["q", "company", "tag", "topic", "cursor"];

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for ListQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let mut pairs = Vec::new();
        for pair in req.query_string().split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !value.is_empty() && crate::domain::dates::is_temporal(key) {
                // Dates and instants to the API's one range and form (`domain::dates`).
                let decoded: String = url::form_urlencoded::parse(pair.as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                match crate::domain::dates::normalise(&decoded) {
                    Ok(normal) => {
                        let encoded: String =
                            url::form_urlencoded::byte_serialize(normal.as_bytes()).collect();
                        pairs.push(std::borrow::Cow::Owned(format!("{key}={encoded}")));
                    }
                    Err(refused) => {
                        let detail = format!("parameter `{key}` {}", crate::domain::dates::RULE);
                        return std::future::ready(Err(match refused {
                            crate::domain::dates::Refused::Range => {
                                ApiError::new(ProblemCode::InvalidRange, detail)
                            }
                            crate::domain::dates::Refused::Form => ApiError::invalid_query(detail),
                        }));
                    }
                }
            } else if !value.is_empty() {
                pairs.push(std::borrow::Cow::Borrowed(pair));
            } else if !FREE_TEXT.contains(&key) {
                return std::future::ready(Err(ApiError::invalid_query(format!(
                    "parameter `{key}` is empty"
                ))));
            }
        }
        // No text column can store U+0000.
        if pairs.iter().any(|pair| pair.contains("%00")) {
            return std::future::ready(Err(ApiError::invalid_query(
                "parameters must not contain the NUL character (U+0000)",
            )));
        }
        std::future::ready(
            serde_html_form::from_str(&pairs.join("&"))
                .map(ListQuery)
                .map_err(|e| ApiError::invalid_query(e.to_string())),
        )
    }
}

/// An opaque keyset cursor: the sort it belongs to, the sort value and the id of the last
/// item of the previous page.
pub fn encode_keyset(sort: &str, value: &str, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!([sort, value, id]).to_string())
}

/// Decodes a cursor made by `encode_keyset` for `sort`; anything else is `invalid_cursor`.
pub fn decode_keyset(cursor: &str, sort: &str) -> Result<(String, Uuid), ApiError> {
    let invalid = || {
        ApiError::new(
            ProblemCode::InvalidCursor,
            "cursor is not one this API returned for this sort",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let (s, value, id): (String, String, Uuid) =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    // The value reaches the database as a bound parameter: no text column takes U+0000.
    if s != sort || value.contains('\0') {
        return Err(invalid());
    }
    Ok((value, id))
}

/// `limit` as a page size: 1–100, default 25.
pub fn parse_limit(limit: Option<i64>) -> Result<u64, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as u64),
        Some(n) => Err(ApiError::invalid_query(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {n}"
        ))),
    }
}

/// Sort orders of offer and ask lists.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
pub enum CreatedSort {
    #[serde(rename = "created_at")]
    CreatedAt,
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
}

/// Where a page ends in a list ordered by an instant: the instant and the id.
pub type Position = (chrono::DateTime<chrono::Utc>, Uuid);

/// A cursor for a list ordered by an instant.
pub fn encode_position(sort: &str, (at, id): Position) -> String {
    encode_keyset(sort, &at.timestamp_micros().to_string(), id)
}

/// Decodes a cursor made by `encode_position` for `sort`.
pub fn decode_position(cursor: &str, sort: &str) -> Result<Position, ApiError> {
    let (value, id) = decode_keyset(cursor, sort)?;
    let at = value
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_micros)
        .filter(|at| crate::domain::dates::instant_in_range(*at))
        .ok_or_else(|| ApiError::new(ProblemCode::InvalidCursor, "cursor is not valid"))?;
    Ok((at, id))
}

/// The order and start of a list sorted by `created_at`.
pub struct CreatedKeyset {
    pub ascending: bool,
    pub name: &'static str,
    pub after: Option<Position>,
}

impl CreatedKeyset {
    pub fn parse(sort: Option<CreatedSort>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let ascending = matches!(sort, Some(CreatedSort::CreatedAt));
        let name = if ascending {
            "created_at"
        } else {
            "-created_at"
        };
        let after = cursor.map(|c| decode_position(c, name)).transpose()?;
        Ok(Self {
            ascending,
            name,
            after,
        })
    }

    /// The `next_cursor` after a page ending at `last`.
    pub fn next(&self, has_more: bool, last: Option<Position>) -> Option<String> {
        last.filter(|_| has_more)
            .map(|position| encode_position(self.name, position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<i64>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            limit,
            cursor: cursor.map(str::to_owned),
        }
    }

    #[test]
    fn limit_defaults_to_25_and_must_be_1_to_100() {
        assert_eq!(query(None, None).parse().unwrap().limit, 25);
        assert_eq!(query(Some(1), None).parse().unwrap().limit, 1);
        assert_eq!(query(Some(100), None).parse().unwrap().limit, 100);
        for bad in [0, 101, -1] {
            let err = query(Some(bad), None).parse().unwrap_err();
            assert_eq!(err.code(), ProblemCode::InvalidQuery, "{bad}");
        }
    }

    #[test]
    fn keyset_cursors_belong_to_their_sort() {
        let id = Uuid::now_v7();
        let cursor = encode_keyset("full_name", "Ada", id);
        assert_eq!(
            decode_keyset(&cursor, "full_name").unwrap(),
            ("Ada".to_owned(), id)
        );
        assert_eq!(
            decode_keyset(&cursor, "-full_name").unwrap_err().code(),
            ProblemCode::InvalidCursor
        );
        assert!(decode_keyset("bm9wZQ", "full_name").is_err());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_invalid_cursor() {
        let id = Uuid::now_v7();
        let parsed = query(None, Some(&encode_cursor(id))).parse().unwrap();
        assert_eq!(parsed.after, Some(id));
        for bad in ["%%%", "abc", ""] {
            let err = query(None, Some(bad)).parse().unwrap_err();
            assert_eq!(err.code(), ProblemCode::InvalidCursor, "{bad:?}");
        }
    }
}
