//! Tags, interests and topics share one rule; links are http(s) URLs.
//!
//! Each rule is written so that the JSON Schema the API publishes for it says exactly the same:
//! lengths are counted on the text as sent, and a label is a name in the sense of
//! `domain::text` (no control character, at least one visible character).

use utoipa::ToSchema;

use crate::domain::text::{self, Kind};
use crate::error::FieldError;

/// A string schema with the given limits, for the named schemas below.
fn string_schema(
    description: &str,
    min_length: Option<usize>,
    max_length: usize,
    pattern: &str,
    example: &str,
) -> utoipa::openapi::ObjectBuilder {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(description))
        .min_length(min_length)
        .max_length(Some(max_length))
        .pattern(Some(pattern))
        .examples([example])
}

/// The schema of a tag, interest or topic as sent: 1–40 characters with a visible one. Stored trimmed
/// and lower-cased.
pub struct Label;

impl utoipa::PartialSchema for Label {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            "1–40 characters, with a visible one and no control character; stored trimmed and \
             lower-cased.",
            Some(1),
            40,
            &Kind::Name.pattern(),
            "mentor",
        )
        .format(Some(utoipa::openapi::SchemaFormat::Custom(
            Kind::Name.format().to_owned(),
        )))
        .build()
        .into()
    }
}

impl ToSchema for Label {}

/// The schema of a link: an http or https URL of at most 2048 characters, without spaces or
/// control characters.
pub struct Link;

impl utoipa::PartialSchema for Link {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            "An http:// or https:// URL of at most 2048 characters, without spaces or control \
             characters.",
            None,
            2048,
            "^https?://[^\\x00-\\x20\\x7f]+$",
            "https://www.linkedin.com/in/grace",
        )
        .build()
        .into()
    }
}

impl ToSchema for Link {}

/// Trimmed, lower-cased, 1–40 characters as sent, de-duplicated and sorted; at most `max`
/// as sent.
pub fn normalize(field: &str, raw: &[String], max: usize) -> Result<Vec<String>, FieldError> {
    if raw.len() > max {
        return Err(FieldError::new(
            field,
            "too_many",
            format!("at most {max} are allowed"),
        ));
    }
    let mut labels: Vec<String> = Vec::with_capacity(raw.len());
    for (i, label) in raw.iter().enumerate() {
        let here = format!("{field}[{i}]");
        let label = text::name(&here, label, 40)
            .map_err(|e| match e.code.as_str() {
                "invalid_character" => e,
                _ => FieldError::new(
                    &here,
                    "invalid_length",
                    "must be 1–40 characters with a visible one",
                ),
            })?
            .to_lowercase();
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels.sort();
    Ok(labels)
}

/// An `http://` or `https://` URL of at most 2048 characters with no space or control
/// character: the `Link` schema's pattern, checked by hand.
pub fn http_url(field: &str, raw: &str) -> Result<String, FieldError> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"));
    let valid = raw.chars().count() <= 2048
        && rest
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c > ' ' && c != '\u{7f}'));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "invalid_url",
            "must be an http:// or https:// URL of at most 2048 characters, without spaces",
        ))
    }
}

/// Lower-cased words (letters and digits) of `parts`, each preceded by a space, for
/// word-prefix search with `LIKE '% term%'`.
pub fn search_text<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let mut text = String::new();
    for part in parts.into_iter().flatten() {
        for word in part
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            text.push(' ');
            text.push_str(&word.to_lowercase());
        }
    }
    text
}

/// The search terms of a `q` parameter, normalised like `search_text`.
pub fn search_terms(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn labels_are_trimmed_lower_cased_deduplicated_and_sorted() {
        let labels = normalize("tags", &strings(&[" Rust ", "rust", "AI"]), 20).unwrap();
        assert_eq!(labels, ["ai", "rust"]);
    }

    #[test]
    fn labels_are_bounded_in_length_and_count() {
        assert_eq!(
            normalize("tags", &strings(&["ok", " "]), 20)
                .unwrap_err()
                .field,
            "tags[1]"
        );
        assert!(normalize("tags", &strings(&[&"x".repeat(40)]), 20).is_ok());
        assert_eq!(
            normalize("tags", &strings(&[&"x".repeat(41)]), 20)
                .unwrap_err()
                .code,
            "invalid_length"
        );
        // Lengths are counted as sent: 40 characters and padding are 41.
        assert!(normalize("tags", &strings(&[&format!(" {}", "x".repeat(40))]), 20).is_err());
        assert!(
            normalize("tags", &strings(&["\u{a0}", "\u{200b}"]), 20).is_err(),
            "invisible"
        );
        assert_eq!(
            normalize("tags", &strings(&["a\u{1b}[31m"]), 20)
                .unwrap_err()
                .code,
            "invalid_character"
        );
        // Counts too: 21 duplicates are 21 labels sent.
        assert!(normalize("tags", &vec!["a".to_owned(); 21], 20).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize("tags", &many, 20).unwrap_err().code, "too_many");
        assert!(normalize("tags", &many[..20], 20).is_ok());
    }

    #[test]
    fn only_http_and_https_urls_are_links() {
        assert!(http_url("links[0]", "https://www.linkedin.com/in/ada").is_ok());
        assert!(http_url("links[0]", "http://example.com").is_ok());
        for bad in [
            "ftp://example.com",
            "javascript:alert(1)",
            "example.com",
            "https://",
            " https://example.com",
            "https://example.com/a b",
            "https://example.com/\u{7f}",
        ] {
            assert!(http_url("links[0]", bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(http_url("links[0]", &long).is_err());
    }

    #[test]
    fn search_text_splits_words_and_terms_match_its_prefixes() {
        let text = search_text([Some("Ada Lovelace"), None, Some("ada@Example.com")]);
        assert_eq!(text, " ada lovelace ada example com");
        assert_eq!(search_terms("  LOVE, ex "), ["love", "ex"]);
        assert!(
            search_terms("love")
                .iter()
                .all(|t| text.contains(&format!(" {t}")))
        );
    }
}
