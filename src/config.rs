//! Settings: built-in defaults, then an optional `rapport.toml`, then `RAPPORT_*` variables.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::bail;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

/// Prefix of every environment variable that configures Rapport.
pub const ENV_PREFIX: &str = "RAPPORT_";

/// Read from the working directory when no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "rapport.toml";

/// Every setting's key. The env var of a key is `RAPPORT_` + the key in upper case.
pub const KEYS: &[&str] = &[
    "bind",
    "database_url",
    "jwt_secret",
    "cors_allowed_origins",
    "log_format",
    "log_filter",
    "max_body_bytes",
    "run_migrations",
    "sqlite_synchronous",
    "sqlite_pin_threads",
    "workers",
    "login_failures_per_account",
    "login_failures_per_ip",
    "registrations_per_ip",
    "idempotency_wait_ms",
    "public_url",
    "body_timeout_ms",
    "max_header_bytes",
];

/// The effective configuration of one process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on; port 0 picks a free one.
    pub bind: String,
    /// `sqlite://path?mode=rwc`, `sqlite::memory:` or `postgres://user@host/db`.
    pub database_url: String,
    /// HMAC key for access tokens. Optional on SQLite (a generated one is kept beside the
    /// database); required on PostgreSQL, where several instances must share it.
    pub jwt_secret: Option<Secret>,
    /// Origins allowed by CORS; empty disables CORS. A comma-separated string is accepted.
    #[serde(deserialize_with = "string_or_list")]
    pub cors_allowed_origins: Vec<String>,
    pub log_format: LogFormat,
    /// `tracing` filter directives; `RUST_LOG` overrides it.
    pub log_filter: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Apply pending migrations at start-up.
    pub run_migrations: bool,
    /// SQLite `synchronous` pragma: `full` survives power loss, `normal` only process crashes.
    pub sqlite_synchronous: SqliteSynchronous,
    /// Keep each SQLite connection's thread on the core of the threads that hand it
    /// statements, so that no hand-off waits for an idle core to wake (see `db/affinity.rs`):
    /// the writer with its connection on the last core the process may run on, each HTTP
    /// worker on a core of its own with a read pool of its own. Off: the system places them.
    pub sqlite_pin_threads: bool,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Failed logins allowed per account per minute; a success clears the count.
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address per minute.
    pub login_failures_per_ip: u32,
    /// Registrations allowed per client address per hour.
    pub registrations_per_ip: u32,
    /// How long a duplicate `Idempotency-Key` request waits for the first one to finish
    /// before it is answered 409, in milliseconds.
    pub idempotency_wait_ms: u64,
    /// The address clients reach this server at (`https://rapport.example.com`), for the URLs
    /// it builds (the calendar feed's). Unset: `http://` and the address it listens on. Never
    /// taken from a request's `Host` or forwarded headers, which any client can set.
    pub public_url: Option<String>,
    /// How long a client may take to send a request's body, in milliseconds (408 after).
    pub body_timeout_ms: u64,
    /// Largest request head (request line and header fields) accepted, in bytes (431 after).
    pub max_header_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://rapport.db?mode=rwc".into(),
            jwt_secret: None,
            cors_allowed_origins: Vec::new(),
            log_format: LogFormat::Pretty,
            log_filter: "info,sqlx=warn".into(),
            max_body_bytes: 1024 * 1024,
            run_migrations: true,
            sqlite_synchronous: SqliteSynchronous::Full,
            sqlite_pin_threads: true,
            workers: 0,
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            registrations_per_ip: 20,
            idempotency_wait_ms: 5000,
            public_url: None,
            body_timeout_ms: 10_000,
            max_header_bytes: 16 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

/// Which database a URL points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    /// A file; `None` for an in-memory database.
    Sqlite(Option<PathBuf>),
    Postgres,
}

/// A string that never appears in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The largest `max_header_bytes`: actix-http refuses a head over 128 KiB itself, before the
/// application sees it and without a body; the setting stays well below that, so that the
/// application's refusal, a problem, comes first.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Shortest `jwt_secret` accepted: 256 bits for HS256.
pub const MIN_SECRET_LEN: usize = 32;

impl Settings {
    /// Loads defaults ← `config_file` (or `rapport.toml` when it exists) ← `RAPPORT_*`, then
    /// validates. Errors name the setting and the problem in one line.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(path) if !path.exists() => {
                bail!("config file {} does not exist", path.display())
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        let figment = figment.merge(Env::prefixed(ENV_PREFIX).only(KEYS));
        let settings: Settings = figment.extract().map_err(describe_figment_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot: that the address parses, the URL has a known scheme, etc.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.socket_addr()?;
        self.database_kind()?;
        if let Some(secret) = &self.jwt_secret
            && secret.expose().len() < MIN_SECRET_LEN
        {
            bail!(
                "invalid setting `jwt_secret`: it must be at least {MIN_SECRET_LEN} characters \
                 (try `openssl rand -base64 48`)"
            );
        }
        if self.body_timeout_ms == 0 {
            bail!("invalid setting `body_timeout_ms`: it must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            bail!("invalid setting `max_body_bytes`: it must be at least 1024");
        }
        if !(1024..=MAX_HEADER_BYTES).contains(&self.max_header_bytes) {
            bail!(
                "invalid setting `max_header_bytes`: it must be from 1024 to {MAX_HEADER_BYTES} \
                 (the HTTP layer refuses larger heads itself, without a problem body)"
            );
        }
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            if parsed.is_none() {
                bail!(
                    "invalid setting `public_url`: {url:?} is not an http(s) URL such as \
                     https://rapport.example.com"
                );
            }
        }
        for origin in &self.cors_allowed_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                bail!(
                    "invalid setting `cors_allowed_origins`: {origin:?} is not an origin such as \
                     https://app.example.com"
                );
            }
        }
        Ok(())
    }

    pub fn socket_addr(&self) -> anyhow::Result<SocketAddr> {
        self.bind.parse().map_err(|_| {
            anyhow::anyhow!(
                "invalid setting `bind`: {:?} is not an address such as 127.0.0.1:8080",
                self.bind
            )
        })
    }

    pub fn database_kind(&self) -> anyhow::Result<DatabaseKind> {
        let url = self.database_url.as_str();
        if url == "sqlite::memory:" || url.starts_with("sqlite::memory:?") {
            return Ok(DatabaseKind::Sqlite(None));
        }
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                bail!("invalid setting `database_url`: the SQLite URL names no file");
            }
            return Ok(DatabaseKind::Sqlite(Some(PathBuf::from(path))));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseKind::Postgres);
        }
        let scheme = url.split(':').next().unwrap_or_default();
        bail!(
            "invalid setting `database_url`: unsupported scheme {scheme:?} \
             (use sqlite://FILE?mode=rwc or postgres://USER@HOST/DB)"
        )
    }

    /// The settings as they may be logged: secrets and URL passwords replaced.
    pub fn redacted(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            if self.jwt_secret.is_some() {
                map.insert("jwt_secret".into(), "[redacted]".into());
            }
            map.insert(
                "database_url".into(),
                redact_url_password(&self.database_url).into(),
            );
        }
        value
    }
}

/// Replaces the password of `scheme://user:password@host/...` with `***`.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn describe_figment_error(error: figment::Error) -> anyhow::Error {
    let key = error.path.join(".");
    let source = error
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    if key.is_empty() {
        anyhow::anyhow!("invalid configuration{source}: {}", error.kind)
    } else {
        anyhow::anyhow!("invalid setting `{key}`{source}: {}", error.kind)
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringOrList {
        String(String),
        List(Vec<String>),
    }
    Ok(match StringOrList::deserialize(deserializer)? {
        StringOrList::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        StringOrList::List(list) => list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_list_every_field_of_settings() {
        let value = serde_json::to_value(Settings::default()).unwrap();
        let mut fields: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(fields, keys);
    }

    #[test]
    fn defaults_validate() {
        Settings::default().validate().unwrap();
    }

    #[test]
    fn bind_must_be_a_socket_address() {
        let settings = Settings {
            bind: "nonsense".into(),
            ..Settings::default()
        };
        let message = settings.validate().unwrap_err().to_string();
        assert!(message.contains("`bind`"), "{message}");
    }

    #[test]
    fn database_kind_follows_the_url_scheme() {
        let kind = |url: &str| {
            Settings {
                database_url: url.into(),
                ..Settings::default()
            }
            .database_kind()
        };
        assert_eq!(
            kind("sqlite://data/r.db?mode=rwc").unwrap(),
            DatabaseKind::Sqlite(Some(PathBuf::from("data/r.db")))
        );
        assert_eq!(kind("sqlite::memory:").unwrap(), DatabaseKind::Sqlite(None));
        assert_eq!(kind("postgres://u@h/db").unwrap(), DatabaseKind::Postgres);
        let message = kind("mysql://u@h/db").unwrap_err().to_string();
        assert!(message.contains("`database_url`") && message.contains("mysql"));
    }

    #[test]
    fn short_secrets_are_refused() {
        let settings = Settings {
            jwt_secret: Some(Secret::new("short")),
            ..Settings::default()
        };
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("`jwt_secret`")
        );
    }

    #[test]
    fn a_header_limit_the_http_layer_would_enforce_first_is_refused() {
        let with = |max_header_bytes| Settings {
            max_header_bytes,
            ..Settings::default()
        };
        for bad in [0, 1023, MAX_HEADER_BYTES + 1] {
            let err = with(bad).validate().unwrap_err().to_string();
            assert!(err.contains("`max_header_bytes`"), "{bad}: {err}");
        }
        for good in [1024, MAX_HEADER_BYTES] {
            with(good).validate().unwrap();
        }
    }

    #[test]
    fn redacted_hides_secret_and_url_password() {
        let settings = Settings {
            jwt_secret: Some(Secret::new("x".repeat(40))),
            database_url: "postgres://app:hunter2@db:5432/rapport".into(),
            ..Settings::default()
        };
        let text = settings.redacted().to_string();
        assert!(
            !text.contains("hunter2") && !text.contains(&"x".repeat(40)),
            "{text}"
        );
        assert!(
            text.contains("postgres://app:***@db:5432/rapport"),
            "{text}"
        );
        assert_eq!(format!("{:?}", settings.jwt_secret), "Some([redacted])");
    }

    #[test]
    fn cors_origins_accept_a_comma_separated_string() {
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge((
                "cors_allowed_origins",
                "https://a.example, https://b.example",
            ))
            .extract()
            .unwrap();
        assert_eq!(
            settings.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }
}
