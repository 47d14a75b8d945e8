//! Value offers: `/v1/value-offers`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::bearer::Auth;
use crate::api::etag::Conditions;
use crate::api::idempotency::completion;
use crate::api::json::Json;
use crate::api::pagination::{CreatedKeyset, CreatedSort, ListQuery, Page, parse_limit};
use crate::api::patch::Patch;
use crate::api::records::{self, Id, Shown, Stamps, parts};
use crate::api::state::AppState;
use crate::domain::labels::{Label, Link, http_url, normalize};
use crate::domain::records::{OfferKind, OfferStatus, Stage, stamp};
use crate::domain::text::{Kind, name};
use crate::error::ApiError;
use crate::services::idempotency::Claim;
use crate::services::offers::{self, OfferFields, OfferFilter, ValueOffer, fields_of};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_value_offers)
        .service(create_value_offer)
        .service(get_value_offer)
        .service(update_value_offer)
        .service(delete_value_offer);
}

/// Something you give: an article, news, your analysis, an introduction, help.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "contact_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c",
    "conversation_id": null, "kind": "article", "title": "Build caching at scale",
    "url": "https://example.com/build-caching", "details": null, "topics": ["build-systems"],
    "introduced_contact_id": null, "status": "offered", "offered_at": "2026-11-21T09:00:00Z",
    "responded_at": null, "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-21T09:00:00Z"
}))]
pub struct ValueOfferResponse {
    #[serde(flatten)]
    #[schema(inline)]
    id: Id,
    #[serde(flatten)]
    #[schema(inline)]
    fields: OfferFields,
    #[serde(flatten)]
    #[schema(inline)]
    stamps: Stamps,
}

impl Shown for ValueOffer {
    type Response = ValueOfferResponse;

    const COLLECTION: &'static str = "/v1/value-offers";

    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl TryFrom<ValueOffer> for ValueOfferResponse {
    type Error = ApiError;

    fn try_from(m: ValueOffer) -> Result<Self, ApiError> {
        let (id, stamps) = parts(&m);
        let fields = fields_of(&m)?;
        Ok(Self { id, fields, stamps })
    }
}

/// A new value offer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "contact_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c", "kind": "article",
    "title": "Build caching at scale", "url": "https://example.com/build-caching",
    "topics": ["build-systems"]
}))]
struct CreateValueOfferRequest {
    contact_id: Uuid,
    conversation_id: Option<Uuid>,
    kind: OfferKind,
    /// 1–200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, format = "name")]
    title: String,
    #[schema(value_type = Option<Link>)]
    url: Option<String>,
    #[schema(max_length = 20000, format = "paragraph")]
    details: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Label>, max_items = 20)]
    topics: Vec<String>,
    introduced_contact_id: Option<Uuid>,
    /// Default `idea`.
    status: Option<OfferStatus>,
    offered_at: Option<DateTime<Utc>>,
    responded_at: Option<DateTime<Utc>>,
}

/// A merge patch of a value offer. `status` may only move forward.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "acknowledged"}))]
struct UpdateValueOfferRequest {
    #[serde(default)]
    #[schema(value_type = Uuid)]
    contact_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    conversation_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = OfferKind)]
    kind: Patch<OfferKind>,
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 200, format = "name")]
    title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Link>)]
    url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20000, format = "paragraph")]
    details: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Label>>, max_items = 20)]
    topics: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    introduced_contact_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = OfferStatus)]
    status: Patch<OfferStatus>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    offered_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    responded_at: Patch<DateTime<Utc>>,
}

impl From<CreateValueOfferRequest> for UpdateValueOfferRequest {
    fn from(c: CreateValueOfferRequest) -> Self {
        Self {
            contact_id: Patch::Value(c.contact_id),
            conversation_id: Patch::given(c.conversation_id),
            kind: Patch::Value(c.kind),
            title: Patch::Value(c.title),
            url: Patch::given(c.url),
            details: Patch::given(c.details),
            topics: Patch::Value(c.topics),
            introduced_contact_id: Patch::given(c.introduced_contact_id),
            status: Patch::given(c.status),
            offered_at: Patch::given(c.offered_at),
            responded_at: Patch::given(c.responded_at),
        }
    }
}

fn apply(
    patch: UpdateValueOfferRequest,
    mut f: OfferFields,
    now: DateTime<Utc>,
) -> Result<OfferFields, ApiError> {
    let mut errors = Vec::new();
    if let Some(contact_id) = patch.contact_id.not_null("contact_id", &mut errors) {
        f.contact_id = contact_id;
    }
    patch.conversation_id.apply_to(&mut f.conversation_id);
    if let Some(kind) = patch.kind.not_null("kind", &mut errors) {
        f.kind = kind;
    }
    if let Some(title) = patch.title.not_null("title", &mut errors) {
        match name("title", &title, 200) {
            Ok(title) => f.title = title,
            Err(e) => errors.push(e),
        }
    }
    match patch.url {
        Patch::Value(url) => match http_url("url", &url) {
            Ok(url) => f.url = Some(url),
            Err(e) => errors.push(e),
        },
        other => other.apply_to(&mut f.url),
    }
    let details = (Kind::Paragraph, 20_000);
    (patch.details).text_into("details", details, &mut f.details, &mut errors);
    match patch.topics {
        Patch::Absent => {}
        Patch::Null => f.topics.clear(),
        Patch::Value(topics) => match normalize("topics", &topics, 20) {
            Ok(topics) => f.topics = topics,
            Err(e) => errors.push(e),
        },
    }
    patch
        .introduced_contact_id
        .apply_to(&mut f.introduced_contact_id);
    if let Some(status) = patch.status.not_null("status", &mut errors)
        && let Err(e) = f.status.advance(status)
    {
        errors.push(e);
    }
    patch.offered_at.apply_to(&mut f.offered_at);
    patch.responded_at.apply_to(&mut f.responded_at);
    stamp(f.status, &mut f.offered_at, &mut f.responded_at, now);
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Create a value offer
///
/// `contact_id`, `conversation_id` and `introduced_contact_id` must be yours (422 otherwise);
/// an introduction's other person is not the recipient.
#[utoipa::path(
    tag = "value-offers",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body(content = CreateValueOfferRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new value offer.", body = ValueOfferResponse, headers(
            ("Location" = String, description = "`/v1/value-offers/{id}`"),
            ("ETag" = String, description = "The offer's version."))),
        (status = 409, response = crate::openapi::IdempotencyConflict),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[post("/v1/value-offers")]
async fn create_value_offer(
    auth: Auth,
    state: web::Data<AppState>,
    claim: Option<web::ReqData<Claim>>,
    body: Json<CreateValueOfferRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let fields = apply(body.0.into(), OfferFields::default(), now)?;
    let render = records::created::<ValueOffer>;
    let completion = completion(claim, render);
    let zone = auth.today(now).zone;
    let offer = offers::create(&state.db, auth.user_id(), fields, (now, zone), completion).await?;
    render(&offer)
}

/// Get a value offer
///
/// Answers 304 when `If-None-Match` names the current version.
#[utoipa::path(
    tag = "value-offers",
    params(
        ("id" = Uuid, Path, description = "The offer's id."),
        crate::openapi::IfNoneMatchHeader,
    ),
    responses(
        (status = 400, response = crate::openapi::BadRequest),
        (status = 200, description = "The value offer.", body = ValueOfferResponse,
            headers(("ETag" = String, description = "The offer's version."))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/v1/value-offers/{id}")]
async fn get_value_offer(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    records::get::<ValueOffer>(&state, &auth, id.into_inner(), &conditions).await
}

/// Update a value offer
///
/// JSON merge patch, guarded by `If-Match` when given. `status` moves forward only
/// (`acknowledged` → `idea` is 422); `offered_at` and `responded_at` are stamped on the way.
#[utoipa::path(
    tag = "value-offers",
    params(
        ("id" = Uuid, Path, description = "The offer's id."),
        crate::openapi::IfMatchHeader,
    ),
    request_body(content = UpdateValueOfferRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated value offer.", body = ValueOfferResponse,
            headers(("ETag" = String, description = "The new version."))),
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[patch("/v1/value-offers/{id}")]
async fn update_value_offer(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
    body: Json<UpdateValueOfferRequest>,
) -> Result<HttpResponse, ApiError> {
    let (now, patch) = (state.clock.now(), body.0);
    let change = move |current| apply(patch.clone(), current, now);
    records::update::<ValueOffer>(&state, &auth, id.into_inner(), &conditions, change, now).await
}

/// Delete a value offer
///
/// With `If-Match`, only if the offer is still at that version (412 otherwise, nothing deleted).
#[utoipa::path(
    tag = "value-offers",
    params(
        ("id" = Uuid, Path, description = "The offer's id."),
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
#[delete("/v1/value-offers/{id}")]
async fn delete_value_offer(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    records::delete::<ValueOffer>(&state, &auth, id.into_inner(), &conditions).await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct OfferListQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (same `sort`).
    cursor: Option<String>,
    /// Offers to this contact.
    contact_id: Option<Uuid>,
    #[param(inline)]
    status: Option<OfferStatus>,
    #[param(inline)]
    kind: Option<OfferKind>,
    /// Offers carrying this topic.
    topic: Option<String>,
    /// Default `-created_at` (newest first).
    #[param(inline)]
    sort: Option<CreatedSort>,
}

/// List value offers
///
/// Newest first by default; filter by contact, status, kind or topic. Keyset-paginated.
#[utoipa::path(
    tag = "value-offers",
    params(OfferListQuery),
    responses(
        (status = 200, description = "One page of value offers.", body = Page<ValueOfferResponse>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/value-offers")]
async fn list_value_offers(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<OfferListQuery>,
) -> Result<web::Json<Page<ValueOfferResponse>>, ApiError> {
    let query = query.0;
    let keyset = CreatedKeyset::parse(query.sort, query.cursor.as_deref())?;
    let filter = OfferFilter {
        contact_id: query.contact_id,
        status: query.status,
        kind: query.kind,
        topic: query
            .topic
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty()),
        ascending: keyset.ascending,
        after: keyset.after,
        limit: parse_limit(query.limit)?,
    };
    let (rows, has_more) = offers::list(&state.db, auth.user_id(), &filter).await?;
    let next_cursor = keyset.next(has_more, rows.last().map(|m| (m.created_at, m.id)));
    Ok(web::Json(Page {
        data: rows
            .into_iter()
            .map(ValueOfferResponse::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor,
        has_more,
    }))
}
