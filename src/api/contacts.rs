//! Contacts: `/v1/contacts` and `/v1/tags`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::asks::AskResponse;
use crate::api::bearer::Auth;
use crate::api::conversations::ConversationResponse;
use crate::api::etag::{Conditions, conditional_ok, created, with_etag};
use crate::api::idempotency::completion;
use crate::api::json::Json;
use crate::api::offers::ValueOfferResponse;
use crate::api::pagination::{
    ListQuery, Page, decode_keyset, decode_position, encode_keyset, encode_position, parse_limit,
};
use crate::api::patch::Patch;
use crate::api::state::AppState;
use crate::domain::account::Email;
use crate::domain::labels::{Label, Link, http_url, normalize};
use crate::domain::relationship::{self, Health, History, Reciprocity, Relationship};
use crate::domain::text::{Kind, name, optional_text};
use crate::domain::version::with_derived;
use crate::error::{ApiError, FieldError, ProblemCode};
use crate::services::contacts::{
    self, After, Archived, Contact, ContactFields, ContactFilter, SortKey,
};
use crate::services::idempotency::Claim;
use crate::services::timeline::{self, Entry};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_contacts)
        .service(create_contact)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact)
        .service(get_contact_timeline)
        .service(list_tags);
}

const MAX_LINKS: usize = 10;
const MAX_LABELS: usize = 20;
const MAX_NOTES: usize = 20_000;

/// A person you know.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "full_name": "Grace Hopper",
    "preferred_name": "Grace", "email": "grace@example.com", "phone": null,
    "company": "Navy Labs", "title": "Rear Admiral", "location": "Arlington, VA",
    "links": ["https://www.linkedin.com/in/grace"], "how_we_met": "Panel at PyCon",
    "met_on": "2026-05-14", "introduced_by_id": null, "tags": ["compilers", "mentor"],
    "interests": ["cobol", "teaching"], "notes": "Prefers morning calls.", "cadence_days": 60,
    "archived_at": null, "created_at": "2026-11-26T09:46:22Z", "updated_at": "2026-11-26T09:46:22Z",
    "relationship": {
        "conversation_count": 3, "first_conversation_at": "2026-06-02T08:30:00Z",
        "last_conversation_at": "2026-10-20T17:00:00Z", "next_check_in_on": "2026-12-19",
        "health": "ok", "gives": 2, "asks": 1, "balance": 1, "reciprocity": "giving",
        "thank_yous_owed": 0, "one_off": false
    }
}))]
pub struct ContactResponse {
    pub id: Uuid,
    pub full_name: String,
    pub preferred_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    /// Up to 10 http(s) URLs (LinkedIn, a personal site…).
    pub links: Vec<String>,
    pub how_we_met: Option<String>,
    pub met_on: Option<NaiveDate>,
    /// Another of your contacts who introduced you.
    pub introduced_by_id: Option<Uuid>,
    /// Up to 20, lower-cased, 1–40 characters each.
    pub tags: Vec<String>,
    /// Topics they care about; same rules as tags.
    pub interests: Vec<String>,
    pub notes: Option<String>,
    /// Keep-in-touch interval in days (1–730); null for none.
    pub cadence_days: Option<i32>,
    /// Set when archived; archived contacts are hidden from lists by default.
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Read-only, derived from conversations, value offers and asks as of today in your time
    /// zone.
    pub relationship: Relationship,
}

/// The `ETag` of a contact's representation: its stored version with a digest of its
/// relationship, so a new conversation or a new day changes it too. `If-Match` compares the
/// stored version only (see `Precondition::on_version`).
fn representation_etag(contact: &Contact, relationship: &Relationship) -> String {
    with_derived(&contact.etag(), relationship)
}

impl ContactResponse {
    fn new(contact: Contact, relationship: Relationship) -> Result<Self, ApiError> {
        let fields = contact.fields()?;
        let m = contact.model;
        Ok(Self {
            id: m.id,
            full_name: m.full_name,
            preferred_name: m.preferred_name,
            email: m.email,
            phone: m.phone,
            company: m.company,
            title: m.title,
            location: m.location,
            links: fields.links,
            how_we_met: m.how_we_met,
            met_on: m.met_on,
            introduced_by_id: m.introduced_by_id,
            tags: contact.tags,
            interests: fields.interests,
            notes: m.notes,
            cadence_days: m.cadence_days,
            archived_at: m.archived_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            relationship,
        })
    }

    /// The response for `contact` with its relationship as of now, and its `ETag`.
    async fn of(
        state: &AppState,
        auth: &Auth,
        contact: Contact,
    ) -> Result<(Self, String), ApiError> {
        let today = auth.today(state.clock.now());
        let relationship =
            contacts::relationship_of(&state.db, auth.user_id(), &contact, &today).await?;
        let etag = representation_etag(&contact, &relationship);
        Ok((Self::new(contact, relationship)?, etag))
    }
}

/// A new contact. Only `full_name` is required.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "full_name": "Grace Hopper", "company": "Navy Labs", "email": "grace@example.com",
    "how_we_met": "Panel at PyCon", "met_on": "2026-05-14", "tags": ["compilers"],
    "interests": ["teaching"], "cadence_days": 60
}))]
struct CreateContactRequest {
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
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "CTO", "tags": ["compilers", "mentor"], "archived_at": null}))]
struct UpdateContactRequest {
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

/// Applies a text patch: `null` or blank clears, otherwise at most `max` characters.
fn text(
    field: &str,
    patch: Patch<String>,
    (kind, max): (Kind, usize),
    target: &mut Option<String>,
    errors: &mut Vec<FieldError>,
) {
    match patch {
        Patch::Absent => {}
        Patch::Null => *target = None,
        Patch::Value(value) => match optional_text(field, Some(&value), kind, max) {
            Ok(value) => *target = value,
            Err(e) => errors.push(e),
        },
    }
}

/// Applies `patch` to `f`, collecting every invalid field.
fn apply(patch: UpdateContactRequest, mut f: ContactFields) -> Result<ContactFields, ApiError> {
    let mut errors = Vec::new();
    if let Some(full_name) = patch.full_name.not_null("full_name", &mut errors) {
        match name("full_name", &full_name, 200) {
            Ok(name) => f.full_name = name,
            Err(e) => errors.push(e),
        }
    }
    text(
        "preferred_name",
        patch.preferred_name,
        (Kind::Line, 200),
        &mut f.preferred_name,
        &mut errors,
    );
    text(
        "phone",
        patch.phone,
        (Kind::Line, 50),
        &mut f.phone,
        &mut errors,
    );
    text(
        "company",
        patch.company,
        (Kind::Line, 200),
        &mut f.company,
        &mut errors,
    );
    text(
        "title",
        patch.title,
        (Kind::Line, 200),
        &mut f.title,
        &mut errors,
    );
    text(
        "location",
        patch.location,
        (Kind::Line, 200),
        &mut f.location,
        &mut errors,
    );
    text(
        "how_we_met",
        patch.how_we_met,
        (Kind::Paragraph, MAX_NOTES),
        &mut f.how_we_met,
        &mut errors,
    );
    text(
        "notes",
        patch.notes,
        (Kind::Paragraph, MAX_NOTES),
        &mut f.notes,
        &mut errors,
    );
    match patch.email {
        Patch::Absent => {}
        Patch::Null => f.email = None,
        Patch::Value(email) => match Email::parse(&email) {
            Ok(email) => f.email = Some(email.into_inner()),
            Err(e) => errors.push(e),
        },
    }
    match patch.links {
        Patch::Absent => {}
        Patch::Null => f.links.clear(),
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
                Ok(links) => f.links = links,
                Err(e) => errors.push(e),
            }
        }
    }
    for (field, patch, target) in [
        ("tags", patch.tags, &mut f.tags),
        ("interests", patch.interests, &mut f.interests),
    ] {
        match patch {
            Patch::Absent => {}
            Patch::Null => target.clear(),
            Patch::Value(labels) => match normalize(field, &labels, MAX_LABELS) {
                Ok(labels) => *target = labels,
                Err(e) => errors.push(e),
            },
        }
    }
    match patch.cadence_days {
        Patch::Absent => {}
        Patch::Null => f.cadence_days = None,
        Patch::Value(days @ 1..=730) => f.cadence_days = Some(days),
        Patch::Value(_) => errors.push(FieldError::new(
            "cadence_days",
            "out_of_range",
            "must be between 1 and 730",
        )),
    }
    patch.met_on.apply_to(&mut f.met_on);
    patch.introduced_by_id.apply_to(&mut f.introduced_by_id);
    patch.archived_at.apply_to(&mut f.archived_at);
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(ApiError::validation(errors))
    }
}

fn location(id: Uuid) -> String {
    format!("/v1/contacts/{id}")
}

/// Create a contact
///
/// Only `full_name` is required. The response carries the contact's derived `relationship`.
#[utoipa::path(
    tag = "contacts",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body(content = CreateContactRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new contact.", body = ContactResponse, headers(
            ("Location" = String, description = "`/v1/contacts/{id}`"),
            ("ETag" = String, description = "The contact's version."))),
        (status = 409, response = crate::openapi::IdempotencyConflict),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[post("/v1/contacts")]
async fn create_contact(
    auth: Auth,
    state: web::Data<AppState>,
    claim: Option<web::ReqData<Claim>>,
    body: Json<CreateContactRequest>,
) -> Result<HttpResponse, ApiError> {
    let fields = apply(body.0.into(), ContactFields::default())?;
    let today = auth.today(state.clock.now());
    let render = move |contact: &Contact| {
        // A contact just created has no history yet: its relationship needs no read.
        let m = &contact.model;
        let relationship =
            relationship::derive(&History::default(), m.cadence_days, m.created_at, &today);
        let etag = representation_etag(contact, &relationship);
        Ok(created(
            &location(m.id),
            &etag,
            &ContactResponse::new(contact.clone(), relationship)?,
        ))
    };
    let completion = completion(claim, render);
    let contact = contacts::create(
        &state.db,
        auth.user_id(),
        fields,
        state.clock.now(),
        completion,
    )
    .await?;
    render(&contact)
}

/// Get a contact
///
/// With its `relationship` as of today in your time zone. The `ETag` covers the relationship too,
/// so a new conversation or a new day answers 200 to a stale `If-None-Match`.
#[utoipa::path(
    tag = "contacts",
    params(
        ("id" = Uuid, Path, description = "The contact's id."),
        crate::openapi::IfNoneMatchHeader,
    ),
    responses(
        (status = 400, response = crate::openapi::BadRequest),
        (status = 200, description = "The contact.", body = ContactResponse,
            headers(("ETag" = String, description = "The contact's version."))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/v1/contacts/{id}")]
async fn get_contact(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    let today = auth.today(state.clock.now());
    let (contact, relationship) =
        contacts::find_with_relationship(&state.db, auth.user_id(), id.into_inner(), &today)
            .await?;
    let etag = representation_etag(&contact, &relationship);
    let response = ContactResponse::new(contact, relationship)?;
    Ok(conditional_ok(&conditions, &etag, &response))
}

/// Update a contact
///
/// JSON merge patch. With `If-Match`, the change applies only if the contact is still at that
/// version (412 otherwise, nothing changed).
#[utoipa::path(
    tag = "contacts",
    params(
        ("id" = Uuid, Path, description = "The contact's id."),
        crate::openapi::IfMatchHeader,
    ),
    request_body(content = UpdateContactRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated contact.", body = ContactResponse,
            headers(("ETag" = String, description = "The new version."))),
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[patch("/v1/contacts/{id}")]
async fn update_contact(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
    body: Json<UpdateContactRequest>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.0;
    let contact = contacts::update(
        &state.db,
        auth.user_id(),
        id.into_inner(),
        &conditions.if_match.on_version(),
        |current| apply(patch, current),
        state.clock.now(),
    )
    .await?;
    let (response, etag) = ContactResponse::of(&state, &auth, contact).await?;
    Ok(with_etag(StatusCode::OK, &etag, &response))
}

/// Delete a contact
///
/// In one transaction: the contact's value offers and asks are deleted, they leave every
/// conversation, conversations left with no participant are deleted, and `introduced_by_id`
/// and `introduced_contact_id` that pointed at them become null.
#[utoipa::path(
    tag = "contacts",
    params(
        ("id" = Uuid, Path, description = "The contact's id."),
        crate::openapi::IfMatchHeader,
    ),
    responses(
        (status = 400, response = crate::openapi::BadRequest),
        (status = 204, description = "Deleted."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
    )
)]
#[delete("/v1/contacts/{id}")]
async fn delete_contact(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    contacts::delete(
        &state.db,
        auth.user_id(),
        id.into_inner(),
        &conditions.if_match.on_version(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Which contacts to list by archive state.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
enum ArchivedParam {
    /// Only contacts that are not archived (the default).
    #[serde(rename = "false")]
    False,
    /// Only archived contacts.
    #[serde(rename = "true")]
    True,
    /// Both.
    #[serde(rename = "all")]
    All,
}

/// Sort orders of the contact list; a leading `-` means descending.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
enum ContactSort {
    #[serde(rename = "full_name")]
    FullName,
    #[serde(rename = "-full_name")]
    FullNameDesc,
    #[serde(rename = "created_at")]
    CreatedAt,
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    #[serde(rename = "-updated_at")]
    UpdatedAtDesc,
    #[serde(rename = "next_check_in_on")]
    NextCheckInOn,
    #[serde(rename = "-next_check_in_on")]
    NextCheckInOnDesc,
    #[serde(rename = "last_conversation_at")]
    LastConversationAt,
    #[serde(rename = "-last_conversation_at")]
    LastConversationAtDesc,
}

impl ContactSort {
    fn parts(self) -> (SortKey, bool, &'static str) {
        match self {
            Self::FullName => (SortKey::FullName, false, "full_name"),
            Self::FullNameDesc => (SortKey::FullName, true, "-full_name"),
            Self::CreatedAt => (SortKey::CreatedAt, false, "created_at"),
            Self::CreatedAtDesc => (SortKey::CreatedAt, true, "-created_at"),
            Self::UpdatedAt => (SortKey::UpdatedAt, false, "updated_at"),
            Self::UpdatedAtDesc => (SortKey::UpdatedAt, true, "-updated_at"),
            Self::NextCheckInOn => (SortKey::NextCheckInOn, false, "next_check_in_on"),
            Self::NextCheckInOnDesc => (SortKey::NextCheckInOn, true, "-next_check_in_on"),
            Self::LastConversationAt => {
                (SortKey::LastConversationAt, false, "last_conversation_at")
            }
            Self::LastConversationAtDesc => {
                (SortKey::LastConversationAt, true, "-last_conversation_at")
            }
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ContactListQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (same `sort`).
    cursor: Option<String>,
    /// Words that must each start a word of the name, preferred name, email, company, title
    /// or notes (case-insensitive).
    q: Option<String>,
    /// Repeatable: contacts carrying every given tag (blank values are ignored).
    #[serde(default)]
    tag: Vec<String>,
    /// Company name, case-insensitive exact match.
    company: Option<String>,
    /// `false` (default), `true` or `all`.
    #[param(inline)]
    archived: Option<ArchivedParam>,
    /// Only contacts updated at or after this instant.
    updated_since: Option<DateTime<Utc>>,
    /// Only contacts whose `relationship.health` is this.
    #[param(inline)]
    health: Option<Health>,
    /// Only contacts whose `relationship.reciprocity` is this.
    #[param(inline)]
    reciprocity: Option<Reciprocity>,
    /// Only one-off contacts (`true`) or only the others (`false`).
    one_off: Option<bool>,
    /// Default `created_at`. `next_check_in_on` and `last_conversation_at` order by the
    /// derived relationship, contacts without a value last (first when descending).
    #[param(inline)]
    sort: Option<ContactSort>,
}

/// List contacts
///
/// Filter by words, tags, company, archive state, update time and the derived relationship
/// (`health`, `reciprocity`, `one_off`); sort by a stored field or by `next_check_in_on` or
/// `last_conversation_at`. Each page costs the same few queries whatever its length.
#[utoipa::path(
    tag = "contacts",
    params(ContactListQuery),
    responses(
        (status = 200, description = "One page of contacts.", body = Page<ContactResponse>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/contacts")]
async fn list_contacts(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<ContactListQuery>,
) -> Result<web::Json<Page<ContactResponse>>, ApiError> {
    let query = query.0;
    let (sort, descending, sort_name) = query.sort.unwrap_or(ContactSort::CreatedAt).parts();
    let after = match &query.cursor {
        None => None,
        Some(cursor) => {
            let (value, id) = decode_keyset(cursor, sort_name)?;
            Some(match sort {
                SortKey::FullName => After::FullName(value, id),
                SortKey::CreatedAt | SortKey::UpdatedAt => {
                    let (at, id) = decode_position(cursor, sort_name)?;
                    After::Instant(at, id)
                }
                SortKey::NextCheckInOn | SortKey::LastConversationAt => {
                    let value = match value.as_str() {
                        "" => None,
                        number => Some(number.parse::<i64>().map_err(|_| {
                            ApiError::new(ProblemCode::InvalidCursor, "cursor is not valid")
                        })?),
                    };
                    After::Derived(value, id)
                }
            })
        }
    };
    let mut tags = Vec::new();
    // Blank tags are ignored, like empty ones.
    for tag in &query.tag {
        let normalized = tag.trim().to_lowercase();
        if !normalized.is_empty() {
            tags.push(normalized);
        }
    }
    tags.sort();
    tags.dedup();
    let filter = ContactFilter {
        tags,
        company: query.company.filter(|c| !c.trim().is_empty()),
        archived: match query.archived {
            None | Some(ArchivedParam::False) => Archived::Hidden,
            Some(ArchivedParam::True) => Archived::Only,
            Some(ArchivedParam::All) => Archived::Included,
        },
        updated_since: query.updated_since,
        health: query.health,
        reciprocity: query.reciprocity,
        one_off: query.one_off,
        sort,
        descending,
        after,
        limit: parse_limit(query.limit)?,
        ..ContactFilter::default()
    }
    .with_query(query.q.as_deref().unwrap_or_default());
    let today = auth.today(state.clock.now());
    let (rows, has_more) = contacts::list(&state.db, auth.user_id(), &filter, &today).await?;
    let next_cursor = match (has_more, rows.last()) {
        (true, Some((last, relationship))) => {
            let value = match sort {
                SortKey::FullName => last.model.full_name.clone(),
                SortKey::CreatedAt => last.model.created_at.timestamp_micros().to_string(),
                SortKey::UpdatedAt => last.model.updated_at.timestamp_micros().to_string(),
                SortKey::NextCheckInOn | SortKey::LastConversationAt => sort
                    .derived_value(relationship)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            };
            Some(encode_keyset(sort_name, &value, last.model.id))
        }
        _ => None,
    };
    Ok(web::Json(Page {
        data: rows
            .into_iter()
            .map(|(contact, relationship)| ContactResponse::new(contact, relationship))
            .collect::<Result<_, _>>()?,
        next_cursor,
        has_more,
    }))
}

/// A tag and how many contacts carry it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"tag": "mentor", "contacts": 4}))]
struct TagCount {
    tag: String,
    contacts: i64,
}

/// List tags
///
/// Every tag of the caller's contacts with the number of contacts carrying it, most used first.
/// All tags come in one page.
#[utoipa::path(
    tag = "contacts",
    responses(
        (status = 200, description = "The tags.", body = Page<TagCount>),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/tags")]
async fn list_tags(
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<web::Json<Page<TagCount>>, ApiError> {
    let counts = contacts::tag_counts(&state.db, auth.user_id()).await?;
    let data = counts
        .into_iter()
        .map(|(tag, contacts)| TagCount { tag, contacts })
        .collect();
    Ok(web::Json(Page {
        data,
        next_cursor: None,
        has_more: false,
    }))
}

/// One entry of a contact's timeline, told apart by `type`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TimelineItem {
    Conversation(ConversationResponse),
    ValueOffer(ValueOfferResponse),
    Ask(AskResponse),
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TimelineQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A contact's timeline
///
/// The conversations they took part in, the value offers made to them and the asks made of
/// them, newest first (conversations by `occurred_at`, offers and asks by `created_at`), as one
/// paginated list whose items carry a `type`.
#[utoipa::path(
    tag = "contacts",
    params(("id" = Uuid, Path, description = "The contact's id."), TimelineQuery),
    responses(
        (status = 200, description = "One page of the timeline.", body = Page<TimelineItem>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/v1/contacts/{id}/timeline")]
async fn get_contact_timeline(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: ListQuery<TimelineQuery>,
) -> Result<web::Json<Page<TimelineItem>>, ApiError> {
    const SORT: &str = "-at";
    let query = query.0;
    let after = query
        .cursor
        .as_deref()
        .map(|c| decode_position(c, SORT))
        .transpose()?;
    let limit = parse_limit(query.limit)?;
    let (entries, has_more) =
        timeline::page(&state.db, auth.user_id(), id.into_inner(), after, limit).await?;
    let next_cursor = match (has_more, entries.last()) {
        (true, Some(last)) => Some(encode_position(SORT, last.key())),
        _ => None,
    };
    let data = entries
        .into_iter()
        .map(|entry| {
            Ok(match entry {
                Entry::Conversation(c) => TimelineItem::Conversation(c.try_into()?),
                Entry::Offer(o) => TimelineItem::ValueOffer(o.try_into()?),
                Entry::Ask(a) => TimelineItem::Ask(a.try_into()?),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(web::Json(Page {
        data,
        next_cursor,
        has_more,
    }))
}
