//! The database pools' connections.

use std::collections::BTreeMap;
use std::os::fd::{BorrowedFd, RawFd};

use rapport::db;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::{TestDatabase, test_settings};

/// Every connection the PostgreSQL pool opens sends without waiting (`TCP_NODELAY`): with
/// Nagle's algorithm on, a query now and then waited about 40 ms for the server's delayed
/// acknowledgement.
#[tokio::test]
async fn every_postgresql_connection_sends_without_delay() {
    let (_database, url) = TestDatabase::create().await;
    let server_port = url
        .parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
        .map(|options| options.get_port());
    let db = db::connect(&test_settings(url))
        .await
        .expect("connect to the test database");
    if db.backend() != DbBackend::Postgres {
        // SQLite has no connection to a server.
        return;
    }
    let server_port = server_port.expect("a PostgreSQL URL");
    // Four statements at once, each holding its connection a moment: the pool opens several.
    // Each returns its connection's port on this side, as the server sees it.
    let port = || async {
        let row = db
            .reader()
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT inet_client_port() AS port FROM pg_sleep(0.05)",
            ))
            .await
            .expect("the client port")
            .expect("one row");
        u16::try_from(row.try_get::<i32>("", "port").expect("a port")).expect("a port")
    };
    let (a, b, c, d) = tokio::join!(port(), port(), port(), port());
    let mut ports: BTreeMap<u16, Option<bool>> = [a, b, c, d].map(|p| (p, None)).into();
    assert!(ports.len() > 1, "the pool opened one connection only");

    for entry in std::fs::read_dir("/dev/fd").expect("this process's descriptors") {
        let Some(fd) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<RawFd>().ok())
        else {
            continue;
        };
        // SAFETY: the descriptor is only asked for its address and a socket option; one closed
        // meanwhile makes the calls fail.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let address = |a: socket2::SockAddr| a.as_socket().map(|a| a.port());
        let local = socket.local_addr().ok().and_then(address);
        let peer = socket.peer_addr().ok().and_then(address);
        if peer != Some(server_port) {
            continue;
        }
        if let Some(seen) = local.and_then(|local| ports.get_mut(&local)) {
            *seen = Some(socket.tcp_nodelay().expect("a TCP socket"));
        }
    }
    for (port, no_delay) in ports {
        assert_eq!(
            no_delay,
            Some(true),
            "the connection from port {port} (None: not found)"
        );
    }
}

/// SQLite plans a paged read once and reuses the plan, whatever values are bound: with its
/// planner reading a bound `LIMIT ?` as a constant, every execution re-prepared the statement
/// (parsed and planned it again), the largest single cost of a follow-up page. Counted by
/// SQLite itself, on the writer's one connection, for a statement run three times with other
/// values.
#[tokio::test]
async fn sqlite_reuses_the_plan_of_a_paged_read() {
    use std::ffi::{CStr, c_int};

    let (_database, url) = TestDatabase::create().await;
    let db = db::connect(&test_settings(url))
        .await
        .expect("connect to the test database");
    if db.backend() != DbBackend::Sqlite {
        // PostgreSQL plans on the server, not in this process.
        return;
    }
    let sql = "SELECT name FROM sqlite_master WHERE name > ? ORDER BY name LIMIT ?";
    for (name, limit) in [("a", 1), ("b", 25), ("c", 26)] {
        db.writer()
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                [name.into(), limit.into()],
            ))
            .await
            .expect("the paged read");
    }
    let pool = db.writer().get_sqlite_connection_pool();
    let mut conn = pool.acquire().await.expect("the writer's connection");
    let mut handle = conn.lock_handle().await.expect("its handle");
    let raw = handle.as_raw_handle().as_ptr();
    let mut counts = Vec::new();
    // SAFETY: the handle is locked out of the connection's worker thread while it is read;
    // the statements listed belong to the connection and outlive the loop.
    unsafe {
        let mut statement = libsqlite3_sys::sqlite3_next_stmt(raw, std::ptr::null_mut());
        while !statement.is_null() {
            let text = CStr::from_ptr(libsqlite3_sys::sqlite3_sql(statement))
                .to_string_lossy()
                .into_owned();
            let runs = libsqlite3_sys::sqlite3_stmt_status(
                statement,
                libsqlite3_sys::SQLITE_STMTSTATUS_RUN,
                0 as c_int,
            );
            let reprepared = libsqlite3_sys::sqlite3_stmt_status(
                statement,
                libsqlite3_sys::SQLITE_STMTSTATUS_REPREPARE,
                0 as c_int,
            );
            if text.contains("LIMIT ?") {
                counts.push((runs, reprepared));
            }
            statement = libsqlite3_sys::sqlite3_next_stmt(raw, statement);
        }
    }
    assert_eq!(counts, [(3, 0)], "(runs, re-preparations) of `{sql}`");
}

/// The SQLite library is built without the global locks its reader threads would take turns
/// on (`.cargo/config.toml`): a memory-statistics mutex around every allocation, and one page
/// cache shared by every connection behind one mutex (`SQLITE_ENABLE_MEMORY_MANAGEMENT`).
#[tokio::test]
async fn sqlite_is_built_without_global_locks_on_memory() {
    let db = sea_orm::Database::connect("sqlite::memory:")
        .await
        .expect("an in-memory SQLite database");
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA compile_options",
        ))
        .await
        .expect("the compile options");
    let options: Vec<String> = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()
        .expect("option names");
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0")
            && !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
}

/// mimalloc is built to commit its arenas' memory as it is used (`.cargo/config.toml`), and
/// the option numbers the program sets name the options meant: the arena option reads the
/// build's 0 where mimalloc's default is 2, the purge delay mimalloc's default of 1000 ms
/// until the program sets it to 0.
#[test]
fn mimalloc_commits_memory_as_used_and_returns_it_at_once() {
    use rapport::allocator::{ARENA_EAGER_COMMIT, PURGE_DELAY, configure, option};

    assert_eq!(option(ARENA_EAGER_COMMIT), 0);
    assert_eq!(option(PURGE_DELAY), 1000);
    configure();
    assert_eq!(option(PURGE_DELAY), 0);
}
