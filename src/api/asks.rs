//! Asks: `/v1/asks`.

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
use crate::domain::records::{AskKind, AskStatus, Stage, stamp};
use crate::domain::text::{Kind, name};
use crate::error::ApiError;
use crate::services::asks::{self, Ask, AskFields, AskFilter, fields_of};
use crate::services::idempotency::Claim;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_asks)
        .service(create_ask)
        .service(get_ask)
        .service(update_ask)
        .service(delete_ask);
}

/// Something you request: an informational interview, a referral, an introduction, advice.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "contact_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c",
    "conversation_id": null, "kind": "informational_interview",
    "title": "20 minutes on how their platform team hires", "details": null, "status": "asked",
    "asked_at": "2026-11-21T09:00:00Z", "resolved_at": null,
    "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-21T09:00:00Z"
}))]
pub struct AskResponse {
    #[serde(flatten)]
    #[schema(inline)]
    id: Id,
    #[serde(flatten)]
    #[schema(inline)]
    fields: AskFields,
    #[serde(flatten)]
    #[schema(inline)]
    stamps: Stamps,
}

impl Shown for Ask {
    type Response = AskResponse;

    const COLLECTION: &'static str = "/v1/asks";

    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl TryFrom<Ask> for AskResponse {
    type Error = ApiError;

    fn try_from(m: Ask) -> Result<Self, ApiError> {
        let (id, stamps) = parts(&m);
        let fields = fields_of(&m)?;
        Ok(Self { id, fields, stamps })
    }
}

/// A new ask.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "contact_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c", "kind": "informational_interview",
    "title": "20 minutes on how their platform team hires", "status": "planned"
}))]
struct CreateAskRequest {
    contact_id: Uuid,
    conversation_id: Option<Uuid>,
    kind: AskKind,
    /// 1–200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, format = "name")]
    title: String,
    #[schema(max_length = 20000, format = "paragraph")]
    details: Option<String>,
    /// Default `planned`.
    status: Option<AskStatus>,
    asked_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
}

/// A merge patch of an ask. `status` may only move forward.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "granted"}))]
struct UpdateAskRequest {
    #[serde(default)]
    #[schema(value_type = Uuid)]
    contact_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    conversation_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = AskKind)]
    kind: Patch<AskKind>,
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 200, format = "name")]
    title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20000, format = "paragraph")]
    details: Patch<String>,
    #[serde(default)]
    #[schema(value_type = AskStatus)]
    status: Patch<AskStatus>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    asked_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    resolved_at: Patch<DateTime<Utc>>,
}

impl From<CreateAskRequest> for UpdateAskRequest {
    fn from(c: CreateAskRequest) -> Self {
        Self {
            contact_id: Patch::Value(c.contact_id),
            conversation_id: Patch::given(c.conversation_id),
            kind: Patch::Value(c.kind),
            title: Patch::Value(c.title),
            details: Patch::given(c.details),
            status: Patch::given(c.status),
            asked_at: Patch::given(c.asked_at),
            resolved_at: Patch::given(c.resolved_at),
        }
    }
}

fn apply(
    patch: UpdateAskRequest,
    mut f: AskFields,
    now: DateTime<Utc>,
) -> Result<AskFields, ApiError> {
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
    let details = (Kind::Paragraph, 20_000);
    (patch.details).text_into("details", details, &mut f.details, &mut errors);
    if let Some(status) = patch.status.not_null("status", &mut errors)
        && let Err(e) = f.status.advance(status)
    {
        errors.push(e);
    }
    patch.asked_at.apply_to(&mut f.asked_at);
    patch.resolved_at.apply_to(&mut f.resolved_at);
    stamp(f.status, &mut f.asked_at, &mut f.resolved_at, now);
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Create an ask
///
/// `contact_id` and `conversation_id` must be yours (422 otherwise).
#[utoipa::path(
    tag = "asks",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body(content = CreateAskRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new ask.", body = AskResponse, headers(
            ("Location" = String, description = "`/v1/asks/{id}`"),
            ("ETag" = String, description = "The ask's version."))),
        (status = 409, response = crate::openapi::IdempotencyConflict),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[post("/v1/asks")]
async fn create_ask(
    auth: Auth,
    state: web::Data<AppState>,
    claim: Option<web::ReqData<Claim>>,
    body: Json<CreateAskRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let fields = apply(body.0.into(), AskFields::default(), now)?;
    let render = records::created::<Ask>;
    let completion = completion(claim, render);
    let zone = auth.today(now).zone;
    let ask = asks::create(&state.db, auth.user_id(), fields, (now, zone), completion).await?;
    render(&ask)
}

/// Get an ask
///
/// Answers 304 when `If-None-Match` names the current version.
#[utoipa::path(
    tag = "asks",
    params(
        ("id" = Uuid, Path, description = "The ask's id."),
        crate::openapi::IfNoneMatchHeader,
    ),
    responses(
        (status = 400, response = crate::openapi::BadRequest),
        (status = 200, description = "The ask.", body = AskResponse,
            headers(("ETag" = String, description = "The ask's version."))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/v1/asks/{id}")]
async fn get_ask(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    records::get::<Ask>(&state, &auth, id.into_inner(), &conditions).await
}

/// Update an ask
///
/// JSON merge patch, guarded by `If-Match` when given. `status` moves forward only
/// (`granted` → `planned` is 422); `asked_at` and `resolved_at` are stamped on the way.
#[utoipa::path(
    tag = "asks",
    params(
        ("id" = Uuid, Path, description = "The ask's id."),
        crate::openapi::IfMatchHeader,
    ),
    request_body(content = UpdateAskRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated ask.", body = AskResponse,
            headers(("ETag" = String, description = "The new version."))),
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[patch("/v1/asks/{id}")]
async fn update_ask(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
    body: Json<UpdateAskRequest>,
) -> Result<HttpResponse, ApiError> {
    let (now, patch) = (state.clock.now(), body.0);
    let change = move |current| apply(patch.clone(), current, now);
    records::update::<Ask>(&state, &auth, id.into_inner(), &conditions, change, now).await
}

/// Delete an ask
///
/// With `If-Match`, only if the ask is still at that version (412 otherwise, nothing deleted).
#[utoipa::path(
    tag = "asks",
    params(
        ("id" = Uuid, Path, description = "The ask's id."),
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
#[delete("/v1/asks/{id}")]
async fn delete_ask(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    records::delete::<Ask>(&state, &auth, id.into_inner(), &conditions).await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AskListQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (same `sort`).
    cursor: Option<String>,
    /// Asks of this contact.
    contact_id: Option<Uuid>,
    #[param(inline)]
    status: Option<AskStatus>,
    #[param(inline)]
    kind: Option<AskKind>,
    /// Default `-created_at` (newest first).
    #[param(inline)]
    sort: Option<CreatedSort>,
}

/// List asks
///
/// Newest first by default; filter by contact, status or kind. Keyset-paginated.
#[utoipa::path(
    tag = "asks",
    params(AskListQuery),
    responses(
        (status = 200, description = "One page of asks.", body = Page<AskResponse>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[get("/v1/asks")]
async fn list_asks(
    auth: Auth,
    state: web::Data<AppState>,
    query: ListQuery<AskListQuery>,
) -> Result<web::Json<Page<AskResponse>>, ApiError> {
    let query = query.0;
    let keyset = CreatedKeyset::parse(query.sort, query.cursor.as_deref())?;
    let filter = AskFilter {
        contact_id: query.contact_id,
        status: query.status,
        kind: query.kind,
        ascending: keyset.ascending,
        after: keyset.after,
        limit: parse_limit(query.limit)?,
    };
    let (rows, has_more) = asks::list(&state.db, auth.user_id(), &filter).await?;
    let next_cursor = keyset.next(has_more, rows.last().map(|m| (m.created_at, m.id)));
    Ok(web::Json(Page {
        data: rows
            .into_iter()
            .map(AskResponse::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor,
        has_more,
    }))
}
