//! The binary itself: bad configuration ends it with one clear line; SIGTERM stops it cleanly;
//! a second start reuses the database and the generated secret.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use rapport::config::KEYS;

use crate::helpers::TEST_SECRET;

fn rapport(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rapport"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RAPPORT_BIND", "127.0.0.1:0")
        .env("RAPPORT_LOG_FORMAT", "json")
        .env("RAPPORT_WORKERS", "1");
    command
}

fn run_with(envs: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    rapport(dir.path())
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

/// Asserts a failed start that printed exactly one line mentioning `needle`.
fn assert_fails_with_one_line(output: &Output, needle: &str) {
    assert!(!output.status.success(), "the process must fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr:\n{stderr}");
    assert!(lines[0].contains(needle), "{needle:?} in {:?}", lines[0]);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn a_nonsense_bind_address_fails_naming_the_setting() {
    let output = run_with(&[("RAPPORT_BIND", "nonsense")]);
    assert_fails_with_one_line(&output, "`bind`");
}

#[test]
fn an_unknown_database_scheme_fails_naming_the_setting() {
    let output = run_with(&[("RAPPORT_DATABASE_URL", "mysql://root@localhost/rapport")]);
    assert_fails_with_one_line(&output, "`database_url`");
}

#[test]
fn a_mistyped_number_fails_naming_the_setting() {
    let output = run_with(&[("RAPPORT_MAX_BODY_BYTES", "lots")]);
    assert_fails_with_one_line(&output, "`max_body_bytes`");
}

#[test]
fn an_unknown_key_in_the_config_file_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rapport.toml"), "bnid = \"127.0.0.1:1\"\n").unwrap();
    let output = rapport(dir.path()).output().unwrap();
    assert_fails_with_one_line(&output, "bnid");
}

#[test]
fn postgres_without_a_jwt_secret_refuses_to_start() {
    let output = run_with(&[(
        "RAPPORT_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/rapport",
    )]);
    assert_fails_with_one_line(&output, "`jwt_secret` is required with PostgreSQL");
}

#[test]
fn an_unreachable_postgres_fails_with_one_line() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let output = run_with(&[
        (
            "RAPPORT_DATABASE_URL",
            "postgres://postgres:pw@127.0.0.1:1/rapport",
        ),
        ("RAPPORT_JWT_SECRET", TEST_SECRET),
    ]);
    assert_fails_with_one_line(&output, "cannot connect to the database");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains(":pw@"),
        "password shown"
    );
}

/// Starts `rapport serve` and returns it with the port it logged once listening.
#[allow(
    clippy::zombie_processes,
    reason = "the caller waits on the returned child"
)]
fn start(dir: &Path) -> (Child, u16, BufReader<std::process::ChildStdout>) {
    start_with(dir, &[])
}

/// [`start`] with more settings in the environment.
#[allow(
    clippy::zombie_processes,
    reason = "the caller waits on the returned child"
)]
fn start_with(
    dir: &Path,
    envs: &[(&str, &str)],
) -> (Child, u16, BufReader<std::process::ChildStdout>) {
    let mut child = rapport(dir)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            let status = child.wait().unwrap();
            panic!("the server exited before listening ({status}): {stderr}");
        }
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["fields"]["message"] == "listening" {
            let port = event["fields"]["port"].as_u64().unwrap();
            return (child, u16::try_from(port).unwrap(), stdout);
        }
    }
}

fn http_status(port: u16, path: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends SIGTERM and returns the exit status and everything logged after it.
fn terminate(mut child: Child, mut stdout: BufReader<std::process::ChildStdout>) -> (bool, String) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    (child.wait().unwrap().success(), rest)
}

#[test]
fn a_second_start_reuses_the_database_and_secret_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();

    let (child, port, stdout) = start(dir.path());
    assert_eq!(http_status(port, "/readyz"), 200);
    let (clean, log) = terminate(child, stdout);
    assert!(clean, "exit status after SIGTERM");
    assert!(log.contains("\"stopped\""), "{log}");

    let secret_file = dir.path().join("rapport.secret");
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(secret.len() >= 32);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let (child, port, stdout) = start(dir.path());
    assert_eq!(http_status(port, "/readyz"), 200);
    let (clean, log) = terminate(child, stdout);
    assert!(clean);
    assert!(
        !log.contains("Applying migration"),
        "nothing left to migrate: {log}"
    );
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), secret);
}

#[test]
fn the_startup_log_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = rapport(dir.path())
        .env("RAPPORT_JWT_SECRET", TEST_SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first.contains("starting rapport"), "{first}");
    assert!(first.contains("[redacted]"), "{first}");
    assert!(!first.contains(TEST_SECRET), "{first}");
}

#[test]
fn every_documented_env_var_is_a_real_setting() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for key in KEYS {
        let var = format!("RAPPORT_{}", key.to_uppercase());
        assert!(readme.contains(&var), "README documents {var}");
    }
}

#[test]
fn the_migrate_commands_report_roll_back_and_reapply() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = |args: &[&str]| {
        let output = rapport(dir.path())
            .arg("migrate")
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let status = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| *w == "applied" || *w == "pending")
            .map(str::to_owned)
            .collect()
    };
    let total = <migration::Migrator as migration::MigratorTrait>::migrations().len();

    assert_eq!(status(&migrate(&["status"])), vec!["pending"; total]);
    assert_eq!(status(&migrate(&["up"])), vec!["applied"; total]);
    let mut expected = vec!["applied"; total - 1];
    expected.push("pending");
    assert_eq!(status(&migrate(&["down", "--steps", "1"])), expected);
    assert_eq!(status(&migrate(&["up"])), vec!["applied"; total]);
}

/// With `*`, CORS answers `*` literally (never echoing the caller's origin, `null` included)
/// and allows only the API's methods.
#[tokio::test]
async fn cors_with_a_wildcard_answers_it_literally_and_allows_only_the_apis_methods() {
    let app = crate::helpers::spawn_app_with(|s| s.cors_allowed_origins = vec!["*".into()]).await;
    for origin in ["https://app.example.com", "null"] {
        let simple = app
            .client
            .get(app.url("/healthz"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            simple.headers()["access-control-allow-origin"],
            "*",
            "{origin}"
        );
    }
    let preflight = |method: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/contacts"))
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", method)
            .send()
    };
    let allowed = preflight("PATCH").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(allowed.headers()["access-control-allow-origin"], "*");
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    for method in ["TRACE", "CONNECT", "PUT"] {
        let refused = preflight(method).await.unwrap();
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        let problem = crate::helpers::assert_problem(refused, 400, "cors_rejected").await;
        assert!(
            problem["detail"].as_str().unwrap().contains("method"),
            "{problem}"
        );
        assert!(!methods.contains(method), "{method} in {methods}");
    }
}

/// A preflight from an origin that is not allowed is refused with a problem, like every
/// other refusal the application shapes.
#[tokio::test]
async fn a_preflight_from_another_origin_is_a_cors_rejected_problem() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.cors_allowed_origins = vec!["https://app.example.com".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/contacts"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert!(allowed.status().is_success());
    let refused = preflight("https://elsewhere.example").await.unwrap();
    let problem = crate::helpers::assert_problem(refused, 400, "cors_rejected").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("Origin"),
        "{problem}"
    );
}

/// The calendar URL starts with `public_url`, or with the address the server listens on; the
/// `Host` and forwarded headers a client sends never reach it.
#[tokio::test]
async fn built_urls_come_from_public_url_never_from_request_headers() {
    for public_url in [Some("https://rapport.example.com/"), None] {
        let app =
            crate::helpers::spawn_app_with(|s| s.public_url = public_url.map(str::to_owned)).await;
        let user = app.create_user().await;
        let issued: serde_json::Value = app
            .client
            .post(app.url("/v1/me/calendar-token"))
            .bearer_auth(&user.access_token)
            .header("x-forwarded-host", "evil.example")
            .header("forwarded", "host=evil.example;proto=https")
            .header("host", "evil.example")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = issued["url"].as_str().unwrap();
        let expected =
            public_url.map_or(app.address.clone(), |u| u.trim_end_matches('/').to_owned());
        assert!(
            url.starts_with(&format!("{expected}/v1/calendar.ics?token=rcal_")),
            "{url}"
        );
        assert!(!url.contains("evil"), "{url}");
    }
}

#[test]
fn a_public_url_must_be_an_http_url() {
    for bad in [
        "rapport.example.com",
        "ftp://rapport.example.com",
        "https://x.example/?q=1",
        "https://",
    ] {
        let settings = rapport::config::Settings {
            public_url: Some(bad.into()),
            ..Default::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("`public_url`"), "{bad}: {err}");
    }
}

#[test]
fn a_malformed_request_is_logged_as_a_warning_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (child, port, stdout) = start(dir.path());
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Note: a\0b\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    let (clean, log) = terminate(child, stdout);
    assert!(clean);
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let refusal = events
        .iter()
        .find(|e| {
            e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("stream error"))
        })
        .unwrap_or_else(|| panic!("the refusal is logged: {log}"));
    assert_eq!(refusal["level"], "WARN", "{refusal}");
    assert!(
        events.iter().all(|e| e["level"] != "ERROR"),
        "no error logged for a client's mistake: {log}"
    );
}

/// The name (as the kernel keeps it, 15 bytes at most) of each thread of process `pid`, with
/// the cores it may run on as `/proc` lists them (`0-1`, `1`, …).
#[cfg(target_os = "linux")]
fn threads_and_cores(pid: u32) -> Vec<(String, String)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let (Ok(name), Ok(status)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("status")),
        ) else {
            continue; // the thread ended meanwhile
        };
        let cores = status
            .lines()
            .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim()
            .to_owned();
        threads.push((name.trim_end().to_owned(), cores));
    }
    threads
}

/// On SQLite, the threads that hand statements to each other share a core (`db/affinity.rs`):
/// each HTTP worker (two here) runs on a core of its own beside a read pool of its own, the
/// writer with its connection on the last core the process may run on. Read off the running
/// binary's threads; with `sqlite_pin_threads` off, every thread may run on every core.
#[cfg(target_os = "linux")]
#[test]
fn sqlite_threads_that_hand_statements_to_each_other_share_a_core() {
    let cores = core_affinity::get_core_ids().unwrap();
    if cores.len() < 2 {
        return; // one core: nothing to choose
    }
    let all = cores.iter().map(|c| c.id.to_string()).collect::<Vec<_>>();
    let last = all.last().unwrap().to_owned();
    let of = |threads: &[(String, String)], prefix: &str| -> Vec<String> {
        threads
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, cores)| cores.clone())
            .collect()
    };
    let observe = |envs: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let (child, port, stdout) = start_with(dir.path(), envs);
        // Each connection goes to the next worker: both have started once these are answered.
        for _ in 0..4 {
            assert_eq!(http_status(port, "/readyz"), 200);
        }
        let threads = threads_and_cores(child.id());
        let (clean, log) = terminate(child, stdout);
        assert!(clean, "{log}");
        threads
    };

    let threads = observe(&[("RAPPORT_WORKERS", "2")]);
    let (writers, writer_connections) = (
        of(&threads, "rapport-writer"),
        of(&threads, "sqlite-writer"),
    );
    assert_eq!(writers, std::slice::from_ref(&last), "{threads:?}");
    assert_eq!(
        writer_connections,
        std::slice::from_ref(&last),
        "{threads:?}"
    );
    let mut readers = of(&threads, "sqlite-reader");
    readers.sort();
    readers.dedup();
    let mut expected_readers = all.clone();
    expected_readers.sort();
    assert_eq!(
        readers, expected_readers,
        "a read pool on each core: {threads:?}"
    );
    let mut workers = of(&threads, "actix-server wo");
    workers.sort();
    let mut expected_workers = all[..2].to_vec();
    expected_workers.sort();
    assert_eq!(
        workers, expected_workers,
        "a core for each worker: {threads:?}"
    );

    let unpinned = observe(&[
        ("RAPPORT_WORKERS", "2"),
        ("RAPPORT_SQLITE_PIN_THREADS", "false"),
    ]);
    let everywhere = of(&unpinned, "")[0].clone();
    assert!(everywhere.contains(['-', ',']), "{everywhere}");
    assert!(
        unpinned.iter().all(|(_, cores)| *cores == everywhere),
        "{unpinned:?}"
    );
}
