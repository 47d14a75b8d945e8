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
