//! Free text: which characters it may hold, how it is trimmed, and how long it may be.
//!
//! Three kinds, each a named `format` of the published schemas with the pattern that says the
//! same as the check here (see `openapi::text_patterns`), built from the same tables:
//! - a **name** (a contact's full name, a title, a summary, a tag) has no control character
//!   and at least one visible character;
//! - a **line** (a company, a phone number) has no control character;
//! - a **paragraph** (notes, details) has no control character but tab, line feed and
//!   carriage return.
//!
//! "Control" is Unicode's general category Cc (U+0000–U+001F, U+007F–U+009F): ANSI escapes
//! and NUL among them. "Visible" means none of: a control, Unicode white space, a format
//! character (bidi controls, zero-width spaces, joiners) or another code point Unicode says to
//! ignore when it cannot be shown (fillers, variation selectors, the blank Braille pattern),
//! all within the Basic Multilingual Plane, where every regex dialect spells them alike. Text
//! made only of such characters looks empty wherever it is shown, so it is no name.
//! Lengths count characters as sent; trimming removes ASCII white space only.

use crate::error::FieldError;

/// The kinds of free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Name,
    Line,
    Paragraph,
}

impl Kind {
    /// The `format` naming the kind in the published schemas.
    pub const fn format(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Line => "line",
            Self::Paragraph => "paragraph",
        }
    }

    /// The kind a schema `format` names.
    pub fn from_format(format: &str) -> Option<Self> {
        [Self::Name, Self::Line, Self::Paragraph]
            .into_iter()
            .find(|kind| kind.format() == format)
    }

    /// The control characters the kind keeps.
    const fn keeps(self) -> &'static [char] {
        match self {
            Self::Paragraph => &['\t', '\n', '\r'],
            Self::Name | Self::Line => &[],
        }
    }

    /// The ECMA-262 pattern that matches exactly the text this kind accepts (lengths aside).
    pub fn pattern(self) -> String {
        let allowed = format!("[^{}]", class(&refused_controls(self)));
        match self {
            Self::Name => {
                let mut hidden = refused_controls(self);
                hidden.extend_from_slice(WHITE_SPACE);
                hidden.extend_from_slice(IGNORABLE);
                format!("^{allowed}*[^{}]{allowed}*$", class(&hidden))
            }
            Self::Line | Self::Paragraph => format!("^{allowed}*$"),
        }
    }
}

/// The pattern of text with no rule but the NUL character's: passwords and tokens.
pub const NO_NUL_PATTERN: &str = "^[^\\u0000]*$";

/// Unicode's White_Space characters outside Cc, all in the BMP.
const WHITE_SPACE: &[(char, char)] = &[
    (' ', ' '),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// Format characters (Cf) and the other default-ignorable code points of the BMP, and the
/// blank Braille pattern: characters that show nothing.
const IGNORABLE: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{34f}', '\u{34f}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{206f}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{fe00}', '\u{fe0f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
    ('\u{fff0}', '\u{fffb}'),
];

/// Unicode's Cc.
const CONTROLS: &[(char, char)] = &[('\0', '\u{1f}'), ('\u{7f}', '\u{9f}')];

fn within(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// The controls `kind` refuses, as ranges.
fn refused_controls(kind: Kind) -> Vec<(char, char)> {
    let mut ranges = Vec::new();
    for &(low, high) in CONTROLS {
        let mut start = low;
        for c in low..=high {
            if kind.keeps().contains(&c) {
                if start < c {
                    ranges.push((start, char::from_u32(c as u32 - 1).unwrap_or(start)));
                }
                start = char::from_u32(c as u32 + 1).unwrap_or(c);
            }
        }
        if start <= high {
            ranges.push((start, high));
        }
    }
    ranges
}

/// The ranges as the inside of a regex character class, in `\uXXXX` escapes.
fn class(ranges: &[(char, char)]) -> String {
    ranges
        .iter()
        .map(|&(low, high)| {
            if low == high {
                format!("\\u{:04x}", low as u32)
            } else {
                format!("\\u{:04x}-\\u{:04x}", low as u32, high as u32)
            }
        })
        .collect()
}

/// Whether `c` shows something.
pub fn is_visible(c: char) -> bool {
    !c.is_control() && !within(WHITE_SPACE, c) && !within(IGNORABLE, c)
}

/// What `trim` removes: ASCII white space.
fn is_blank_char(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// `raw` without leading and trailing ASCII white space.
pub fn trim(raw: &str) -> &str {
    raw.trim_matches(is_blank_char)
}

/// Refuses a control character `kind` does not keep.
fn characters(field: &str, raw: &str, kind: Kind) -> Result<(), FieldError> {
    match raw
        .chars()
        .find(|&c| c.is_control() && !kind.keeps().contains(&c))
    {
        Some(c) => Err(FieldError::new(
            field,
            "invalid_character",
            format!(
                "must not contain the control character U+{:04X}{}",
                c as u32,
                if kind == Kind::Paragraph {
                    " (tab, line feed and carriage return are allowed)"
                } else {
                    ""
                }
            ),
        )),
        None => Ok(()),
    }
}

/// Optional free text of at most `max` characters as sent: trimmed, blank means absent.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    kind: Kind,
    max: usize,
) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ));
    }
    characters(field, raw, kind)?;
    Ok(Some(trim(raw)).filter(|t| !t.is_empty()).map(str::to_owned))
}

/// A name: at most `max` characters as sent, no control character, at least one visible
/// character; stored trimmed.
pub fn name(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let text = optional_text(field, Some(raw), Kind::Name, max)?;
    match text {
        Some(text) if text.chars().any(is_visible) => Ok(text),
        _ => Err(FieldError::new(
            field,
            "required",
            "must not be blank: it needs a visible character",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(kind: Kind, text: &str) -> bool {
        match kind {
            Kind::Name => name("f", text, 1000).is_ok(),
            _ => optional_text("f", Some(text), kind, 1000).is_ok(),
        }
    }

    #[test]
    fn names_need_a_visible_character_and_no_control() {
        for good in ["Ada", " Ada ", "Grace\u{a0}Hopper", "李", "x\u{200b}", "🙂"] {
            assert!(name("full_name", good, 200).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "   ",
            "\u{202e}",
            "\u{200b}\u{200b}",
            "\u{a0}",
            "\u{3164}",
            "\u{2800}",
            "\u{feff} ",
        ] {
            assert_eq!(name("full_name", bad, 200).unwrap_err().code, "required");
        }
        for bad in [
            "\u{1b}[31mAda",
            "Ada\n",
            "Ada\tLovelace",
            "\u{85}Ada",
            "A\0",
        ] {
            assert_eq!(
                name("full_name", bad, 200).unwrap_err().code,
                "invalid_character",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn paragraphs_keep_tabs_and_line_breaks_and_lines_keep_none() {
        let text = "first\r\n\tsecond";
        assert_eq!(
            optional_text("notes", Some(text), Kind::Paragraph, 100).unwrap(),
            Some(text.to_owned())
        );
        assert!(optional_text("company", Some(text), Kind::Line, 100).is_err());
        for bad in ["\u{1b}[2J", "a\u{7}", "a\u{c}b", "a\u{9b}b"] {
            assert!(optional_text("notes", Some(bad), Kind::Paragraph, 100).is_err());
        }
    }

    #[test]
    fn each_pattern_accepts_exactly_what_its_check_accepts() {
        let mut samples: Vec<String> = ["", " ", "Ada", " Ada\t", "a\nb", "a\r\nb", "\u{ad}x"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        // Every special character alone and beside a visible one.
        let specials = CONTROLS
            .iter()
            .chain(WHITE_SPACE)
            .chain(IGNORABLE)
            .flat_map(|&(low, high)| low..=high);
        for c in specials.chain(['a', 'é', '\u{2065}', '\u{fffc}', '\u{e0001}']) {
            samples.push(c.to_string());
            samples.push(format!("a{c}"));
            samples.push(format!("{c} {c}"));
        }
        for kind in [Kind::Name, Kind::Line, Kind::Paragraph] {
            let pattern = regex::Regex::new(&kind.pattern()).expect("a valid pattern");
            for sample in &samples {
                assert_eq!(
                    pattern.is_match(sample),
                    accepted(kind, sample),
                    "{kind:?} {sample:?}: pattern {}",
                    kind.pattern()
                );
            }
        }
    }

    #[test]
    fn formats_name_their_kinds() {
        for kind in [Kind::Name, Kind::Line, Kind::Paragraph] {
            assert_eq!(Kind::from_format(kind.format()), Some(kind));
        }
        assert_eq!(Kind::from_format("email"), None);
    }
}
