//! The OpenAPI document: info, tags, the bearer scheme, and the problem responses shared by
//! every operation. Paths come from the routes themselves (utoipa-actix-web).

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem, ProblemCode};

mod passes;

use self::passes::{four_digit_years, merge_flattened_parts, text_patterns};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rapport API",
        description = "Relationship-building, measured: contacts, conversations, value offers and \
asks, and the habits that keep relationships alive.\n\nErrors are RFC 9457 problem details \
(`application/problem+json`); every response carries an `X-Request-Id`. No text, in a body \
or a query string, may contain the NUL character (U+0000): 422 in a body, 400 in a query. \
Free text names its kind in `format`: a `name` holds a visible character and no control \
character (Unicode Cc), a `line` no control character, a `paragraph` none but tab, line feed \
and carriage return; 422 `invalid_character` or `required` otherwise. Each text's `pattern` \
says the same. \
Dates (`YYYY-MM-DD`) and instants (RFC 3339) lie between 0001-01-01 and 9999-12-31, with \
four-digit years; instants are kept in UTC to the microsecond (a leap second is held at the \
last microsecond of its minute). Another date is 422 `invalid_date` in a body, 400 in a query \
(`invalid_range` when it is a date outside that range).",
        contact(name = "Rapport maintainers"),
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/", description = "This server")),
    tags(
        (name = "auth", description = "Sign up, log in, refresh and log out. Access tokens are 15-minute JWTs; refresh tokens rotate and work once."),
        (name = "me", description = "The caller's own account: profile, password, deletion."),
        (name = "tokens", description = "Personal access tokens (`rpt_…`) for scripts: `read` or `write` scope, shown once."),
        (name = "contacts", description = "The people you know: how you met, what they care about, how often to keep in touch. Deleting a contact removes their offers and asks and empties them out of conversations."),
        (name = "conversations", description = "Every coffee, call, meal, event chat or email thread: who took part, what you learned, whether the thank-you went out, and the next step."),
        (name = "value-offers", description = "What you give: articles, news, your analysis, introductions, help. `idea` → `offered` → `acknowledged` | `declined`."),
        (name = "asks", description = "What you request: informational interviews, referrals, introductions, advice. `planned` → `asked` → `granted` | `declined` | `withdrawn`."),
        (name = "intelligence", description = "What to do next: follow-ups, the next best gestures, statistics and weekly goals, all computed on your local dates."),
        (name = "calendar", description = "Follow-ups as an iCalendar feed for calendar apps, behind a secret URL."),
        (name = "ops", description = "Health probes and problem-type documentation."),
    ),
    components(
        schemas(Problem, FieldError, ProblemCode),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
            PayloadTooLarge, RequestTimeout, HeadersTooLarge, UnsupportedMediaType, ValidationFailed,
            TooManyRequests,
            PreconditionFailed, IdempotencyConflict,
            InternalError, ServiceUnavailable, NotReady, StorageFull
        ),
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// The `bearer_auth` scheme: a JWT access token or a personal access token (`rpt_…`).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer_auth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or rpt_ personal token")
                    .description(Some(
                        "A JWT access token from `POST /v1/auth/token`, or a personal access \
                         token (`rpt_…`) from `POST /v1/tokens`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The generated document, identical to what the server serves at `/openapi.json`.
pub fn build() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::api::configure)
        .split_for_parts();
    let mut api = api;
    reference_page_items(&mut api);
    declare_server_errors(&mut api);
    bearer_by_default(&mut api);
    let Ok(mut value) = serde_json::to_value(&api) else {
        return api;
    };
    merge_flattened_parts(&mut value);
    four_digit_years(&mut value);
    text_patterns(&mut value);
    let mut api = serde_json::from_value(value).unwrap_or(api);
    // After the round trip through JSON, which keeps only `x-` extensions.
    crate::api::conversations::state_the_thank_you_rule(&mut api);
    api
}

/// Every operation needs a bearer token unless it says otherwise: the document requires
/// `bearer_auth` once, at the top, and a public operation opts out with `security(())` on its
/// handler, which utoipa writes `[{}]` ("anonymous allowed") and this turns into `[]`, "no
/// requirement", the plain way to say public.
fn bearer_by_default(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;

    api.security = Some(vec![SecurityRequirement::new(
        "bearer_auth",
        Vec::<String>::new(),
    )]);
    for item in api.paths.paths.values_mut() {
        let operations = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let anonymous = operation
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
            if anonymous {
                operation.security = Some(Vec::new());
            }
        }
    }
}

/// What any operation can answer whatever its input, declared on each: 431 and 500; 503 on
/// every operation that uses the database; 507 on every write. Declared here, once, rather
/// than on each handler, so that no operation can leave them out.
fn declare_server_errors(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{HttpMethod, Ref};

    for (path, item) in api.paths.paths.iter_mut() {
        let uses_database = path != "/healthz" && !path.starts_with("/problems");
        let operations = [
            (HttpMethod::Get, item.get.as_mut()),
            (HttpMethod::Post, item.post.as_mut()),
            (HttpMethod::Put, item.put.as_mut()),
            (HttpMethod::Patch, item.patch.as_mut()),
            (HttpMethod::Delete, item.delete.as_mut()),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let responses = &mut operation.responses.responses;
            let mut declare = |status: &str, name: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| Ref::from_response_name(name).into());
            };
            declare("431", "HeadersTooLarge");
            declare("500", "InternalError");
            if uses_database {
                declare("503", "ServiceUnavailable");
            }
            if uses_database && method != HttpMethod::Get {
                declare("507", "StorageFull");
            }
        }
    }
}

/// utoipa inlines a generic's argument, so `Page_X.data.items` repeats `X` in full and `X`
/// itself is left unused. Point the items at the named schema instead: client generators then
/// produce one `X` type for the list and the single object alike.
fn reference_page_items(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    use utoipa::openapi::{Ref, RefOr};

    let Some(components) = api.components.as_mut() else {
        return;
    };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for (page, schema) in components.schemas.iter_mut() {
        let Some(item) = page.strip_prefix("Page_") else {
            continue;
        };
        if !names.iter().any(|n| n == item) {
            continue;
        }
        if let RefOr::T(Schema::Object(object)) = schema
            && let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut("data")
        {
            array.items =
                ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(item))));
        }
    }
}

/// The document as committed in `openapi/openapi.json`.
pub fn to_pretty_json(api: &utoipa::openapi::OpenApi) -> serde_json::Result<String> {
    serde_json::to_string_pretty(api).map(|json| json + "\n")
}

fn problem_response(code: ProblemCode, description: &str) -> RefOr<Response> {
    let example = serde_json::json!({
        "type": code.type_uri(), "title": code.title(), "status": code.status().as_u16(),
        "detail": "…", "code": code.as_str(),
        "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
    });
    let headers: &[(&str, &str)] = match code {
        ProblemCode::InvalidToken | ProblemCode::Unauthorized | ProblemCode::InsufficientScope => {
            &[(
                "WWW-Authenticate",
                "`Bearer realm=\"rapport\"`, with `error=\"invalid_token\"` or `error=\"insufficient_scope\"` when a token was given.",
            )]
        }
        ProblemCode::MethodNotAllowed => &[("Allow", "The methods the route accepts.")],
        ProblemCode::DatabaseUnavailable | ProblemCode::StorageFull | ProblemCode::Busy => {
            &[("Retry-After", "Seconds to wait before trying again.")]
        }
        ProblemCode::RateLimited => &[
            ("Retry-After", "Seconds to wait before trying again."),
            ("RateLimit-Limit", "Attempts allowed per window."),
            ("RateLimit-Remaining", "Attempts left in this window (0)."),
            ("RateLimit-Reset", "Seconds until the window renews."),
        ],
        _ => &[],
    };
    let mut builder = ResponseBuilder::new().description(description);
    for (name, header_description) in headers {
        let schema = if name.starts_with("RateLimit") || *name == "Retry-After" {
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::Integer)
                .build()
        } else {
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .build()
        };
        builder = builder.header(
            *name,
            utoipa::openapi::HeaderBuilder::new()
                .schema(Some(schema))
                .description(Some(*header_description))
                .build(),
        );
    }
    builder
        .content(
            crate::error::PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                .example(Some(example))
                .build(),
        )
        .build()
        .into()
}

/// Declares a reusable problem response: `(status = 404, response = crate::openapi::NotFound)`.
macro_rules! problem_responses {
    ($($name:ident => $code:ident, $description:literal;)*) => {$(
        #[doc = $description]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), problem_response(ProblemCode::$code, $description))
            }
        }
    )*};
}

problem_responses! {
    BadRequest => MalformedJson, "Malformed JSON or query parameters.";
    Unauthorized => InvalidToken, "Missing, invalid, expired or revoked credentials; `WWW-Authenticate: Bearer` is set.";
    Forbidden => InsufficientScope, "The token lacks the scope this operation needs (a `read` personal token on a write).";
    NotFound => NotFound, "No such object among the caller's own.";
    Conflict => EmailTaken, "The request conflicts with existing data.";
    PreconditionFailed => PreconditionFailed, "`If-Match` names an older version; nothing was changed.";
    IdempotencyConflict => IdempotencyKeyInUse, "A request with the same `Idempotency-Key` was still running after `idempotency_wait_ms` (5 s by default); retry later.";
    TooManyRequests => RateLimited, "Too many attempts; see `Retry-After` and the `RateLimit-*` headers.";
    MethodNotAllowed => MethodNotAllowed, "The route does not accept this method; see `Allow`.";
    PayloadTooLarge => PayloadTooLarge, "The body is larger than the server accepts.";
    RequestTimeout => RequestTimeout, "The announced body did not arrive within `body_timeout_ms`.";
    HeadersTooLarge => HeadersTooLarge, "The request line and header fields are over `max_header_bytes`, or there are more than 64 header fields.";
    UnsupportedMediaType => UnsupportedMediaType, "The body is not `application/json`.";
    ValidationFailed => ValidationFailed, "Some fields are invalid; `errors` lists them.";
    InternalError => InternalError, "The server failed; the log holds the cause under the request id.";
    ServiceUnavailable => DatabaseUnavailable, "The database cannot be reached, or is not taking statements for the moment (restarting, out of memory or connections), or the write kept losing to concurrent writes of the same rows; retry after `Retry-After`.";
    NotReady => ServiceUnavailable, "The database cannot be reached, or has no room for writes.";
    StorageFull => StorageFull, "The database has no room for the write; nothing of it was kept. Retry after `Retry-After`.";
}

/// Declares a set of the reusable problem responses above, for
/// `responses((status = 200, …), crate::openapi::JsonBodyErrors)`.
macro_rules! response_sets {
    ($($(#[$doc:meta])* $name:ident => [$(($status:literal, $response:ident)),* $(,)?];)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
                [$(($status.to_owned(), utoipa::openapi::Ref::from_response_name(stringify!($response)).into())),*]
                    .into_iter()
                    .collect()
            }
        }
    )*};
}

response_sets! {
    /// What any operation with a JSON body can answer: 400, 408, 413, 415, 422.
    JsonBodyErrors => [
        ("400", BadRequest), ("408", RequestTimeout), ("413", PayloadTooLarge),
        ("415", UnsupportedMediaType), ("422", ValidationFailed),
    ];
    /// What an authenticated write with a JSON body can answer: 400, 401, 403, 408, 413, 415,
    /// 422.
    AuthenticatedJsonBodyErrors => [
        ("400", BadRequest), ("401", Unauthorized), ("403", Forbidden), ("408", RequestTimeout),
        ("413", PayloadTooLarge), ("415", UnsupportedMediaType), ("422", ValidationFailed),
    ];
}

/// The `Idempotency-Key` header every authenticated `POST` accepts (see `api::idempotency`),
/// declared once: `params(crate::openapi::IdempotencyKeyHeader)`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// Makes a retry replay the first response instead of doing the work again: 1–255
    /// printable ASCII characters, not starting or ending with a space, kept 24 hours per user.
    /// The same key with another body is 422; while the first request still runs, 409.
    #[param(rename = "Idempotency-Key", value_type = String, required = false, min_length = 1, max_length = 255, pattern = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")]
    #[allow(dead_code, reason = "documents a header read by middleware")]
    idempotency_key: Option<String>,
}

/// Entity tags as `If-Match` and `If-None-Match` take them: `*`, or a comma-separated list of
/// `"…"` or `W/"…"` (RFC 9110). Anything else is 400 `invalid_condition`.
pub const ENTITY_TAGS_PATTERN: &str =
    r#"^[ \t]*(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)[ \t]*$"#;

/// `If-Match` on a write, declared once: `params(crate::openapi::IfMatchHeader)`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// The `ETag` the write is based on: it applies only if the object is still at that
    /// version (412 otherwise, nothing changed). `*` requires only that the object exists.
    /// Compared strongly (RFC 9110): a weak tag (`W/"…"`) never matches.
    #[param(rename = "If-Match", value_type = String, required = false, pattern = r#"^[ \t]*(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)[ \t]*$"#)]
    #[allow(
        dead_code,
        reason = "documents a header read by the Conditions extractor"
    )]
    if_match: Option<String>,
}

/// `If-None-Match` on a read, declared once: `params(crate::openapi::IfNoneMatchHeader)`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfNoneMatchHeader {
    /// An `ETag` from an earlier response: 304 while it is still current.
    #[param(rename = "If-None-Match", value_type = String, required = false, pattern = r#"^[ \t]*(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)[ \t]*$"#)]
    #[allow(
        dead_code,
        reason = "documents a header read by the Conditions extractor"
    )]
    if_none_match: Option<String>,
}
