//! Versions of stored objects: the `ETag` of a representation and the `If-Match` check.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The strong entity tag of the object `id` as last written at `updated_at`, quoted.
pub fn etag(id: Uuid, updated_at: DateTime<Utc>) -> String {
    let digest = Sha256::digest(format!("{id}:{}", updated_at.timestamp_micros()));
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The tag of a representation that adds derived data to a stored version:
/// `"<version>-<digest of derived>"`. It changes when either does, so a conditional GET never
/// keeps a stale derived part; `Precondition::on_version` lets `If-Match` compare the stored
/// version alone.
pub fn with_derived(version: &str, derived: &impl serde::Serialize) -> String {
    let json = serde_json::to_vec(derived).unwrap_or_default();
    let digest = Sha256::digest(json);
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}\"", version.trim_end_matches('"'))
}

/// `updated_at` for a write at `now`: strictly after `previous`, so every write changes the
/// version even when two land in the same microsecond.
pub fn next_updated_at(previous: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    now.max(previous + Duration::microseconds(1))
}

/// An `If-Match` condition on a write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`: write unconditionally.
    #[default]
    None,
    /// `If-Match: *`: the object must exist.
    Any,
    /// The object's current tag must be one of these.
    OneOf(Vec<String>),
}

/// A write's `If-Match` names a version the object is no longer at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stale;

impl Precondition {
    /// Whether an object whose current tag is `current` may be written: the strong
    /// comparison `If-Match` requires (RFC 9110, section 13.1.1), so a weak tag never matches.
    pub fn allows(&self, current: &str) -> bool {
        match self {
            Self::None | Self::Any => true,
            Self::OneOf(tags) => tags.iter().any(|t| t == current),
        }
    }

    /// Whether the condition names `current`, weak tags included: the weak comparison of
    /// `If-None-Match` (RFC 9110, section 13.1.2).
    pub fn names_weakly(&self, current: &str) -> bool {
        match self {
            Self::None => false,
            Self::Any => true,
            Self::OneOf(tags) => tags
                .iter()
                .any(|t| t.strip_prefix("W/").unwrap_or(t) == current),
        }
    }

    /// `allows`, as an error when it does not (a write answers it 412).
    pub fn require(&self, current: &str) -> Result<(), Stale> {
        if self.allows(current) {
            Ok(())
        } else {
            Err(Stale)
        }
    }

    /// The same condition on the stored version only: each `"<version>-<digest>"` tag made by
    /// `with_derived` stands for `"<version>"`.
    pub fn on_version(&self) -> Self {
        match self {
            Self::OneOf(tags) => Self::OneOf(
                tags.iter()
                    .map(|t| match t.split_once('-') {
                        Some((version, _)) => format!("{version}\""),
                        None => t.clone(),
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Parses an `If-Match` / `If-None-Match` header value: `*`, or a comma-separated list of
    /// entity tags `"…"` / `W/"…"` (RFC 9110; weak tags keep their `W/`). `None` when the
    /// value is neither: the grammar of `openapi::ENTITY_TAGS_PATTERN`.
    pub fn parse(header: Option<&str>) -> Option<Self> {
        let Some(raw) = header else {
            return Some(Self::None);
        };
        let blank = |c: char| c == ' ' || c == '\t';
        let mut rest = raw.trim_matches(blank);
        if rest == "*" {
            return Some(Self::Any);
        }
        let mut tags = Vec::new();
        loop {
            let weak = rest.starts_with("W/");
            rest = rest.strip_prefix("W/").unwrap_or(rest);
            let inner = rest.strip_prefix('"')?;
            let end = inner.find('"')?;
            let opaque = &inner[..end];
            if !opaque
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
            {
                return None;
            }
            tags.push(format!("{}\"{opaque}\"", if weak { "W/" } else { "" }));
            rest = inner[end + 1..].trim_start_matches(blank);
            if rest.is_empty() {
                return Some(Self::OneOf(tags));
            }
            rest = rest.strip_prefix(',')?.trim_start_matches(blank);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_change_with_the_version() {
        let id = Uuid::now_v7();
        let t = Utc::now();
        assert_eq!(etag(id, t), etag(id, t));
        assert_ne!(etag(id, t), etag(id, t + Duration::microseconds(1)));
        assert_ne!(etag(id, t), etag(Uuid::now_v7(), t));
        assert!(etag(id, t).starts_with('"') && etag(id, t).ends_with('"'));
    }

    #[test]
    fn updated_at_always_moves_forward() {
        let t = Utc::now();
        assert_eq!(next_updated_at(t, t), t + Duration::microseconds(1));
        assert_eq!(
            next_updated_at(t, t + Duration::seconds(1)),
            t + Duration::seconds(1)
        );
        assert!(next_updated_at(t + Duration::seconds(1), t) > t + Duration::seconds(1));
    }

    #[test]
    fn derived_tags_change_with_either_part_and_match_their_version() {
        let id = Uuid::now_v7();
        let t = Utc::now();
        let version = etag(id, t);
        let tag = with_derived(&version, &1);
        assert_eq!(tag, with_derived(&version, &1));
        assert_ne!(tag, with_derived(&version, &2));
        assert_ne!(tag, with_derived(&etag(id, t + Duration::seconds(1)), &1));
        assert!(tag.starts_with(version.trim_end_matches('"')) && tag.ends_with('"'));
        let precondition = Precondition::parse(Some(&tag)).unwrap().on_version();
        assert!(precondition.allows(&version));
        assert!(!precondition.allows(&etag(id, t + Duration::seconds(1))));
        assert_eq!(Precondition::Any.on_version(), Precondition::Any);
    }

    #[test]
    fn preconditions_parse_lists_wildcards_and_weak_tags() {
        assert_eq!(Precondition::parse(None), Some(Precondition::None));
        assert_eq!(Precondition::parse(Some(" * ")), Some(Precondition::Any));
        let list = Precondition::parse(Some(r#""a", W/"b","c,d""#)).unwrap();
        assert!(list.allows(r#""a""#) && list.allows(r#""c,d""#));
        assert!(
            !list.allows(r#""b""#),
            "If-Match compares strongly: a weak tag never matches"
        );
        assert!(list.names_weakly(r#""b""#), "If-None-Match compares weakly");
        assert!(!list.allows(r#""c""#) && !list.names_weakly(r#""c""#));
    }

    #[test]
    fn anything_but_entity_tags_is_refused() {
        for bad in [
            "",
            " ",
            "null",
            "abc",
            r#""a"#,
            r#""a" "b""#,
            r#""a","#,
            r#""a b""#,
            "W/",
            "**",
        ] {
            assert_eq!(Precondition::parse(Some(bad)), None, "{bad:?}");
        }
    }
}
