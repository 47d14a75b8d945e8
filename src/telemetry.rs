//! Logging: one `tracing` subscriber, human-readable or JSON; the id of the request being
//! served; and the request's root span.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Span, Subscriber};
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being served, stored in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts 1–64 characters of `[A-Za-z0-9._-]`.
    pub fn parse(candidate: &str) -> Option<Self> {
        let sane = (1..=64).contains(&candidate.len())
            && candidate
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        sane.then(|| Self(candidate.to_owned()))
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of the request this task is serving, if any.
pub fn current_request_id() -> Option<String> {
    CURRENT.try_with(|id| id.0.clone()).ok()
}

/// Runs `work` as the serving of request `id`: [`current_request_id`] answers `id` inside it.
pub async fn in_request<F: std::future::Future>(id: RequestId, work: F) -> F::Output {
    CURRENT.scope(id, work).await
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `filter`. Calling it twice
/// is harmless: the second call leaves the first subscriber in place.
pub fn init<W>(format: LogFormat, filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    // Only fails when a subscriber is already installed (tests build many applications).
    drop(subscriber(format, filter, writer).try_init());
}

/// The subscriber `init` installs: the formatted log, with the HTTP layer's errors re-levelled
/// by [`ConnectionErrors`].
fn subscriber<W>(format: LogFormat, filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let log = tracing_subscriber::fmt::layer().with_writer(writer);
    let log = match format {
        LogFormat::Pretty => log.boxed(),
        LogFormat::Json => log
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let not_relevelled = filter_fn(|meta| !ConnectionErrors::takes(meta));
    // The log comes first: `ConnectionErrors` logs again from inside the dispatch of an event,
    // which resets the per-layer filters' state for the layers after it.
    tracing_subscriber::registry()
        .with(log.with_filter(filter.and(not_relevelled)))
        .with(ConnectionErrors.with_filter(filter_fn(ConnectionErrors::takes)))
}

/// actix-http logs at ERROR whatever ends a connection badly, a client's malformed request
/// (a NUL byte in a header, say) and a reset connection among them, which are no fault of the
/// server. This layer takes the HTTP layer's ERROR events and logs them again as this crate's
/// own: a stream error at WARN, anything else at ERROR still.
struct ConnectionErrors;

impl ConnectionErrors {
    const TARGET: &'static str = "actix_http::h1::dispatcher";

    fn takes(meta: &Metadata<'_>) -> bool {
        *meta.level() == Level::ERROR && meta.target() == Self::TARGET
    }
}

impl<S: Subscriber> Layer<S> for ConnectionErrors {
    fn on_event(&self, event: &Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let message = message.0;
        if message.starts_with("stream error") {
            tracing::warn!(target: "rapport::http", "{message}");
        } else {
            tracing::error!(target: "rapport::http", "{message}");
        }
    }
}

/// The root span of every request, carrying the same `request_id` as the `X-Request-Id`
/// response header and the problem bodies.
pub struct RapportRootSpan;

impl RootSpanBuilder for RapportRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            request_id = %request_id,
            http.method = %request.method(),
            http.target = %request.uri().path(),
            http.route = %request.match_pattern().unwrap_or_default(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn parse_accepts_sane_tokens_only() {
        assert!(RequestId::parse("abc-DEF_123.x").is_some());
        assert!(RequestId::parse(&"a".repeat(64)).is_some());
        assert!(RequestId::parse(&"a".repeat(65)).is_none());
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("semi;colon").is_none());
    }

    #[test]
    fn generated_ids_are_sane_and_distinct() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        assert!(RequestId::parse(a.as_str()).is_some());
    }
}
