//! Parsing a JSON body into a request type: syntax, duplicate keys, dates, whole numbers and
//! the wrong shape each answered as a problem naming the field.

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::domain::dates;
use crate::error::{ApiError, FieldError, ProblemCode};

/// Syntax errors and duplicate keys are 400 with the position; well-formed JSON of the wrong
/// shape is 422 naming the field, and a body that is not an object is 422 too. Nesting deeper
/// than 128 levels is a syntax error, never a stack overflow.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let Strict(mut value) = serde_json::from_slice(body).map_err(|err| syntax_error(&err, body))?;
    if !value.is_object() {
        return Err(ApiError::validation(vec![FieldError::new(
            "",
            "invalid_type",
            format!("the body must be a JSON object, not {}", kind_of(&value)),
        )]));
    }
    whole_numbers_as_integers(&mut value);
    normalise_dates(&mut value, "")?;
    if let Some(field) = nul_character(&value, String::new()) {
        return Err(ApiError::validation(vec![FieldError::new(
            field,
            "invalid_character",
            "must not contain the NUL character (U+0000)",
        )]));
    }
    serde_path_to_error::deserialize(value)
        .map_err(|err| ApiError::validation(vec![field_error(&err)]))
}

/// Holds every date or instant of the body to the API's one range and form (see
/// `domain::dates`): 422 naming the field otherwise.
fn normalise_dates(value: &mut serde_json::Value, path: &str) -> Result<(), ApiError> {
    use serde_json::Value;
    if let Value::Object(fields) = value {
        for (key, item) in fields.iter_mut() {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match item {
                Value::String(text) if dates::is_temporal(key) => {
                    *text = dates::normalise(text).map_err(|_| {
                        ApiError::validation(vec![FieldError::new(
                            here,
                            "invalid_date",
                            dates::RULE,
                        )])
                    })?;
                }
                Value::Object(_) => normalise_dates(item, &here)?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON value that refuses an object with the same key twice: serde_json keeps the last one
/// silently, which lets a body say two things at once.
struct Strict(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if fields.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key `{key}`"
                )));
            }
            fields.insert(key, value);
        }
        Ok(fields.into())
    }
}

/// serde names Rust types in its messages (`expected u8`, `expected struct Nested`); a client
/// knows JSON's.
fn in_json_terms(message: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut parts = message.split(' ').peekable();
    while let Some(word) = parts.next() {
        let (bare, tail) = match word.find(|c: char| !c.is_ascii_alphanumeric()) {
            Some(i) => (&word[..i], &word[i..]),
            None => (word, ""),
        };
        let json = match bare {
            "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
                Some("an integer")
            }
            "f32" | "f64" => Some("a number"),
            "struct" | "enum" => {
                // The type's name follows: drop it.
                if let Some(name) = parts.next() {
                    let rest =
                        name.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
                    words.push(format!(
                        "{}{rest}",
                        if bare == "struct" {
                            "a JSON object"
                        } else {
                            "one of the documented values"
                        }
                    ));
                }
                continue;
            }
            _ => None,
        };
        match json {
            Some(json) => words.push(format!("{json}{tail}")),
            None => words.push(word.to_owned()),
        }
    }
    words.join(" ")
}

/// The path of the first string (or key) holding U+0000, which no text column can store.
fn nul_character(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_character(item, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(here)
            } else {
                nul_character(item, here)
            }
        }),
        _ => None,
    }
}

/// JSON Schema counts `96.0` as an integer; so does this API: a number with no fractional part
/// becomes an integer before the body meets the integer fields.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *n = serde_json::Number::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn syntax_error(inner: &serde_json::Error, body: &[u8]) -> ApiError {
    match inner.classify() {
        Category::Eof if body.iter().all(u8::is_ascii_whitespace) => ApiError::new(
            ProblemCode::MalformedJson,
            "the body is empty; expected a JSON object",
        ),
        _ => ApiError::new(
            ProblemCode::MalformedJson,
            format!(
                "invalid JSON at line {} column {}: {}",
                inner.line(),
                inner.column(),
                strip_position(&inner.to_string())
            ),
        ),
    }
}

fn field_error(err: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let message = strip_position(&err.inner().to_string());
    let path = err.path().to_string();
    if let Some(name) = backticked(&message, "unknown field `") {
        let field = if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            path
        };
        if READ_ONLY_FIELDS.contains(&name) {
            return FieldError::new(
                field,
                "read_only",
                "is set by the server and cannot be written",
            );
        }
        return FieldError::new(field, "unknown_field", "is not a field of this resource");
    }
    if let Some(name) = backticked(&message, "missing field `") {
        let field = if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "required", "is required");
    }
    let field = if path == "." { String::new() } else { path };
    FieldError::new(field, "invalid_type", in_json_terms(&message))
}

/// Fields every resource has and no client writes: reported as `read_only`, not `unknown_field`.
const READ_ONLY_FIELDS: &[&str] = &["id", "owner_id", "created_at", "updated_at", "relationship"];

fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// serde_json appends " at line L column C"; the problem states the position itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;

    use actix_web::ResponseError;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nested {
        #[allow(dead_code)]
        count: u8,
    }

    fn problem(err: ApiError) -> (StatusCode, Vec<FieldError>, ProblemCode) {
        let status = err.status_code();
        match err {
            ApiError::Problem { code, errors, .. } => (status, errors, code),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_422_and_never_mapped_by_position() {
        for body in [&br#"["x", null]"#[..], b"[]", b"\"x\"", b"3", b"null"] {
            let (status, errors, _) = problem(parse::<Body>(body).unwrap_err());
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                errors[0]
                    .message
                    .starts_with("the body must be a JSON object")
            );
        }
    }

    #[test]
    fn duplicate_keys_are_400_naming_the_key_at_any_depth() {
        for body in [
            &br#"{"name": "a", "name": "b"}"#[..],
            br#"{"name": "a", "nested": {"count": 1, "count": 2}}"#,
        ] {
            let err = parse::<Body>(body).unwrap_err();
            let detail = err.to_string();
            let (status, _, code) = problem(err);
            assert_eq!(
                (status, code),
                (StatusCode::BAD_REQUEST, ProblemCode::MalformedJson)
            );
            assert!(detail.contains("duplicate key `"), "{detail}");
        }
    }

    #[test]
    fn messages_name_json_types_not_rust_types() {
        let (_, errors, _) =
            problem(parse::<Body>(br#"{"name": "a", "nested": "x"}"#).unwrap_err());
        assert!(
            !errors[0].message.contains("Nested"),
            "{}",
            errors[0].message
        );
        assert!(
            errors[0].message.contains("a JSON object"),
            "{}",
            errors[0].message
        );
        let (_, errors, _) =
            problem(parse::<Body>(br#"{"name": "a", "nested": {"count": "many"}}"#).unwrap_err());
        assert!(
            errors[0].message.contains("an integer"),
            "{}",
            errors[0].message
        );
        assert!(!errors[0].message.contains("u8"), "{}", errors[0].message);
    }

    #[test]
    fn syntax_errors_are_400_with_position() {
        let err = parse::<Body>(br#"{"name": "x",}"#).unwrap_err();
        let detail = err.to_string();
        let (status, _, code) = problem(err);
        assert_eq!(
            (status, code),
            (StatusCode::BAD_REQUEST, ProblemCode::MalformedJson)
        );
        assert!(detail.contains("line 1 column 14"), "{detail}");
    }

    #[test]
    fn empty_body_is_400() {
        let (status, _, _) = problem(parse::<Body>(b"").unwrap_err());
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn trailing_garbage_is_400() {
        let (status, _, _) = problem(parse::<Body>(br#"{"name": "x"} {}"#).unwrap_err());
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn unknown_fields_are_422_naming_the_field() {
        let (status, errors, _) =
            problem(parse::<Body>(br#"{"name": "x", "nmae": "y"}"#).unwrap_err());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(errors[0].field, "nmae");
        assert_eq!(errors[0].code, "unknown_field");
        let (_, errors, _) =
            problem(parse::<Body>(br#"{"name": "x", "owner_id": "y"}"#).unwrap_err());
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("owner_id", "read_only")
        );
    }

    #[test]
    fn missing_and_mistyped_fields_are_422_with_their_path() {
        let (_, errors, _) = problem(parse::<Body>(br#"{}"#).unwrap_err());
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("name", "required")
        );
        let (_, errors, _) =
            problem(parse::<Body>(br#"{"name": "x", "nested": {"count": 300}}"#).unwrap_err());
        assert_eq!(errors[0].field, "nested.count");
        assert_eq!(errors[0].code, "invalid_type");
    }
}
