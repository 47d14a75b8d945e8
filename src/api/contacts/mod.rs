//! Contacts: `/v1/contacts` and `/v1/tags`. This module holds a contact's representation and
//! the single-contact operations; `fields` what a client writes, `list` the contact list,
//! `tags` the tag counts, `timeline` a contact's history.

mod fields;
mod list;
mod tags;
mod timeline;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::bearer::Auth;
use crate::api::etag::{Conditions, conditional_ok, created, with_etag};
use crate::api::idempotency::completion;
use crate::api::json::Json;
use crate::api::state::AppState;
use crate::domain::relationship::{self, History, Relationship};
use crate::domain::version::with_derived;
use crate::error::ApiError;
use crate::services::contacts::{self, Contact, ContactFields};
use crate::services::idempotency::Claim;

use self::fields::{CreateContactRequest, UpdateContactRequest, apply};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_contacts)
        .service(create_contact)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact)
        .service(timeline::get_contact_timeline)
        .service(tags::list_tags);
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
        let (links, interests) = contact.lists()?;
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
            links,
            how_we_met: m.how_we_met,
            met_on: m.met_on,
            introduced_by_id: m.introduced_by_id,
            tags: contact.tags,
            interests,
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
        move |current| apply(patch.clone(), current),
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
