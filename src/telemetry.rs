//! Logging: one `tracing` subscriber, human-readable or JSON, and the request's root span.

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

use crate::api::request_id::RequestId;
use crate::config::LogFormat;

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
