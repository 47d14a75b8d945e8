//! Conversations: `/v1/conversations`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::bearer::Auth;
use crate::api::etag::Conditions;
use crate::api::idempotency::completion;
use crate::api::json::Json;
use crate::api::patch::Patch;
use crate::api::records::{self, Id, Shown, Stamps, parts};
use crate::api::state::AppState;
use crate::domain::records::{Channel, InitiatedBy, ThankYouStatus};
use crate::domain::text::{Kind, name};
use crate::error::{ApiError, FieldError};
use crate::services::conversations::{self, Conversation, ConversationFields};
use crate::services::idempotency::Claim;

mod list;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list::list_conversations)
        .service(create_conversation)
        .service(get_conversation)
        .service(update_conversation)
        .service(delete_conversation);
}

const MAX_PARTICIPANTS: usize = 50;
const MAX_TEXT: usize = 20_000;

/// A coffee, call, meal, event chat or email thread, and who took part.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "occurred_at": "2026-11-20T08:30:00Z",
    "channel": "coffee", "participant_ids": ["0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c"],
    "initiated_by": "me", "duration_minutes": 45, "summary": "Coffee about the compiler team",
    "notes": null, "learned": "They are hiring two SREs in Q1.", "thank_you_status": "owed",
    "thank_you_sent_at": null, "next_step": "Send the article on build caching",
    "next_step_due_on": "2026-11-27", "next_step_done_at": null,
    "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-20T10:00:00Z"
}))]
pub struct ConversationResponse {
    #[serde(flatten)]
    #[schema(inline)]
    id: Id,
    #[serde(flatten)]
    #[schema(inline)]
    fields: ConversationFields,
    #[serde(flatten)]
    #[schema(inline)]
    stamps: Stamps,
}

impl Shown for Conversation {
    type Response = ConversationResponse;

    const COLLECTION: &'static str = "/v1/conversations";

    fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
}

impl TryFrom<Conversation> for ConversationResponse {
    type Error = ApiError;

    fn try_from(c: Conversation) -> Result<Self, ApiError> {
        let (id, stamps) = parts(&c);
        let fields = c.fields()?;
        Ok(Self { id, fields, stamps })
    }
}

/// A new conversation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "occurred_at": "2026-11-20T08:30:00Z", "channel": "coffee",
    "participant_ids": ["0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c"], "initiated_by": "me",
    "duration_minutes": 45, "summary": "Coffee about the compiler team",
    "learned": "They are hiring two SREs in Q1."
}))]
struct CreateConversationRequest {
    occurred_at: DateTime<Utc>,
    channel: Channel,
    /// 1–50 of your contacts.
    #[schema(min_items = 1, max_items = 50)]
    participant_ids: Vec<Uuid>,
    initiated_by: Option<InitiatedBy>,
    #[schema(minimum = 0, maximum = 1440)]
    duration_minutes: Option<i32>,
    /// 1–200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, format = "name")]
    summary: String,
    #[schema(max_length = 20000, format = "paragraph")]
    notes: Option<String>,
    #[schema(max_length = 20000, format = "paragraph")]
    learned: Option<String>,
    /// Default `owed`.
    thank_you_status: Option<ThankYouStatus>,
    thank_you_sent_at: Option<DateTime<Utc>>,
    #[schema(max_length = 20000, format = "paragraph")]
    next_step: Option<String>,
    next_step_due_on: Option<NaiveDate>,
    next_step_done_at: Option<DateTime<Utc>>,
}

/// A merge patch of a conversation.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"thank_you_status": "sent", "next_step_done_at": "2026-11-26T09:00:00Z"}))]
struct UpdateConversationRequest {
    #[serde(default)]
    #[schema(value_type = DateTime<Utc>)]
    occurred_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Channel)]
    channel: Patch<Channel>,
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>, min_items = 1, max_items = 50)]
    participant_ids: Patch<Vec<Uuid>>,
    #[serde(default)]
    #[schema(value_type = Option<InitiatedBy>)]
    initiated_by: Patch<InitiatedBy>,
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 1440)]
    duration_minutes: Patch<i32>,
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 200, format = "name")]
    summary: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20000, format = "paragraph")]
    notes: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20000, format = "paragraph")]
    learned: Patch<String>,
    #[serde(default)]
    #[schema(value_type = ThankYouStatus)]
    thank_you_status: Patch<ThankYouStatus>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    thank_you_sent_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20000, format = "paragraph")]
    next_step: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    next_step_due_on: Patch<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    next_step_done_at: Patch<DateTime<Utc>>,
}

impl From<CreateConversationRequest> for UpdateConversationRequest {
    fn from(c: CreateConversationRequest) -> Self {
        Self {
            occurred_at: Patch::Value(c.occurred_at),
            channel: Patch::Value(c.channel),
            participant_ids: Patch::Value(c.participant_ids),
            initiated_by: Patch::given(c.initiated_by),
            duration_minutes: Patch::given(c.duration_minutes),
            summary: Patch::Value(c.summary),
            notes: Patch::given(c.notes),
            learned: Patch::given(c.learned),
            thank_you_status: Patch::given(c.thank_you_status),
            thank_you_sent_at: Patch::given(c.thank_you_sent_at),
            next_step: Patch::given(c.next_step),
            next_step_due_on: Patch::given(c.next_step_due_on),
            next_step_done_at: Patch::given(c.next_step_done_at),
        }
    }
}

fn apply(
    patch: UpdateConversationRequest,
    mut f: ConversationFields,
    now: DateTime<Utc>,
) -> Result<ConversationFields, ApiError> {
    let mut errors = Vec::new();
    if let Some(at) = patch.occurred_at.not_null("occurred_at", &mut errors) {
        f.occurred_at = at;
    }
    if let Some(channel) = patch.channel.not_null("channel", &mut errors) {
        f.channel = channel;
    }
    if let Some(ids) = patch
        .participant_ids
        .not_null("participant_ids", &mut errors)
    {
        // Kept as sent, so that an error can point at the id's place in the request.
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        match distinct.len() {
            0 => errors.push(FieldError::new(
                "participant_ids",
                "required",
                "must name at least one contact",
            )),
            n if n > MAX_PARTICIPANTS => errors.push(FieldError::new(
                "participant_ids",
                "too_many",
                format!("at most {MAX_PARTICIPANTS} are allowed"),
            )),
            _ => f.participant_ids = ids,
        }
    }
    patch.initiated_by.apply_to(&mut f.initiated_by);
    match patch.duration_minutes {
        Patch::Value(minutes) if !(0..=1440).contains(&minutes) => errors.push(FieldError::new(
            "duration_minutes",
            "out_of_range",
            "must be between 0 and 1440",
        )),
        other => other.apply_to(&mut f.duration_minutes),
    }
    if let Some(summary) = patch.summary.not_null("summary", &mut errors) {
        match name("summary", &summary, 200) {
            Ok(summary) => f.summary = summary,
            Err(e) => errors.push(e),
        }
    }
    let paragraph = (Kind::Paragraph, MAX_TEXT);
    (patch.notes).text_into("notes", paragraph, &mut f.notes, &mut errors);
    (patch.learned).text_into("learned", paragraph, &mut f.learned, &mut errors);
    (patch.next_step).text_into("next_step", paragraph, &mut f.next_step, &mut errors);
    patch.next_step_due_on.apply_to(&mut f.next_step_due_on);
    patch.next_step_done_at.apply_to(&mut f.next_step_done_at);
    if let Some(status) = patch
        .thank_you_status
        .not_null("thank_you_status", &mut errors)
    {
        f.thank_you_status = status;
    }
    let sent_at_given = matches!(patch.thank_you_sent_at, Patch::Value(_));
    patch.thank_you_sent_at.apply_to(&mut f.thank_you_sent_at);
    if f.thank_you_status == ThankYouStatus::Sent {
        f.thank_you_sent_at.get_or_insert(now);
    } else if sent_at_given {
        errors.push(FieldError::new(
            "thank_you_sent_at",
            "requires_sent",
            "can only be set when thank_you_status is sent",
        ));
    } else {
        f.thank_you_sent_at = None;
    }
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// States in the published schemas the rule `apply` holds `thank_you_sent_at` to: a date
/// sent (not null) needs `thank_you_status: sent`. A create states it whole; a patch can only
/// when it sends both fields, for without a status the conversation's stored one decides.
/// `dependentSchemas` applies when the date is sent at all, and a null date passes its first
/// branch.
pub fn state_the_thank_you_rule(api: &mut utoipa::openapi::OpenApi) {
    use serde_json::json;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;

    let sent_at_null = json!({"properties": {"thank_you_sent_at": {"type": "null"}}});
    // `properties` holds only for what is sent: a patch without a status passes it.
    let status_sent = json!({"properties": {"thank_you_status": {"const": "sent"}}});
    let mut status_sent_and_given = status_sent.clone();
    status_sent_and_given["required"] = json!(["thank_you_status"]);
    let rules = [
        (
            "CreateConversationRequest",
            json!([sent_at_null, status_sent_and_given]),
        ),
        (
            "UpdateConversationRequest",
            json!([sent_at_null, status_sent]),
        ),
    ];
    let Some(components) = api.components.as_mut() else {
        return;
    };
    for (name, any_of) in rules {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
            object
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    "dependentSchemas".to_owned(),
                    json!({"thank_you_sent_at": {"anyOf": any_of}}),
                );
        }
    }
}

/// Create a conversation
///
/// References to contacts that are not yours are 422, exactly as for contacts that do not exist.
#[utoipa::path(
    tag = "conversations",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body(content = CreateConversationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new conversation.", body = ConversationResponse, headers(
            ("Location" = String, description = "`/v1/conversations/{id}`"),
            ("ETag" = String, description = "The conversation's version."))),
        (status = 409, response = crate::openapi::IdempotencyConflict),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[post("/v1/conversations")]
async fn create_conversation(
    auth: Auth,
    state: web::Data<AppState>,
    claim: Option<web::ReqData<Claim>>,
    body: Json<CreateConversationRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let zone = auth.today(now).zone;
    let fields = apply(body.0.into(), ConversationFields::default(), now)?;
    let render = records::created::<Conversation>;
    let completion = completion(claim, render);
    let conversation =
        conversations::create(&state.db, auth.user_id(), fields, (now, zone), completion).await?;
    render(&conversation)
}

/// Get a conversation
///
/// With its participants. Answers 304 when `If-None-Match` names the current version.
#[utoipa::path(
    tag = "conversations",
    params(
        ("id" = Uuid, Path, description = "The conversation's id."),
        crate::openapi::IfNoneMatchHeader,
    ),
    responses(
        (status = 400, response = crate::openapi::BadRequest),
        (status = 200, description = "The conversation.", body = ConversationResponse,
            headers(("ETag" = String, description = "The conversation's version."))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/v1/conversations/{id}")]
async fn get_conversation(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    records::get::<Conversation>(&state, &auth, id.into_inner(), &conditions).await
}

/// Update a conversation
///
/// JSON merge patch, guarded by `If-Match` when given.
#[utoipa::path(
    tag = "conversations",
    params(
        ("id" = Uuid, Path, description = "The conversation's id."),
        crate::openapi::IfMatchHeader,
    ),
    request_body(content = UpdateConversationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated conversation.", body = ConversationResponse,
            headers(("ETag" = String, description = "The new version."))),
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
        crate::openapi::AuthenticatedJsonBodyErrors,
    )
)]
#[patch("/v1/conversations/{id}")]
async fn update_conversation(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
    body: Json<UpdateConversationRequest>,
) -> Result<HttpResponse, ApiError> {
    let (now, patch) = (state.clock.now(), body.0);
    let change = move |current| apply(patch.clone(), current, now);
    records::update::<Conversation>(&state, &auth, id.into_inner(), &conditions, change, now).await
}

/// Delete a conversation
///
/// Value offers and asks linked to it stay, with `conversation_id` set to null.
#[utoipa::path(
    tag = "conversations",
    params(
        ("id" = Uuid, Path, description = "The conversation's id."),
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
#[delete("/v1/conversations/{id}")]
async fn delete_conversation(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    conditions: Conditions,
) -> Result<HttpResponse, ApiError> {
    records::delete::<Conversation>(&state, &auth, id.into_inner(), &conditions).await
}
