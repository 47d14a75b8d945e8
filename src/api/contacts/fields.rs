//! What a client writes about a contact: the create and patch bodies and their validation.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::patch::Patch;
use crate::domain::account::Email;
use crate::domain::labels::{Label, Link, http_url, normalize};
use crate::domain::relationship::MAX_CADENCE_DAYS;
use crate::domain::text::{Kind, name};
use crate::error::{ApiError, FieldError};
use crate::services::contacts::ContactFields;

use super::{MAX_LABELS, MAX_LINKS, MAX_NOTES};

/// A new contact. Only `full_name` is required.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "full_name": "Grace Hopper", "company": "Navy Labs", "email": "grace@example.com",
    "how_we_met": "Panel at PyCon", "met_on": "2026-05-14", "tags": ["compilers"],
    "interests": ["teaching"], "cadence_days": 60
}))]
pub(super) struct CreateContactRequest {
    /// 1–200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, format = "name")]
    full_name: String,
    #[schema(max_length = 200, format = "line")]
    preferred_name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    #[schema(max_length = 50, format = "line")]
    phone: Option<String>,
    #[schema(max_length = 200, format = "line")]
    company: Option<String>,
    #[schema(max_length = 200, format = "line")]
    title: Option<String>,
    #[schema(max_length = 200, format = "line")]
    location: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Link>, max_items = 10)]
    links: Vec<String>,
    #[schema(max_length = 20000, format = "paragraph")]
    how_we_met: Option<String>,
    met_on: Option<NaiveDate>,
    introduced_by_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Vec<Label>, max_items = 20)]
    tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Label>, max_items = 20)]
    interests: Vec<String>,
    /// Up to 20,000 characters.
    #[schema(max_length = 20000, format = "paragraph")]
    notes: Option<String>,
    #[schema(minimum = 1, maximum = 730)]
    cadence_days: Option<i32>,
}

/// A merge patch of a contact: absent fields stay, `null` clears (except `full_name`).
/// Optional text that is blank (ASCII whitespace only) is stored as null.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "CTO", "tags": ["compilers", "mentor"], "archived_at": null}))]
pub(super) struct UpdateContactRequest {
    /// 1–200 characters, not blank. Cannot be null.
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 200, format = "name")]
    full_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200, format = "line")]
    preferred_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 50, format = "line")]
    phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200, format = "line")]
    company: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200, format = "line")]
    title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200, format = "line")]
    location: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Link>>, max_items = 10)]
    links: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20000, format = "paragraph")]
    how_we_met: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    met_on: Patch<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    introduced_by_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Label>>, max_items = 20)]
    tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Label>>, max_items = 20)]
    interests: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20000, format = "paragraph")]
    notes: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 730)]
    cadence_days: Patch<i32>,
    /// Set to archive, null to restore.
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    archived_at: Patch<DateTime<Utc>>,
}

impl From<CreateContactRequest> for UpdateContactRequest {
    fn from(c: CreateContactRequest) -> Self {
        Self {
            full_name: Patch::Value(c.full_name),
            preferred_name: Patch::given(c.preferred_name),
            email: Patch::given(c.email),
            phone: Patch::given(c.phone),
            company: Patch::given(c.company),
            title: Patch::given(c.title),
            location: Patch::given(c.location),
            links: Patch::Value(c.links),
            how_we_met: Patch::given(c.how_we_met),
            met_on: Patch::given(c.met_on),
            introduced_by_id: Patch::given(c.introduced_by_id),
            tags: Patch::Value(c.tags),
            interests: Patch::Value(c.interests),
            notes: Patch::given(c.notes),
            cadence_days: Patch::given(c.cadence_days),
            archived_at: Patch::Absent,
        }
    }
}

/// Applies a patch of `links`: at most [`MAX_LINKS`], each an http(s) URL.
fn links(patch: Patch<Vec<String>>, target: &mut Vec<String>, errors: &mut Vec<FieldError>) {
    match patch {
        Patch::Absent => {}
        Patch::Null => target.clear(),
        Patch::Value(links) if links.len() > MAX_LINKS => errors.push(FieldError::new(
            "links",
            "too_many",
            format!("at most {MAX_LINKS} are allowed"),
        )),
        Patch::Value(links) => {
            let parsed: Result<Vec<String>, FieldError> = links
                .iter()
                .enumerate()
                .map(|(i, link)| http_url(&format!("links[{i}]"), link))
                .collect();
            match parsed {
                Ok(links) => *target = links,
                Err(e) => errors.push(e),
            }
        }
    }
}

/// Applies `patch` to `f`, collecting every invalid field.
pub(super) fn apply(
    patch: UpdateContactRequest,
    mut f: ContactFields,
) -> Result<ContactFields, ApiError> {
    let mut errors = Vec::new();
    if let Some(full_name) = patch.full_name.not_null("full_name", &mut errors) {
        match name("full_name", &full_name, 200) {
            Ok(name) => f.full_name = name,
            Err(e) => errors.push(e),
        }
    }
    let texts = [
        (
            "preferred_name",
            patch.preferred_name,
            Kind::Line,
            200,
            &mut f.preferred_name,
        ),
        ("phone", patch.phone, Kind::Line, 50, &mut f.phone),
        ("company", patch.company, Kind::Line, 200, &mut f.company),
        ("title", patch.title, Kind::Line, 200, &mut f.title),
        ("location", patch.location, Kind::Line, 200, &mut f.location),
        (
            "how_we_met",
            patch.how_we_met,
            Kind::Paragraph,
            MAX_NOTES,
            &mut f.how_we_met,
        ),
        (
            "notes",
            patch.notes,
            Kind::Paragraph,
            MAX_NOTES,
            &mut f.notes,
        ),
    ];
    for (field, patch, kind, max, target) in texts {
        patch.text_into(field, (kind, max), target, &mut errors);
    }
    email(patch.email, &mut f.email, &mut errors);
    links(patch.links, &mut f.links, &mut errors);
    labels("tags", patch.tags, &mut f.tags, &mut errors);
    labels("interests", patch.interests, &mut f.interests, &mut errors);
    cadence(patch.cadence_days, &mut f.cadence_days, &mut errors);
    patch.met_on.apply_to(&mut f.met_on);
    patch.introduced_by_id.apply_to(&mut f.introduced_by_id);
    patch.archived_at.apply_to(&mut f.archived_at);
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Applies an `email` patch: a valid address, or none.
fn email(patch: Patch<String>, target: &mut Option<String>, errors: &mut Vec<FieldError>) {
    match patch {
        Patch::Absent => {}
        Patch::Null => *target = None,
        Patch::Value(email) => match Email::parse(&email) {
            Ok(email) => *target = Some(email.into_inner()),
            Err(e) => errors.push(e),
        },
    }
}

/// Applies a patch of the label list `field` (tags, interests): normalised, or emptied.
fn labels(
    field: &str,
    patch: Patch<Vec<String>>,
    target: &mut Vec<String>,
    errors: &mut Vec<FieldError>,
) {
    match patch {
        Patch::Absent => {}
        Patch::Null => target.clear(),
        Patch::Value(labels) => match normalize(field, &labels, MAX_LABELS) {
            Ok(labels) => *target = labels,
            Err(e) => errors.push(e),
        },
    }
}

/// Applies a `cadence_days` patch: between 1 and 730 days, or none.
fn cadence(patch: Patch<i32>, target: &mut Option<i32>, errors: &mut Vec<FieldError>) {
    match patch {
        Patch::Absent => {}
        Patch::Null => *target = None,
        Patch::Value(days @ 1..=MAX_CADENCE_DAYS) => *target = Some(days),
        Patch::Value(_) => errors.push(FieldError::new(
            "cadence_days",
            "out_of_range",
            "must be between 1 and 730",
        )),
    }
}
