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

mod group_commit;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// How long a request waits for a connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a SQLite connection waits for the file lock held by another process.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows a SQLite connection's worker thread may read ahead of the task consuming them. The
/// driver's default (50) makes the worker block and be woken again every few rows of a large
/// result, a thread handoff per row or so on the network-wide reads.
const ROW_BUFFER: usize = 4096;
/// How long a PostgreSQL connection may sit idle before it is pinged on checkout.
const STALE_AFTER: Duration = Duration::from_secs(30);
/// Key of the PostgreSQL advisory lock that serialises migrations across instances.
const MIGRATION_LOCK_KEY: i64 = 0x0072_6170_706f_7274; // "rapport" in ASCII

/// The application's database: a read handle and a write handle.
#[derive(Clone, Debug)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
    /// Statements run through either handle since the pools opened.
    statements: Arc<AtomicU64>,
    /// Admits the reads of a user's whole network a few at a time; see [`Db::whole_network`].
    whole_network: Arc<Semaphore>,
    /// SQLite's writes that commit together; see [`Db::write`].
    group_commit: Option<GroupCommit>,
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
            read,
            write,
            statements,
            whole_network: Arc::new(Semaphore::new(cores)),
            group_commit,
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
    pub fn reader(&self) -> &DatabaseConnection {
        &self.read
    }

    /// For every statement that changes data.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.write
    }

    /// Starts a write transaction on the writer.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write.begin().await
    }

    pub fn backend(&self) -> DbBackend {
        self.read.get_database_backend()
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
        self.read.ping().await
    }

    /// Name of the newest applied migration, if any. Reads only.
    pub async fn migration_version(&self) -> Result<Option<String>, DbErr> {
        let applied = Migrator::get_applied_migrations_read_only(&self.read).await?;
        Ok(applied.last().map(|m| m.name().to_owned()))
    }

    /// Closes both pools; later queries fail as if the database were gone.
    pub async fn close(&self) -> Result<(), DbErr> {
        self.read.close_by_ref().await?;
        self.write.close_by_ref().await
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
            });
        if in_memory {
            // An in-memory database lives as long as its one connection.
            options.idle_timeout(None).max_lifetime(None);
        }
        options
    };
    if in_memory {
        let conn = Database::connect(options(1)).await?;
        return Ok(Db::new(conn.clone(), conn, true));
    }
    // The writer first: it creates the file and switches it to WAL before readers open it.
    let mut write_options = options(1);
    write_options.acquire_timeout(Duration::from_secs(30));
    let write = Database::connect(write_options).await?;
    let readers = std::thread::available_parallelism().map_or(4, |n| n.get() as u32 * 2);
    let read = Database::connect(options(readers.max(4))).await?;
    Ok(Db::new(read, write, false))
}

async fn connect_postgres(url: &str) -> anyhow::Result<Db> {
    let options = |url: &str| {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(16)
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
pub async fn migrate_up(db: &Db) -> anyhow::Result<()> {
    let conn = db.writer();
    if db.backend() == DbBackend::Postgres {
        let txn = conn.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [MIGRATION_LOCK_KEY.into()],
        ))
        .await?;
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
    } else {
        let txn = conn.begin().await?;
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// True when the error means the database cannot be reached (answered 503), as opposed to a
/// statement that failed (answered 500).
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
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
    }
}
