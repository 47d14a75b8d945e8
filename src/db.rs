//! Database connections per backend, the write path, and migrations.
//!
//! SQLite allows one writer at a time. Several pooled connections that all write would meet
//! `SQLITE_BUSY` ("database is locked") whenever a deferred transaction that began by reading
//! tries to upgrade to a write lock while another connection holds it: SQLite fails such an
//! upgrade at once instead of waiting, whatever `busy_timeout` says. Rapport therefore gives
//! SQLite a dedicated single-connection writer pool: writers queue in the pool (in-process, in
//! order) instead of racing for the file lock, and readers use their own pools (one per core,
//! beside the HTTP worker that uses it: `db/affinity.rs`), which WAL lets run concurrently with
//! the writer. On PostgreSQL both handles are the same pool; a second, smaller pool keeps
//! generic plans for the statements written for them ([`Db::generic_reader`]).
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
//! same work, so it commits or vanishes with it. The work sees its transaction as a [`Txn`]:
//! statements whose answer it does not need (the ledger's and the activity's upkeep) it may
//! defer ([`Write::defer`]), and on SQLite they reach the driver with its next statement or
//! at its end, in one call instead of one each (or with the next write's first call, in a
//! batch); on PostgreSQL consecutive deferred writes of tables apart go as one statement
//! (`db/txn.rs`). [`Db::writer`] gives the connection itself to migrations, the bulk loaders
//! and tests; nothing else uses it.

mod affinity;
mod connect;
mod errors;
mod group_commit;
mod txn;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use tokio::sync::{Semaphore, SemaphorePermit};

pub use self::connect::{GENERIC_PLANS, connect, migrate_down, migrate_fresh, migrate_up};
pub use self::errors::{
    RowMoved, is_storage_full, is_unavailable, lost_connection, lost_to_a_conflict,
    violated_constraint,
};
use self::group_commit::GroupCommit;
pub use self::group_commit::MAX_BATCH;
pub use self::txn::{Txn, Write};

/// How many times a PostgreSQL write transaction runs when it keeps losing to concurrent
/// writes: aborted to break a deadlock, or its row changed under it (see [`Db::write`]).
pub const WRITE_ATTEMPTS: u32 = 3;

use crate::error::ApiError;

/// The most connections a pool holds.
const MAX_CONNECTIONS: u32 = 16;
/// The page cache of each SQLite connection, in KiB (SQLite's default is 2,000). Reads of a
/// large network touch index and table pages spread over the file: with the default, a
/// follow-up page at 100,000 contacts spent most of its time copying pages in again from the
/// operating system's cache. A cache fills only as pages are read, so a small database keeps
/// a small one; at most this much per connection, five connections on two cores.
pub const SQLITE_CACHE_KIB: i64 = 16 * 1024;
/// Bytes the readiness probe writes after a write failed for lack of storage: about one
/// contact with long notes, so that "ready" means such a write would find room.
const PROBE_BYTES: usize = 64 * 1024;

/// The statements run while `on`; off, a statement costs one atomic load here.
#[derive(Debug, Default)]
struct StatementLog {
    on: AtomicBool,
    statements: std::sync::Mutex<Vec<sea_orm::Statement>>,
}

impl StatementLog {
    /// Keeps `statement` while on, each statement of a shared call (`db/txn.rs`) on its own.
    fn add(&self, statement: &sea_orm::Statement) {
        if self.on.load(Ordering::Relaxed) {
            self.lock().extend(txn::split(statement));
        }
    }

    /// The statements; a panic while another thread held them leaves them readable.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<sea_orm::Statement>> {
        self.statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The application's database: a read handle and a write handle.
#[derive(Clone, Debug)]
pub struct Db {
    /// The read pools: one, or on SQLite one per core, each pinned to its core (see
    /// [`Db::settle_http_worker`]).
    read: Arc<[Reader]>,
    /// On PostgreSQL, the pool whose connections keep generic plans; see
    /// [`Db::generic_reader`].
    generic_read: Option<Reader>,
    /// The cores of the writer and of each read pool, when they are pinned.
    placement: Arc<affinity::Placement>,
    /// HTTP workers given a read pool so far; see [`Db::settle_http_worker`].
    workers_settled: Arc<std::sync::atomic::AtomicUsize>,
    write: DatabaseConnection,
    /// Statements run through either handle since the pools opened.
    statements: Arc<AtomicU64>,
    /// Calls to the driver since the pools opened: one per statement, but one for all the
    /// statements a write deferred (see `db/txn.rs`).
    calls: Arc<AtomicU64>,
    /// The statements run while it is on; see [`Db::log_statements`].
    log: Arc<StatementLog>,
    /// Admits the reads of a user's whole network a few at a time; see [`Db::whole_network`].
    whole_network: Arc<Semaphore>,
    /// SQLite's writes that commit together; see [`Db::write`].
    group_commit: Option<GroupCommit>,
    /// Set while writes fail for lack of storage; see [`Db::storage_full`].
    storage_full: Arc<AtomicBool>,
}

impl Db {
    /// Wraps the handles, counting every statement they run. On SQLite, starts the writer
    /// (see `db/group_commit.rs`), its thread pinned to `writer_core` when given.
    fn new(
        mut read: Vec<DatabaseConnection>,
        mut write: DatabaseConnection,
        same: bool,
        mut generic_read: Option<DatabaseConnection>,
        placement: affinity::Placement,
    ) -> std::io::Result<Self> {
        let statements = Arc::new(AtomicU64::new(0));
        let log = Arc::new(StatementLog::default());
        let calls = Arc::new(AtomicU64::new(0));
        let counting = |pool: &mut DatabaseConnection| {
            let (counter, called, logged) = (statements.clone(), calls.clone(), log.clone());
            pool.set_metric_callback(move |info| {
                called.fetch_add(1, Ordering::Relaxed);
                // A write's deferred statements travel in one call (`db/txn.rs`).
                let statements = txn::statements_in(&info.statement.sql);
                counter.fetch_add(statements, Ordering::Relaxed);
                logged.add(info.statement);
            });
        };
        for pool in read.iter_mut().chain(generic_read.as_mut()) {
            counting(pool);
        }
        if same {
            write = read[0].clone();
        } else {
            counting(&mut write);
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let group_commit = (write.get_database_backend() == DbBackend::Sqlite)
            .then(|| GroupCommit::start(write.clone(), placement.writer))
            .transpose()?;
        Ok(Self {
            read: read.into_iter().map(Reader).collect(),
            generic_read: generic_read.map(Reader),
            placement: Arc::new(placement),
            workers_settled: Arc::default(),
            write,
            statements,
            calls,
            log,
            whole_network: Arc::new(Semaphore::new(cores)),
            group_commit,
            storage_full: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Runs `work` in a write transaction and returns its result once that has committed;
    /// when `work` fails, nothing it wrote remains. `work` must be repeatable: on SQLite the
    /// transaction is shared with the other writes waiting for the single writer, which
    /// commit with one disk flush (see `db/group_commit.rs`), and `work` may run a second
    /// time, in a transaction of its own, when another write of its batch failed; on
    /// PostgreSQL it runs again, in a new transaction, when the database aborted its
    /// transaction to break a deadlock, or when its conditional update found the row changed
    /// since it read it ([`RowMoved`]); [`WRITE_ATTEMPTS`] runs in all, then 503. Two writes
    /// of one owner can deadlock there when they take the owner's row lock and the lock of a
    /// row they share in opposite orders (a contact's delete and a conversation with that
    /// contact, say): one of them is aborted and runs again once the other has committed.
    pub async fn write<T, W>(&self, work: W) -> Result<T, ApiError>
    where
        T: Send + 'static,
        W: for<'t> Fn(&'t Txn<'t>) -> BoxFuture<'t, Result<T, ApiError>> + Send + 'static,
    {
        if let Some(group_commit) = &self.group_commit {
            return group_commit.run(work).await.map_err(still_conflicted);
        }
        let mut attempt = 1;
        loop {
            let txn = self.begin_write().await?;
            let worked = {
                let write = Txn::new(&txn);
                match work(&write).await {
                    Ok(value) => write.flush().await.map(|()| value).map_err(ApiError::from),
                    Err(err) => Err(err),
                }
            };
            // A transaction dropped uncommitted rolls back.
            let result = match worked {
                Ok(value) => txn.commit().await.map(|()| value).map_err(ApiError::from),
                Err(err) => Err(err),
            };
            match result {
                Err(err) if attempt < WRITE_ATTEMPTS && err.lost_to_a_conflict() => {
                    tracing::warn!(attempt, error = %err, "a write lost to another; running it again");
                    attempt += 1;
                }
                result => return result.map_err(still_conflicted),
            }
        }
    }

    /// A permit to read and work through a user's whole network (the calendar feed's
    /// follow-ups, statistics), held until dropped. Such a request is
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

    /// How many calls to the driver have run so far: on SQLite, each is a hand-off to the
    /// connection's thread, which costs more than most statements; a write's deferred
    /// statements share one (see `db/txn.rs`).
    pub fn calls_run(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Starts keeping every statement either handle runs, with its values, until
    /// [`Db::take_statements`]: what lets a test check each statement a workload runs.
    pub fn log_statements(&self) {
        self.log.on.store(true, Ordering::Relaxed);
    }

    /// The statements kept since [`Db::log_statements`], with their values, which stops
    /// keeping them.
    pub fn take_statements(&self) -> Vec<sea_orm::Statement> {
        self.log.on.store(false, Ordering::Relaxed);
        std::mem::take(&mut *self.log.lock())
    }

    /// For queries. Never write through it: on SQLite it is not the writer.
    pub fn reader(&self) -> &Reader {
        &self.read[affinity::read_pool() % self.read.len()]
    }

    /// For the queries written so that one plan serves every value they take: each table read
    /// by a search of the index whose order is the statement's, bounded by the owner and the
    /// page (the follow-up page, the suggestions). On PostgreSQL its connections keep a
    /// statement's generic plan, made once when the connection first prepares it, instead of
    /// planning it again with each request's values: planning the follow-up page, with its
    /// dozen reads of `contact` and that table's fourteen indexes to weigh for each, took
    /// about twice as long as running it. SQLite's connections plan every statement once,
    /// whatever its values (`plan_once` in `db/connect.rs`): there this is [`Db::reader`].
    pub fn generic_reader(&self) -> &Reader {
        self.generic_read.as_ref().unwrap_or_else(|| self.reader())
    }

    /// The core SQLite's writer runs on when pinned (see `db/affinity.rs`).
    pub fn writer_core(&self) -> Option<core_affinity::CoreId> {
        self.placement.writer
    }

    /// The read pools pinned to a core each, as many as threads that
    /// [`Db::settle_http_worker`] places one per core; 0 when they are not pinned.
    pub fn pinned_read_pools(&self) -> usize {
        self.placement.readers.len()
    }

    /// Settles the calling thread, an HTTP worker's as it starts, beside a read pool of its
    /// own: pins it to the next pool's core and has [`Db::reader`] answer that pool on it, so
    /// that a request's reads hand their statements to threads of the same core (see
    /// `db/affinity.rs`). Nothing when the pools are not pinned, or the thread is settled.
    pub fn settle_http_worker(&self) {
        let cores = &self.placement.readers;
        if cores.is_empty() || affinity::has_read_pool() {
            return;
        }
        let at = self.workers_settled.fetch_add(1, Ordering::Relaxed) % cores.len();
        let core = cores[at];
        if affinity::pin_current_thread(core) {
            affinity::set_read_pool(at);
        } else {
            tracing::warn!(core = core.id, "cannot pin an HTTP worker to its core");
        }
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
        self.write.get_database_backend()
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
        self.reader().0.ping().await
    }

    /// Name of the newest applied migration, if any. Reads only.
    pub async fn migration_version(&self) -> Result<Option<String>, DbErr> {
        let applied = Migrator::get_applied_migrations_read_only(&self.reader().0).await?;
        Ok(applied.last().map(|m| m.name().to_owned()))
    }

    /// Closes every pool; later queries fail as if the database were gone.
    pub async fn close(&self) -> Result<(), DbErr> {
        for pool in self.read.iter().chain(&self.generic_read) {
            pool.0.close_by_ref().await?;
        }
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

/// A write that lost to concurrent writes every time it ran: 503 `database_unavailable`, for
/// the client to retry shortly, rather than 500.
fn still_conflicted(err: ApiError) -> ApiError {
    if err.lost_to_a_conflict() {
        ApiError::Unavailable(DbErr::Custom(format!(
            "the write lost to concurrent writes {WRITE_ATTEMPTS} times: {err}"
        )))
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProblemCode;

    #[test]
    fn a_write_still_losing_after_its_last_run_is_503_and_other_errors_pass_through() {
        let lost = still_conflicted(ApiError::row_moved());
        assert!(matches!(lost, ApiError::Unavailable(_)), "{lost:?}");
        assert_eq!(lost.code(), ProblemCode::DatabaseUnavailable);
        let other = still_conflicted(ApiError::not_found());
        assert_eq!(other.code(), ProblemCode::NotFound);
        assert!(ApiError::row_moved().lost_to_a_conflict());
        assert!(!ApiError::not_found().lost_to_a_conflict());
    }
}
