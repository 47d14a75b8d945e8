use std::str::FromStr;

use crate::error::FieldError;

/// A lower-cased, syntactically valid email address of at most 254 characters, taken as sent
/// (no trimming), so that it means the same as the `email` format the API documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = raw.to_lowercase();
        if raw.chars().count() > 254 {
            return Err(FieldError::new(
                "email",
                "too_long",
                "must be at most 254 characters",
            ));
        }
        // The crate checks RFC 5322 syntax; a dot in the domain rules out `ada@localhost`.
        let valid = email_address::EmailAddress::from_str(&email)
            .is_ok_and(|parsed| parsed.domain().contains('.') && !parsed.domain().ends_with('.'));
        if valid {
            Ok(Self(email))
        } else {
            Err(FieldError::new(
                "email",
                "invalid_email",
                "must be an email address such as ada@example.com",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A password that meets the account rules; never logged (no `Debug` of its content).
pub struct Password(String);

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 128;

impl Password {
    /// 10–128 characters, not one character repeated, not the email address.
    pub fn parse(raw: &str, field: &str, email: Option<&str>) -> Result<Self, FieldError> {
        let chars = raw.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            return Err(FieldError::new(
                field,
                "too_short",
                format!("must be at least {PASSWORD_MIN_CHARS} characters"),
            ));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("must be at most {PASSWORD_MAX_CHARS} characters"),
            ));
        }
        let mut distinct = raw.chars();
        let first = distinct.next();
        if distinct.all(|c| Some(c) == first) {
            return Err(FieldError::new(
                field,
                "too_weak",
                "must not be one character repeated",
            ));
        }
        if email.is_some_and(|email| raw.trim().eq_ignore_ascii_case(email)) {
            return Err(FieldError::new(
                field,
                "too_weak",
                "must not be the email address",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A name of 1–200 characters as sent, not blank; stored trimmed (see `labels`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        crate::domain::text::name("display_name", raw, 200).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A real IANA time-zone name such as `Europe/Paris`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        chrono_tz::Tz::from_str(raw).map(Self).map_err(|_| {
            FieldError::new(
                "time_zone",
                "invalid_time_zone",
                "must be an IANA time-zone name such as Europe/Paris or UTC",
            )
        })
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        Self(chrono_tz::UTC)
    }
}

/// The schema of a time-zone field: every IANA name the server knows, as an enum.
pub struct TimeZoneName;

impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An IANA time-zone name."))
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())))
            .examples(["Europe/London"])
            .build()
            .into()
    }
}

impl utoipa::ToSchema for TimeZoneName {
    fn name() -> std::borrow::Cow<'static, str> {
        "TimeZoneName".into()
    }
}

/// Runs several field parsers and returns every failure, not just the first.
pub fn collect<T>(result: Result<T, FieldError>, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_taken_as_sent() {
        assert_eq!(
            Email::parse("Ada@Example.COM").unwrap().as_str(),
            "ada@example.com"
        );
        // Padding is not part of the `email` format, so it is refused rather than trimmed.
        assert_eq!(
            Email::parse(" ada@example.com").unwrap_err().code,
            "invalid_email"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().code,
                "invalid_email",
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long).unwrap_err().code, "too_long");
    }

    #[test]
    fn password_length_bounds_are_10_and_128_characters() {
        assert_eq!(
            Password::parse(&"ab".repeat(4), "password", None)
                .unwrap_err()
                .code,
            "too_short"
        );
        assert_eq!(
            Password::parse("abcdefghi", "password", None)
                .unwrap_err()
                .code,
            "too_short"
        );
        assert!(Password::parse("abcdefghij", "password", None).is_ok());
        assert!(Password::parse(&"ab".repeat(64), "password", None).is_ok());
        let long = format!("{}c", "ab".repeat(64));
        assert_eq!(
            Password::parse(&long, "password", None).unwrap_err().code,
            "too_long"
        );
        // Characters, not bytes: ten two-byte characters are enough.
        assert!(Password::parse("éèêëàâäôöü", "password", None).is_ok());
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert_eq!(
            Password::parse(&"a".repeat(12), "p", None)
                .unwrap_err()
                .code,
            "too_weak"
        );
        let same = Password::parse("Ada@Example.com", "p", Some("ada@example.com"));
        assert_eq!(same.unwrap_err().code, "too_weak");
    }

    #[test]
    fn password_debug_hides_the_password() {
        let password = Password::parse("correct horse", "password", None).unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada ").unwrap().into_inner(), "Ada");
        assert_eq!(DisplayName::parse("   ").unwrap_err().code, "required");
        assert!(DisplayName::parse(&"x".repeat(200)).is_ok());
        assert_eq!(
            DisplayName::parse(&"x".repeat(201)).unwrap_err().code,
            "too_long"
        );
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        assert_eq!(
            TimeZone::parse("Pacific/Auckland").unwrap().name(),
            "Pacific/Auckland"
        );
        assert_eq!(TimeZone::default().name(), "UTC");
        for bad in ["", "Mars/Olympus", "+02:00", "CEST"] {
            assert_eq!(
                TimeZone::parse(bad).unwrap_err().code,
                "invalid_time_zone",
                "{bad}"
            );
        }
    }
}
