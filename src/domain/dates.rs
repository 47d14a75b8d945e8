//! The one range of dates and instants the whole API accepts, 0001-01-01 to 9999-12-31 (RFC
//! 3339's four-digit years), in one form on both backends: dates as `YYYY-MM-DD`, instants
//! as RFC 3339 kept to the microsecond (what PostgreSQL stores), a leap second held at the
//! last microsecond of its minute.
//!
//! Every date or instant of a request is a field named by the API's convention (`…_at`,
//! `…_on`, `…_since`, `from`, `to`), so the rule is applied to them by name, before any
//! request reaches a handler, let alone the database.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};

pub const FIRST_YEAR: i32 = 1;
pub const LAST_YEAR: i32 = 9999;

/// What is wrong with a date or instant as sent.
pub const RULE: &str = "must be a date (YYYY-MM-DD) or an RFC 3339 instant \
    (YYYY-MM-DDTHH:MM:SSZ) between 0001-01-01 and 9999-12-31";

/// Why a date or instant is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not a date or an instant in the API's form.
    Form,
    /// A date or instant, outside 0001-01-01 to 9999-12-31.
    Range,
}

/// Whether a field of this name holds a date or an instant.
pub fn is_temporal(field: &str) -> bool {
    field.ends_with("_at")
        || field.ends_with("_on")
        || field.ends_with("_since")
        || matches!(field, "from" | "to")
}

fn in_range(year: i32) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&year)
}

/// Whether an instant lies in the API's range.
pub fn instant_in_range(at: DateTime<Utc>) -> bool {
    in_range(at.year())
}

/// `value` as the API keeps it: a date unchanged; an instant in UTC to the microsecond.
pub fn normalise(value: &str) -> Result<String, Refused> {
    let digits = |range: std::ops::Range<usize>| {
        value
            .get(range)
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
    };
    let four_digit_year = digits(0..4)
        && value.get(4..5) == Some("-")
        && digits(5..7)
        && value.get(7..8) == Some("-")
        && digits(8..10);
    if !four_digit_year {
        return Err(wider_form(value));
    }
    let checked = |year: i32| {
        if in_range(year) {
            Ok(())
        } else {
            Err(Refused::Range)
        }
    };
    if value.len() == 10 {
        let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| Refused::Form)?;
        checked(date.year())?;
        return Ok(value.to_owned());
    }
    if !matches!(value.as_bytes().get(10), Some(b'T' | b't')) {
        return Err(Refused::Form);
    }
    let at = DateTime::parse_from_rfc3339(value)
        .map_err(|_| Refused::Form)?
        .to_utc();
    checked(at.year())?;
    // chrono keeps a leap second as nanoseconds past 999,999,999.
    let micros = (at.nanosecond() / 1_000).min(999_999);
    let at = at.with_nanosecond(micros * 1_000).ok_or(Refused::Form)?;
    Ok(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Why a value not in the four-digit form is refused: a date or instant chrono reads in a
/// wider form (a sign, more digits) is out of range; anything else is not one at all.
fn wider_form(value: &str) -> Refused {
    let year = value.parse::<NaiveDate>().map(|d| d.year()).or_else(|_| {
        value
            .parse::<DateTime<chrono::FixedOffset>>()
            .map(|d| d.to_utc().year())
    });
    match year {
        Ok(year) if !in_range(year) => Refused::Range,
        _ => Refused::Form,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_fields_are_named_by_convention() {
        for field in [
            "occurred_at",
            "met_on",
            "updated_since",
            "from",
            "to",
            "next_step_due_on",
        ] {
            assert!(is_temporal(field), "{field}");
        }
        for field in ["full_name", "notes", "topic", "token", "atlas"] {
            assert!(!is_temporal(field), "{field}");
        }
    }

    #[test]
    fn dates_and_instants_keep_to_four_digit_years_and_microseconds() {
        assert_eq!(normalise("2026-03-04").unwrap(), "2026-03-04");
        assert_eq!(normalise("0001-01-01").unwrap(), "0001-01-01");
        assert_eq!(normalise("9999-12-31").unwrap(), "9999-12-31");
        assert_eq!(
            normalise("2026-03-04T10:00:00Z").unwrap(),
            "2026-03-04T10:00:00Z"
        );
        assert_eq!(
            normalise("2026-03-04T12:00:00+02:00").unwrap(),
            "2026-03-04T10:00:00Z"
        );
        assert_eq!(
            normalise("2026-03-04T10:00:00.123456789Z").unwrap(),
            "2026-03-04T10:00:00.123456Z",
            "nanoseconds are cut to microseconds, as PostgreSQL keeps them"
        );
        assert_eq!(
            normalise("2026-12-31T23:59:60Z").unwrap(),
            "2026-12-31T23:59:59.999999Z",
            "a leap second stays in its minute"
        );
        for (bad, why) in [
            ("1-1-1", Refused::Form),
            ("2026-3-4", Refused::Form),
            ("2026-02-30", Refused::Form),
            ("2026-03-04 10:00:00Z", Refused::Form),
            ("yesterday", Refused::Form),
            ("", Refused::Form),
            ("+200000-01-01", Refused::Range),
            ("-262143-01-01", Refused::Range),
            ("0000-12-31", Refused::Range),
            ("0001-01-01T00:00:00+01:00", Refused::Range),
            ("9999-12-31T23:00:00-02:00", Refused::Range),
        ] {
            assert_eq!(normalise(bad), Err(why), "{bad:?}");
        }
    }
}
