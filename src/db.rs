//! Database connections per backend, the write path, and migrations.
//!
//! SQLite allows one writer at a time. Several pooled connections that all write would meet
//! `SQLITE_BUSY` ("database is locked") whenever a deferred transaction that began by reading
//! tries to upgrade to a write lock while another connection holds it: SQLite fails such an
//! upgrade at once instead of waiting, whatever `busy_timeout` says. Rapport therefore gives
//! SQLite a dedicated single-connection writer pool: writers queue in the pool (in-process, in
//! order) instead of racing for the file lock, and readers use their own pool, which WAL lets run
//! concurrently with the writer. On PostgreSQL both handles are the same pool.
//!
//! Measured with `tests/api/write_path.rs` (200 concurrent read-then-insert transactions): with
//! writes spread over a pool of 4 connections, 141 of 200 failed with "database is locked"
//! despite a 10 s busy timeout; through the single writer, none failed and all 200 rows landed.
//!
//! # Writing
//!
//! Every change the application makes goes through one call, [`Db::write`]:
//!
//! ```ignore
//! db.write(move |txn| {
//!     let fields = fields.clone(); // what the work needs, cloned for each run
//!     Box::pin(async move {
//!         // read and write through `txn` only
//!         Ok(value)
//!     })
//! })
//! .await
//! ```
//!
//! The work runs in one transaction and its value is returned once that has committed; when it
//! fails, nothing it wrote remains. On SQLite it joins the writes waiting for the single
//! writer, which commit together with one disk flush (`db/group_commit.rs`); when another write
//! of its batch fails, it runs again in a transaction of its own. The work must therefore be
//! repeatable: everything it needs it reads through `txn` or captures by value (an `Arc` for
//! what is costly to clone), and it has no effect outside the transaction. Secrets, password
//! hashes and random tokens are made before the call, so a second run writes the same ones. A
//! write whose failure must still commit something (a reused refresh token revokes its family)
//! returns `Ok` with what happened and turns it into the error after the commit.
//!
//! Whatever must change with every write (the idempotent response today) is written inside the
//! same work, so it commits or vanishes with it. [`Db::writer`] gives the connection itself to
//! migrations, the bulk loaders and tests; nothing else uses it.

mod group_commit;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::future::BoxFuture;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous as SqlxSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, RuntimeErr, Statement, TransactionTrait,
};
use tokio::sync::{Semaphore, SemaphorePermit};

use self::group_commit::GroupCommit;
pub use self::group_commit::MAX_BATCH;

use crate::config::{DatabaseKind, Settings, SqliteSynchronous, redact_url_password};
use crate::error::ApiError;

/// The most connections a pool holds.
const MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a SQLite connection waits for the file lock held by another process.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows a SQLite connection's worker thread may read ahead of the task consuming them. The
/// driver's default (50) makes the worker block and be woken again every few rows of a large
/// result, a thread handoff per row or so on the network-wide reads.
const ROW_BUFFER: usize = 4096;
/// The page cache of each SQLite connection, in KiB (SQLite's default is 2,000). Reads of a
/// large network touch index and table pages spread over the file: with the default, a
/// follow-up page at 100,000 contacts spent most of its time copying pages in again from the
/// operating system's cache. A cache fills only as pages are read, so a small database keeps
/// a small one; at most this much per connection, five connections on two cores.
const SQLITE_CACHE_KIB: i64 = 16 * 1024;
/// How long a PostgreSQL connection may sit idle before it is pinged on checkout.
const STALE_AFTER: Duration = Duration::from_secs(30);
/// Bytes the readiness probe writes after a write failed for lack of storage: about one
/// contact with long notes, so that "ready" means such a write would find room.
const PROBE_BYTES: usize = 64 * 1024;
/// Key of the PostgreSQL advisory lock that serialises migrations across instances.
const MIGRATION_LOCK_KEY: i64 = 0x0072_6170_706f_7274; // "rapport" in ASCII

/// The application's database: a read handle and a write handle.
#[derive(Clone, Debug)]
pub struct Db {
    read: Reader,
    write: DatabaseConnection,
    /// Statements run through either handle since the pools opened.
    statements: Arc<AtomicU64>,
    /// Admits the reads of a user's whole network a few at a time; see [`Db::whole_network`].
    whole_network: Arc<Semaphore>,
    /// SQLite's writes that commit together; see [`Db::write`].
    group_commit: Option<GroupCommit>,
    /// Set while writes fail for lack of storage; see [`Db::storage_full`].
    storage_full: Arc<AtomicBool>,
}

impl Db {
    /// Wraps the two handles, counting every statement they run.
    fn new(mut read: DatabaseConnection, mut write: DatabaseConnection, same: bool) -> Self {
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        read.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        if same {
            write = read.clone();
        } else {
            let counter = statements.clone();
            write.set_metric_callback(move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            });
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let group_commit = (write.get_database_backend() == DbBackend::Sqlite)
            .then(|| GroupCommit::start(write.clone()));
        Self {
            read: Reader(read),
            write,
            statements,
            whole_network: Arc::new(Semaphore::new(cores)),
            group_commit,
            storage_full: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Runs `work` in a write transaction and returns its result once that has committed;
    /// when `work` fails, nothing it wrote remains. On SQLite the transaction is shared with
    /// the other writes waiting for the single writer, which commit with one disk flush (see
    /// `db/group_commit.rs`), so `work` must be repeatable: it may run a second time, in a
    /// transaction of its own, when another write of its batch failed.
    pub async fn write<T, W>(&self, work: W) -> Result<T, ApiError>
    where
        T: Send + 'static,
        W: for<'t> Fn(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, ApiError>>
            + Send
            + 'static,
    {
        if let Some(group_commit) = &self.group_commit {
            return group_commit.run(work).await;
        }
        let txn = self.begin_write().await?;
        let value = work(&txn).await?;
        txn.commit().await?;
        Ok(value)
    }

    /// A permit to read and work through a user's whole network (follow-ups, suggestions,
    /// statistics, relationship-sorted contact lists), held until dropped. Such a request is
    /// CPU-bound and holds its rows in memory, so running more of them at once than there are
    /// cores only adds memory: under 32 concurrent follow-ups requests on the 1,000-contact
    /// benchmark user the server's peak RSS went from 110 MB without it to the figure in
    /// BENCHMARKS.md, at the same throughput.
    pub async fn whole_network(&self) -> Result<SemaphorePermit<'_>, DbErr> {
        self.whole_network
            .acquire()
            .await
            .map_err(|_| DbErr::Custom("the database handle is closed".to_owned()))
    }

    /// True after a write failed for lack of storage, until one succeeds again: `/readyz`
    /// answers 503 meanwhile, so a load balancer stops sending this instance writes it would
    /// refuse.
    pub fn storage_full(&self) -> bool {
        self.storage_full.load(Ordering::Relaxed)
    }

    /// Records whether the latest write found room: `false` after a `storage_full` failure,
    /// `true` after a write that committed.
    pub fn note_storage(&self, had_room: bool) {
        let was_full = self.storage_full.swap(!had_room, Ordering::Relaxed);
        if was_full == had_room {
            if had_room {
                tracing::info!("the database takes writes again");
            } else {
                tracing::error!("the database has no room for writes");
            }
        }
    }

    /// Rewrites one row of [`PROBE_BYTES`] through the write path, to learn whether the
    /// database has room for writes again.
    pub async fn probe_write(&self) -> Result<(), ApiError> {
        use sea_orm::sea_query::{Alias, OnConflict, Query};
        let column = |name: &str| Alias::new(name);
        let insert = Query::insert()
            .into_table(Alias::new("writer_probe"))
            .columns([column("id"), column("written_at"), column("room")])
            .values_panic([
                1i16.into(),
                crate::clock::now().into(),
                vec![0u8; PROBE_BYTES].into(),
            ])
            .on_conflict(
                OnConflict::column(column("id"))
                    .update_columns([column("written_at"), column("room")])
                    .to_owned(),
            )
            .to_owned();
        let statement = self.backend().build(&insert);
        let written = self
            .write(move |txn| {
                let statement = statement.clone();
                Box::pin(async move {
                    txn.execute_raw(statement).await?;
                    Ok(())
                })
            })
            .await;
        self.note_storage(!matches!(written, Err(ApiError::StorageFull(_))));
        written
    }

    /// On SQLite, how many writes are queued behind the one being written, and how many
    /// transactions the writer has committed; `None` on PostgreSQL, whose writes run in
    /// transactions of their own.
    pub fn group_commit_state(&self) -> Option<(usize, u64)> {
        self.group_commit
            .as_ref()
            .map(|g| (g.waiting(), g.commits()))
    }

    /// How many SQL statements have run so far: what proves a request's query count does
    /// not grow with the size of its answer.
    pub fn statements_run(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// For queries. Never write through it: on SQLite it is not the writer.
    pub fn reader(&self) -> &Reader {
        &self.read
    }

    /// The writer connection itself, for migrations, the bulk loaders of `seed-demo` and
    /// `seed-bench`, and tests. The application writes through [`Db::write`] only.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.write
    }

    /// Starts a write transaction on the writer.
    async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write.begin().await
    }

    pub fn backend(&self) -> DbBackend {
        self.read.0.get_database_backend()
    }

    /// A short name of the backend for `/readyz` and the logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.read.0.ping().await
    }

    /// Name of the newest applied migration, if any. Reads only.
    pub async fn migration_version(&self) -> Result<Option<String>, DbErr> {
        let applied = Migrator::get_applied_migrations_read_only(&self.read.0).await?;
        Ok(applied.last().map(|m| m.name().to_owned()))
    }

    /// Closes both pools; later queries fail as if the database were gone.
    pub async fn close(&self) -> Result<(), DbErr> {
        self.read.0.close_by_ref().await?;
        self.write.close_by_ref().await
    }
}

/// The read handle. A query that fails because its connection was lost (the server
/// restarted, a proxy or an administrator closed it) runs again on another connection. The
/// pool does not take back a connection that fails its ping on release, so each retry meets
/// either another stale connection, which fails at once and is dropped in turn, or a fresh
/// one; after a restart every idle connection is stale, hence as many tries as the pool
/// holds connections. When no connection can be opened the pool's own acquire timeout ends
/// it (503). Only queries are retried; a statement that changes data never goes through
/// this handle.
#[derive(Clone, Debug)]
pub struct Reader(DatabaseConnection);

impl Reader {
    async fn retried<T, F, Fut>(&self, stmt: Statement, run: F) -> Result<T, DbErr>
    where
        F: Fn(Statement) -> Fut,
        Fut: std::future::Future<Output = Result<T, DbErr>>,
    {
        let mut tries = 1;
        loop {
            match run(stmt.clone()).await {
                Err(err) if lost_connection(&err) && tries <= MAX_CONNECTIONS => {
                    tracing::warn!(error = %err, tries, "a read lost its connection; trying another");
                    tries += 1;
                }
                done => return done,
            }
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Reader {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.0.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.retried(stmt, |stmt| self.0.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.retried(stmt, |stmt| self.0.query_all_raw(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.0.support_returning()
    }
}

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
    let options = |max_connections: u32| {
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
            });
        if in_memory {
            // An in-memory database lives as long as its one connection.
            options.idle_timeout(None).max_lifetime(None);
        }
        options
    };
    if in_memory {
        let mut options = options(1);
        options.map_sqlx_sqlite_pool_opts(|o| o.after_release(release_if_out_of_transaction));
        let conn = Database::connect(options).await?;
        return Ok(Db::new(conn.clone(), conn, true));
    }
    // The writer first: it creates the file and switches it to WAL before readers open it.
    let mut write_options = options(1);
    write_options
        .acquire_timeout(Duration::from_secs(30))
        .map_sqlx_sqlite_pool_opts(|o| o.after_release(release_if_out_of_transaction));
    let write = Database::connect(write_options).await?;
    let readers = std::thread::available_parallelism().map_or(4, |n| n.get() as u32 * 2);
    let read = Database::connect(options(readers.clamp(4, MAX_CONNECTIONS))).await?;
    Ok(Db::new(read, write, false))
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
    let options = |url: &str| {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(MAX_CONNECTIONS)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_timeout(ACQUIRE_TIMEOUT)
            // Ping only a connection idle long enough for the server or a proxy to have
            // dropped it, not every checkout: that was one more round trip per statement.
            .test_before_acquire_if_idle_for(STALE_AFTER)
            .sqlx_logging_level(log::LevelFilter::Debug);
        options
    };
    let conn = match Database::connect(options(url)).await {
        Ok(conn) => conn,
        Err(err) if is_missing_database(&err) => {
            create_postgres_database(url).await?;
            Database::connect(options(url)).await?
        }
        Err(err) => return Err(err.into()),
    };
    Ok(Db::new(conn.clone(), conn, true))
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
/// holds an advisory lock, so instances started together apply them once and in order.
/// Returns the names of the migrations this call applied.
pub async fn migrate_up(db: &Db) -> anyhow::Result<Vec<String>> {
    let txn = db.writer().begin().await?;
    if db.backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [MIGRATION_LOCK_KEY.into()],
        ))
        .await?;
    }
    let pending: Vec<String> = Migrator::get_pending_migrations(&txn)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(pending)
}

/// What the database said about a statement it refused, if it got that far.
fn database_error(err: &DbErr) -> Option<&dyn sea_orm::sqlx::error::DatabaseError> {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e.as_database_error(),
        _ => None,
    }
}

/// The code the database gave for a failed statement: SQLite's extended result code as a
/// number (`"13"`), PostgreSQL's five-character SQLSTATE (`"53100"`).
fn database_code(err: &DbErr) -> Option<String> {
    database_error(err)?.code().map(|code| code.into_owned())
}

/// The constraint a statement violated, when the database names it (PostgreSQL does; SQLite
/// does not, but its single writer cannot lose the races that lead there).
pub fn violated_constraint(err: &DbErr) -> Option<String> {
    database_error(err)?.constraint().map(str::to_owned)
}

/// True when the database refused a write for lack of storage: SQLite's `SQLITE_FULL` (a full
/// disk, or `max_page_count` reached), PostgreSQL's `disk_full` (53100). Answered 507.
pub fn is_storage_full(err: &DbErr) -> bool {
    matches!(database_code(err).as_deref(), Some("13" | "53100"))
}

/// Whether `err` says an open connection was lost under the statement, not that the database
/// refused the statement or that no connection could be had: the failures worth another try.
pub fn lost_connection(err: &DbErr) -> bool {
    let transport = match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                e.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::Tls(_)
                    | sea_orm::sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    };
    // SQLSTATE class 08 (connection exception) and the shutdowns of class 57 (57P01–57P05);
    // not 57014, a statement cancelled for its own duration, which would only run as long again.
    transport
        || database_code(err).is_some_and(|code| {
            code.len() == 5 && (code.starts_with("08") || code.starts_with("57P"))
        })
}

/// True when the error means the database cannot be reached or is not taking statements for
/// the moment (answered 503 with `Retry-After`), as opposed to a statement that failed
/// (answered 500) or a full disk (507, which waits for an operator): the pool's own failures,
/// I/O on the connection, PostgreSQL's connection exceptions (SQLSTATE class 08), operator
/// interventions such as a server shutting down (class 57) and resources short for the moment
/// (53000, `out_of_memory` 53200, `too_many_connections` 53300), and SQLite's file lock held
/// past the busy timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`) or memory refused (`SQLITE_NOMEM`).
pub fn is_unavailable(err: &DbErr) -> bool {
    let transport = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                e.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::Tls(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    };
    transport
        || database_code(err).is_some_and(|code| match code.len() {
            // SQLSTATE: five characters, the first two its class.
            5 => {
                code.starts_with("08")
                    || code.starts_with("57")
                    || matches!(code.as_str(), "53000" | "53200" | "53300")
            }
            // SQLite: the primary code is the low byte of the extended one.
            _ => code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5..=7)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_error(sql: &str) -> DbErr {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let conn = Database::connect("sqlite::memory:").await.unwrap();
            conn.execute_unprepared(sql).await.unwrap_err()
        })
    }

    #[test]
    fn only_a_connection_lost_under_a_query_is_worth_another_try() {
        let io = DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(
            sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        )));
        assert!(lost_connection(&io));
        let timed_out = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert!(!lost_connection(&timed_out), "the pool already waited");
        assert!(is_unavailable(&timed_out));
        assert!(!lost_connection(&sqlite_error(
            "SELECT nonsense FROM nowhere"
        )));
    }

    #[test]
    fn sqlite_full_is_storage_full_and_a_syntax_error_is_neither() {
        let full = sqlite_error(
            "PRAGMA max_page_count = 2; CREATE TABLE t (x); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 2000) \
             INSERT INTO t SELECT randomblob(1000) FROM n",
        );
        assert!(is_storage_full(&full), "{full:?}");
        assert!(!is_unavailable(&full));
        let syntax = sqlite_error("SELEC 1");
        assert!(!is_storage_full(&syntax) && !is_unavailable(&syntax));
    }
}
