//! Opening the pools for each backend, and applying migrations.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::future::BoxFuture;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous as SqlxSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseTransaction, DbBackend, DbErr, RuntimeErr,
    Statement, TransactionTrait,
};

use super::affinity::Placement;
use super::{Db, MAX_CONNECTIONS, SQLITE_CACHE_KIB};
use crate::config::{DatabaseKind, Settings, SqliteSynchronous, redact_url_password};

/// How long a request waits for a connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a SQLite connection waits for the file lock held by another process.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows a SQLite connection's worker thread may read ahead of the task consuming them. The
/// driver's default (50) makes the worker block and be woken again every few rows of a large
/// result, a thread handoff per row or so on the network-wide reads.
const ROW_BUFFER: usize = 4096;
/// The name of the writer connection's thread in the driver, before its number.
const WRITER_THREADS: &str = "sqlite-writer";
/// How long a PostgreSQL connection may sit idle before it is pinged on checkout.
const STALE_AFTER: Duration = Duration::from_secs(30);
/// Connections a PostgreSQL pool keeps open, idle or not: enough for the reads of one request
/// that run together (five for follow-ups) and one more. Opening a connection takes a TLS
/// handshake whenever the server offers TLS (the URL's default `sslmode=prefer`), before
/// `no_delay_to` can reach the socket: about 95 ms on the benchmark machine, against 3 ms with
/// `sslmode=disable`. With one connection kept, the first requests opened the rest on their
/// way: follow-ups' p99 at one connection was 87 ms over the first eight seconds of a fresh
/// server, 7 ms over the next eight. The pool opens these in the background at start and
/// after it has closed idle ones; more open on demand, up to `MAX_CONNECTIONS`.
const POSTGRES_MIN_CONNECTIONS: u32 = 6;
/// The settings of the connections of [`Db::generic_reader`] on PostgreSQL, sent when each
/// opens (the `options` startup parameter). Every statement they prepare keeps the plan made
/// for it without its values; and none is compiled to machine code: a generic plan takes a
/// bound `LIMIT` for a tenth of the rows it could reach, and the cost it then estimates for a
/// page of follow-ups at 100,000 contacts passed the threshold of just-in-time compilation,
/// which took 600 ms of each execution of a statement that runs in 0.3.
pub const GENERIC_PLANS: [(&str, &str); 2] =
    [("plan_cache_mode", "force_generic_plan"), ("jit", "off")];
/// The most connections [`Db::generic_reader`]'s pool holds on PostgreSQL. A request holds
/// one for one statement at a time, a few tenths of a millisecond for a page of follow-ups or
/// suggestions: half the shared pool's number serves as many requests at once without
/// doubling what each instance may open.
const GENERIC_MAX_CONNECTIONS: u32 = MAX_CONNECTIONS / 2;
/// Connections that pool keeps open: opening one costs a handshake (see
/// [`POSTGRES_MIN_CONNECTIONS`]), and each keeps its plans.
const GENERIC_MIN_CONNECTIONS: u32 = 2;
/// Key of the PostgreSQL advisory lock that serialises migrations across instances.
const MIGRATION_LOCK_KEY: i64 = 0x0072_6170_706f_7274; // "rapport" in ASCII

/// Connects to the configured database, creating a missing PostgreSQL database.
pub async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    let shown_url = redact_url_password(&settings.database_url);
    let db = match settings.database_kind()? {
        DatabaseKind::Postgres => connect_postgres(&settings.database_url).await,
        DatabaseKind::Sqlite(path) => {
            if let Some(parent) = path.as_deref().and_then(|p| p.parent())
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create directory {}", parent.display()))?;
            }
            connect_sqlite(settings, path.is_none()).await
        }
    };
    db.with_context(|| format!("cannot connect to the database at {shown_url}"))
}

async fn connect_sqlite(settings: &Settings, in_memory: bool) -> anyhow::Result<Db> {
    let synchronous = match settings.sqlite_synchronous {
        SqliteSynchronous::Full => SqlxSynchronous::Full,
        SqliteSynchronous::Normal => SqlxSynchronous::Normal,
    };
    // Each connection's thread in the driver is named after its pool, `threads`-N.
    let options = |max_connections: u32, threads: &'static str| {
        let mut options = ConnectOptions::new(settings.database_url.clone());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection to a local file does not go stale; the driver's default ping on
            // every checkout was one more round trip to the connection's thread per statement.
            .test_before_acquire(false)
            .sqlx_logging_level(log::LevelFilter::Debug)
            .map_sqlx_sqlite_opts(move |o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .synchronous(synchronous)
                    .create_if_missing(true)
                    .row_buffer_size(ROW_BUFFER)
                    .pragma("cache_size", (-SQLITE_CACHE_KIB).to_string())
                    .thread_name(move |id| format!("{threads}-{id}"))
            });
        if in_memory {
            // An in-memory database lives as long as its one connection.
            options.idle_timeout(None).max_lifetime(None);
        }
        options
    };
    if in_memory {
        let mut options = options(1, "sqlite");
        options.map_sqlx_sqlite_pool_opts(|o| {
            o.after_connect(plan_once)
                .after_release(release_if_out_of_transaction)
        });
        let conn = Database::connect(options).await?;
        return Ok(Db::new(
            vec![conn.clone()],
            conn,
            true,
            None,
            Placement::default(),
        )?);
    }
    // The writer first: it creates the file and switches it to WAL before readers open it.
    let placement = if settings.sqlite_pin_threads {
        Placement::pinned()
    } else {
        Placement::default()
    };
    let writer_core = placement.writer;
    let mut write_options = options(1, WRITER_THREADS);
    write_options
        .acquire_timeout(Duration::from_secs(30))
        .map_sqlx_sqlite_pool_opts(move |o| {
            o.after_connect(move |conn, meta| {
                Box::pin(async move {
                    plan_once(conn, meta).await?;
                    if let Some(core) = writer_core {
                        pin(conn, core).await;
                    }
                    Ok(())
                })
            })
            .after_release(release_if_out_of_transaction)
        });
    let write = Database::connect(write_options).await?;
    let readers = std::thread::available_parallelism().map_or(4, |n| n.get() as u32 * 2);
    let readers = readers.clamp(4, MAX_CONNECTIONS);
    let mut read = Vec::new();
    if placement.readers.is_empty() {
        let mut read_options = options(readers, "sqlite-reader");
        read_options.map_sqlx_sqlite_pool_opts(|o| o.after_connect(plan_once));
        read.push(Database::connect(read_options).await?);
    } else {
        // A pool per core, its connections' threads pinned to it.
        let per_core = (readers / placement.readers.len() as u32).max(2);
        for &core in &placement.readers {
            let mut read_options = options(per_core, "sqlite-reader");
            read_options.map_sqlx_sqlite_pool_opts(move |o| {
                o.after_connect(move |conn, meta| {
                    Box::pin(async move {
                        plan_once(conn, meta).await?;
                        pin(conn, core).await;
                        Ok(())
                    })
                })
            });
            read.push(Database::connect(read_options).await?);
        }
    }
    Ok(Db::new(read, write, false, None, placement)?)
}

/// Has SQLite plan each statement once, whatever values are bound to it: its query planner
/// stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`). Without it, SQLite reads a bound
/// `LIMIT ?` as the constant it is bound to when it plans, and marks the prepared statement to
/// be prepared again whenever that parameter is bound anew. The driver binds every parameter
/// on every execution, so every paged read was parsed and planned again on every request,
/// however long it stayed in the driver's statement cache. The plans themselves do not depend
/// on the values (the tests of `EXPLAIN QUERY PLAN` run on connections set up this way).
fn plan_once(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> BoxFuture<'_, Result<(), sea_orm::sqlx::Error>> {
    use std::ffi::c_int;

    Box::pin(async move {
        let mut handle = conn.lock_handle().await?;
        let mut enabled: c_int = 0;
        // SAFETY: the handle is locked out of the connection's worker thread for as long as
        // `handle` lives; `SQLITE_DBCONFIG_ENABLE_QPSG` takes an int (1: on) and a pointer to
        // an int that receives the setting, which lives across the call.
        let code = unsafe {
            libsqlite3_sys::sqlite3_db_config(
                handle.as_raw_handle().as_ptr(),
                libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                &mut enabled as *mut c_int,
            )
        };
        if code != libsqlite3_sys::SQLITE_OK || enabled != 1 {
            return Err(sea_orm::sqlx::Error::Configuration(
                format!("SQLite refused its query planner stability guarantee (code {code})")
                    .into(),
            ));
        }
        Ok(())
    })
}

/// Pins the thread of the connection `conn` to `core`, beside the threads that use it (see
/// `db/affinity.rs`); where the system refuses, the connection runs unpinned.
async fn pin(conn: &mut sea_orm::sqlx::SqliteConnection, core: core_affinity::CoreId) {
    match super::affinity::pin_connection(conn, core).await {
        Ok(true) => tracing::debug!(core = core.id, "SQLite connection pinned"),
        Ok(false) => tracing::warn!(core = core.id, "cannot pin a SQLite connection's thread"),
        Err(err) => tracing::warn!(error = %err, "cannot pin a SQLite connection's thread"),
    }
}

/// Keeps a SQLite connection in the pool only when it is out of any transaction, as SQLite
/// itself reports (`sqlite3_get_autocommit`) and as the driver counts; otherwise the pool
/// closes it (rolling back whatever it held) and opens a fresh one.
///
/// A `COMMIT` that fails (a full disk: `SQLITE_FULL`) may leave SQLite's transaction open, or
/// roll it back behind the driver's back so that the driver's rollback fails too. Either way
/// the driver's transaction depth and SQLite's state disagree, and the single writer would
/// run every later write as a savepoint of a transaction that never commits: acknowledged
/// writes that are not there. Checked on every release of the connection, after the
/// rollback that dropping a failed transaction queues.
fn release_if_out_of_transaction(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> BoxFuture<'_, Result<bool, sea_orm::sqlx::Error>> {
    use sea_orm::sqlx::Connection;
    Box::pin(async move {
        let counted = conn.is_in_transaction();
        let mut handle = conn.lock_handle().await?;
        // SAFETY: the handle is locked out of the connection's worker thread for as long as
        // `handle` lives, and `sqlite3_get_autocommit` only reads the connection's state.
        let autocommit =
            unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) };
        let clean = !counted && autocommit != 0;
        if !clean {
            tracing::warn!(
                driver_in_transaction = counted,
                autocommit,
                "the SQLite writer connection was left inside a transaction; replacing it"
            );
        }
        Ok(clean)
    })
}

async fn connect_postgres(url: &str) -> anyhow::Result<Db> {
    let port = sea_orm::sqlx::postgres::PgConnectOptions::from_str(url)?.get_port();
    let options = |url: &str, pool: PgPool| {
        let mut options = ConnectOptions::new(url.to_owned());
        let (max, min) = match pool {
            PgPool::Shared => (MAX_CONNECTIONS, POSTGRES_MIN_CONNECTIONS),
            PgPool::Generic => (GENERIC_MAX_CONNECTIONS, GENERIC_MIN_CONNECTIONS),
        };
        options
            .max_connections(max)
            .min_connections(min)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_timeout(ACQUIRE_TIMEOUT)
            // Ping only a connection idle long enough for the server or a proxy to have
            // dropped it, not every checkout: that was one more round trip per statement.
            .test_before_acquire_if_idle_for(STALE_AFTER)
            .sqlx_logging_level(log::LevelFilter::Debug)
            .map_sqlx_postgres_pool_opts(move |o| {
                o.after_connect(move |_, _| {
                    Box::pin(async move {
                        let sockets = no_delay_to(port);
                        tracing::debug!(sockets, port, "TCP_NODELAY set on the database's sockets");
                        Ok(())
                    })
                })
            });
        if pool == PgPool::Generic {
            options.map_sqlx_postgres_opts(|o| o.options(GENERIC_PLANS));
        }
        options
    };
    let conn = match Database::connect(options(url, PgPool::Shared)).await {
        Ok(conn) => conn,
        Err(err) if is_missing_database(&err) => {
            create_postgres_database(url).await?;
            Database::connect(options(url, PgPool::Shared)).await?
        }
        Err(err) => return Err(err.into()),
    };
    let generic = Database::connect(options(url, PgPool::Generic)).await?;
    Ok(Db::new(
        vec![conn.clone()],
        conn,
        true,
        Some(generic),
        Placement::default(),
    )?)
}

/// PostgreSQL's pools: the one every statement uses unless told otherwise, and the one of
/// [`Db::generic_reader`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum PgPool {
    Shared,
    Generic,
}

/// Turns Nagle's algorithm off (`TCP_NODELAY`) on this process's TCP connections to `port`,
/// as libpq does on every connection, and returns how many it found.
///
/// The PostgreSQL driver (sqlx 0.9.0) no longer sets the option (launchbadge/sqlx#4335, fixed
/// upstream after that release). A message it writes in two segments then waits for the
/// server's delayed acknowledgement, about 40 ms on Linux: on the 1,000-contact benchmark user
/// over TCP, `GET /v1/follow-ups` had a p99 of 98 ms against 25 ms over a Unix socket (wrk, one
/// connection, 10 s). The driver gives no access to its socket, so each new connection's hook
/// sets the option on every descriptor of the process whose peer is on the database's port;
/// those of earlier connections have it already, and setting it again changes nothing.
fn no_delay_to(port: u16) -> usize {
    #[cfg(unix)]
    {
        use std::os::fd::{BorrowedFd, RawFd};

        let Ok(entries) = std::fs::read_dir("/dev/fd") else {
            return 0;
        };
        let descriptors =
            entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok());
        let mut set = 0;
        for fd in descriptors {
            // SAFETY: the descriptor is only asked for its peer and given a socket option. One
            // closed meanwhile by another thread makes both calls fail; one reused meanwhile
            // is another descriptor of this process, and a TCP connection of its to the
            // database's port is as well without Nagle's algorithm.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            let socket = socket2::SockRef::from(&fd);
            let to_database = socket
                .peer_addr()
                .ok()
                .and_then(|peer| peer.as_socket())
                .is_some_and(|peer| peer.port() == port);
            if to_database && socket.set_tcp_nodelay(true).is_ok() {
                set += 1;
            }
        }
        set
    }
    #[cfg(not(unix))]
    {
        let _ = port;
        0
    }
}

/// SQLSTATE 3D000: the database named in the URL does not exist.
fn is_missing_database(err: &DbErr) -> bool {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code == "3D000"),
        _ => false,
    }
}

async fn create_postgres_database(url: &str) -> anyhow::Result<()> {
    let options = sea_orm::sqlx::postgres::PgConnectOptions::from_str(url)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        bail!("the PostgreSQL URL names no database");
    };
    let (base, _) = url
        .rsplit_once('/')
        .context("the PostgreSQL URL has no database path")?;
    let admin = Database::connect(format!("{base}/postgres"))
        .await
        .with_context(|| {
            format!("database {name:?} does not exist and the server's `postgres` database is not reachable to create it; run `createdb {name}`")
        })?;
    let quoted = name.replace('"', "\"\"");
    let created = admin
        .execute_unprepared(&format!("CREATE DATABASE \"{quoted}\""))
        .await;
    admin.close().await?;
    match created {
        Ok(_) => {
            tracing::info!(database = %name, "created the PostgreSQL database");
            Ok(())
        }
        // Another instance created it first: either PostgreSQL saw it (42P04, "already
        // exists") or both inserts raced into pg_database's unique index (23505).
        Err(err)
            if err.to_string().contains("already exists")
                || matches!(
                    err.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
        {
            tracing::info!(database = %name, "another instance created the PostgreSQL database");
            Ok(())
        }
        Err(err) => Err(anyhow::Error::new(err).context(format!(
            "database {name:?} does not exist and could not be created; run `createdb {name}`"
        ))),
    }
}

/// Applies pending migrations inside one transaction, so a process stopped halfway leaves the
/// schema as it was (both backends have transactional DDL). On PostgreSQL the transaction also
/// holds an advisory lock, so instances started together apply them once and in order (see
/// [`in_migration_transaction`]). Returns the names of the migrations this call applied.
pub async fn migrate_up(db: &Db) -> anyhow::Result<Vec<String>> {
    in_migration_transaction(db, |txn| {
        Box::pin(async move {
            let pending: Vec<String> = Migrator::get_pending_migrations(txn)
                .await?
                .iter()
                .map(|m| m.name().to_owned())
                .collect();
            Migrator::up(txn, None).await?;
            let changed = !pending.is_empty();
            Ok((pending, changed))
        })
    })
    .await
}

/// Reverts the last `steps` applied migrations, in one transaction as [`migrate_up`] applies
/// them.
pub async fn migrate_down(db: &Db, steps: u32) -> anyhow::Result<()> {
    in_migration_transaction(db, |txn| {
        Box::pin(async move {
            Migrator::down(txn, Some(steps)).await?;
            Ok(((), true))
        })
    })
    .await
}

/// Drops every table and applies every migration, in one transaction as [`migrate_up`]
/// applies them.
pub async fn migrate_fresh(db: &Db) -> anyhow::Result<()> {
    in_migration_transaction(db, |txn| {
        Box::pin(async move { Migrator::fresh(txn).await.map(|()| ((), true)) })
    })
    .await
}

/// Runs `work` in one transaction of the writer, which on PostgreSQL holds the migrations'
/// advisory lock. On SQLite, with foreign keys off: a migration that changes a table's
/// constraints rebuilds the table, and dropping the old one must not delete or null the rows
/// that refer to it (SQLite's procedure for schema changes; the setting cannot change inside
/// a transaction, and the writer pool's one connection keeps it until it is set back). Every
/// key is then checked before the commit when `work` says it changed the schema (the check
/// reads the whole database: 1.3 s at 100,000 contacts, too long for every start-up), so a
/// migration cannot leave a row referring to nothing.
async fn in_migration_transaction<T, W>(db: &Db, work: W) -> anyhow::Result<T>
where
    W: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<(T, bool), DbErr>>,
{
    let sqlite = db.backend() == DbBackend::Sqlite;
    if sqlite {
        db.writer()
            .execute_unprepared("PRAGMA foreign_keys = OFF")
            .await?;
    }
    let result = async {
        let txn = db.writer().begin().await?;
        if !sqlite {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK_KEY.into()],
            ))
            .await?;
        }
        let (done, changed) = work(&txn).await?;
        if sqlite && changed {
            let broken = txn
                .query_all_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "PRAGMA foreign_key_check",
                ))
                .await?;
            if let Some(row) = broken.first() {
                let table: String = row.try_get_by_index(0)?;
                let parent: String = row.try_get_by_index(2)?;
                bail!(
                    "the migration left {} rows referring to nothing, the first in {table} (to {parent})",
                    broken.len()
                );
            }
        }
        txn.commit().await?;
        Ok(done)
    }
    .await;
    if sqlite {
        db.writer()
            .execute_unprepared("PRAGMA foreign_keys = ON")
            .await?;
    }
    result
}
