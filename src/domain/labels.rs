//! Tags, interests and topics share one rule; links are http(s) URLs.

use crate::error::FieldError;

/// Trimmed, lower-cased, 1–40 characters, de-duplicated and sorted, at most `max`.
pub fn normalize(field: &str, raw: &[String], max: usize) -> Result<Vec<String>, FieldError> {
    let mut labels: Vec<String> = Vec::with_capacity(raw.len());
    for (i, label) in raw.iter().enumerate() {
        let label = label.trim().to_lowercase();
        let length = label.chars().count();
        if length == 0 || length > 40 {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                "invalid_length",
                "must be 1–40 characters",
            ));
        }
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels.sort();
    if labels.len() > max {
        return Err(FieldError::new(
            field,
            "too_many",
            format!("at most {max} are allowed"),
        ));
    }
    Ok(labels)
}

/// An absolute http or https URL of at most 2048 characters.
pub fn http_url(field: &str, raw: &str) -> Result<String, FieldError> {
    let raw = raw.trim();
    let valid = raw.len() <= 2048
        && url::Url::parse(raw)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "invalid_url",
            "must be an http or https URL of at most 2048 characters",
        ))
    }
}

/// Optional free text: trimmed, empty means absent, at most `max` characters.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// Required text: trimmed, 1–`max` characters.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    match optional_text(field, Some(raw), max)? {
        Some(text) => Ok(text),
        None => Err(FieldError::new(field, "required", "must not be blank")),
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
