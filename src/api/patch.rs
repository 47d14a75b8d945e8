//! JSON merge patch (RFC 7396) fields: absent leaves a field alone, `null` clears it.

use serde::{Deserialize, Deserializer};

use crate::domain::text::{Kind, optional_text};
use crate::error::FieldError;

/// One field of a merge-patch body. Use with `#[serde(default)]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Patch::Null, Patch::Value))
    }
}

impl<T> Patch<T> {
    /// A create request's optional field as a patch: given or absent.
    pub fn given(value: Option<T>) -> Self {
        value.map_or(Patch::Absent, Patch::Value)
    }

    /// Applies a patch to a nullable field: absent keeps it, `null` clears it.
    pub fn apply_to(self, target: &mut Option<T>) {
        match self {
            Patch::Absent => {}
            Patch::Null => *target = None,
            Patch::Value(value) => *target = Some(value),
        }
    }

    /// For fields that cannot be cleared: `null` is recorded as an error.
    pub fn not_null(self, field: &str, errors: &mut Vec<FieldError>) -> Option<T> {
        match self {
            Patch::Absent => None,
            Patch::Null => {
                errors.push(FieldError::new(field, "not_nullable", "cannot be null"));
                None
            }
            Patch::Value(value) => Some(value),
        }
    }
}

impl Patch<String> {
    /// Applies a patch of optional text `field` of `kind`: absent keeps it, `null` or blank
    /// clears it, anything else is at most `max` characters of that kind (an error otherwise).
    pub fn text_into(
        self,
        field: &str,
        (kind, max): (Kind, usize),
        target: &mut Option<String>,
        errors: &mut Vec<FieldError>,
    ) {
        match self {
            Patch::Value(value) => match optional_text(field, Some(&value), kind, max) {
                Ok(value) => *target = value,
                Err(e) => errors.push(e),
            },
            other => other.apply_to(target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        name: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_are_distinct() {
        let parse = |json: &str| serde_json::from_str::<Body>(json).unwrap().name;
        assert_eq!(parse("{}"), Patch::Absent);
        assert_eq!(parse(r#"{"name": null}"#), Patch::Null);
        assert_eq!(parse(r#"{"name": "Ada"}"#), Patch::Value("Ada".to_owned()));
    }

    #[test]
    fn not_null_reports_null() {
        let mut errors = Vec::new();
        assert_eq!(Patch::<String>::Null.not_null("name", &mut errors), None);
        assert_eq!(errors[0].code, "not_nullable");
    }
}
