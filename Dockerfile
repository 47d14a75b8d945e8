# syntax=docker/dockerfile:1

# Build stage: the release binary, with dependencies cached in their own layer.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY entity/Cargo.toml entity/Cargo.toml
COPY migration/Cargo.toml migration/Cargo.toml
RUN mkdir -p src entity/src migration/src \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs entity/src/lib.rs migration/src/lib.rs \
    && cargo build --release --locked || true
COPY . .
RUN touch src/main.rs src/lib.rs entity/src/lib.rs migration/src/lib.rs \
    && cargo build --release --locked --bin rapport

# Runtime stage: a slim image, an unprivileged user, curl for the health check.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/rapport --create-home rapport
COPY --from=build /src/target/release/rapport /usr/local/bin/rapport
USER rapport
WORKDIR /var/lib/rapport
ENV RAPPORT_BIND=0.0.0.0:8080 \
    RAPPORT_DATABASE_URL=sqlite:///var/lib/rapport/rapport.db?mode=rwc \
    RAPPORT_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/rapport"]
CMD ["serve"]
