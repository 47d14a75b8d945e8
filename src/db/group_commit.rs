//! Group commit for SQLite's single writer.
//!
//! With `synchronous=FULL` every commit waits for the disk to confirm the write, and SQLite
//! has one writer: one insert per commit caps a server at one insert per disk flush, however
//! many requests are waiting. The writes handed to [`GroupCommit::run`] are queued to one
//! task, which runs whatever is waiting (up to [`MAX_BATCH`]) one after the other in a single
//! transaction and commits them with one flush. No request is answered before the commit that
//! holds its write has returned, so a write a client saw succeed is on disk as before. An
//! idle server runs each write alone, with no added wait: the batch is whatever queued up
//! while the previous commit was flushing.
//!
//! When one write of a batch fails (or panics), or the batch's `COMMIT` does, the batch is
//! rolled back and each of its writes runs again in a transaction of its own, so one request's
//! error neither leaves part of it behind nor fails the others. Work handed in must therefore
//! be repeatable: it reads what it needs in the transaction it is given and may run twice.
//!
//! Within a batch, what a write leaves deferred goes with the next write's first call instead
//! of a call of its own (see `db/txn.rs`); a failure in such a shared call rolls the batch
//! back and runs each write alone, as any failure does, whatever the write that saw it made
//! of it.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use core_affinity::CoreId;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, Statement, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::affinity;
use super::txn::Txn;
use crate::error::ApiError;

/// Most writes committed together. Bounds how long the last of a batch waits for the others.
pub const MAX_BATCH: usize = 64;
/// The name of the writer's thread.
const THREAD: &str = "rapport-writer";
/// Writes that may wait for the writer before `run` itself waits for room.
const QUEUE: usize = 1024;

/// The handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    queue: mpsc::Sender<Box<dyn Job>>,
    /// Transactions the writer has committed.
    commits: Arc<AtomicU64>,
}

impl GroupCommit {
    /// Starts the writer, writing through `conn`: a thread of its own, pinned to `core` when
    /// given (see `db/affinity.rs`), running the writes one after the other on a runtime of
    /// its own. The thread ends once every handle is dropped and the queue is empty.
    pub fn start(conn: DatabaseConnection, core: Option<CoreId>) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let counted = commits.clone();
        std::thread::Builder::new()
            .name(THREAD.into())
            .spawn(move || {
                if let Some(core) = core
                    && !affinity::pin_current_thread(core)
                {
                    tracing::warn!(core = core.id, "cannot pin the writer's thread to its core");
                }
                runtime.block_on(serve(conn, jobs, counted));
            })?;
        Ok(Self { queue, commits })
    }

    /// Writes queued behind the one the writer is running.
    pub fn waiting(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `work` in a write transaction shared with other waiting writes and returns its
    /// result once that transaction has committed.
    pub async fn run<T, W>(&self, work: W) -> Result<T, ApiError>
    where
        T: Send + 'static,
        W: for<'t> Fn(&'t Txn<'t>) -> BoxFuture<'t, Result<T, ApiError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            work,
            outcome: None,
            reply,
        });
        self.queue
            .send(job)
            .await
            .map_err(|_| ApiError::Unavailable(DbErr::Custom("the writer has stopped".into())))?;
        answer.await.map_err(|_| {
            ApiError::Internal(anyhow::anyhow!(
                "the write was dropped before it committed: the writer panicked"
            ))
        })?
    }
}

/// A queued write, its result once it has run, and where to send that result.
trait Job: Send {
    /// Runs the work in `txn`, keeping its result. `carried`: the statements the previous write
    /// of the batch left deferred, sent with this one's first call (see `db/txn.rs`). Alone
    /// (`batch` false), its own deferred statements are sent when it ends; in a batch, they are
    /// returned for the next write to carry.
    fn run<'t>(
        &'t mut self,
        txn: &'t DatabaseTransaction,
        carried: Vec<Statement>,
        batch: bool,
    ) -> BoxFuture<'t, Ran>;
    /// Answers the request: the work's result if `committed`, else why not.
    fn reply(self: Box<Self>, committed: Result<(), DbErr>);
}

/// How a write ran.
enum Ran {
    /// It succeeded, leaving these statements deferred (none when it ran alone).
    Done(Vec<Statement>),
    /// It failed, or a statement it carried did: its transaction must roll back.
    Failed,
}

struct Pending<T, W> {
    work: W,
    outcome: Option<Result<T, ApiError>>,
    reply: oneshot::Sender<Result<T, ApiError>>,
}

impl<T, W> Job for Pending<T, W>
where
    T: Send + 'static,
    W: for<'t> Fn(&'t Txn<'t>) -> BoxFuture<'t, Result<T, ApiError>> + Send + 'static,
{
    fn run<'t>(
        &'t mut self,
        txn: &'t DatabaseTransaction,
        carried: Vec<Statement>,
        batch: bool,
    ) -> BoxFuture<'t, Ran> {
        Box::pin(async move {
            let write = Txn::carrying(txn, carried);
            // A panic fails this write alone: like any failed write it rolls its batch back,
            // and the others run again, each in a transaction of its own. Unwind safety holds
            // because nothing outlives a failed write but its rolled-back transaction.
            let outcome = AssertUnwindSafe((self.work)(&write))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(ApiError::Internal(anyhow::anyhow!("the write panicked"))));
            // Alone, its deferred statements belong to it: one that fails fails this write.
            let outcome = match outcome {
                Ok(value) if !batch => write.flush().await.map(|()| value).map_err(ApiError::from),
                outcome => outcome,
            };
            let ran = match &outcome {
                Ok(_) if !write.poisoned() => Ran::Done(write.into_deferred()),
                _ => Ran::Failed,
            };
            self.outcome = Some(outcome);
            ran
        })
    }

    fn reply(self: Box<Self>, committed: Result<(), DbErr>) {
        let answer = match (self.outcome, committed) {
            (Some(Err(err)), _) => Err(err),
            (_, Err(err)) => Err(err.into()),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(ApiError::Internal(anyhow::anyhow!("the write never ran"))),
        };
        // The request may have gone away (client disconnected); its write stands.
        let _ = self.reply.send(answer);
    }
}

async fn serve(
    conn: DatabaseConnection,
    mut queue: mpsc::Receiver<Box<dyn Job>>,
    commits: Arc<AtomicU64>,
) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (conn, commits) = (conn.clone(), commits.clone());
        // In a task of its own so that a panic outside the writes themselves drops only this
        // batch's reply handles (those requests see an error) instead of stopping the writer.
        let batch = tokio::spawn(async move { run_batch(&conn, jobs, &commits).await });
        if let Err(err) = batch.await {
            tracing::error!(error = %err, "a batch of writes panicked");
        }
    }
}

async fn run_batch(conn: &DatabaseConnection, mut jobs: Vec<Box<dyn Job>>, commits: &AtomicU64) {
    if jobs.len() > 1 {
        match together(conn, &mut jobs).await {
            Ok(true) => {
                commits.fetch_add(1, Ordering::Relaxed);
                for job in jobs {
                    job.reply(Ok(()));
                }
                return;
            }
            Ok(false) => tracing::debug!(
                writes = jobs.len(),
                "a write of the batch failed; running each alone"
            ),
            Err(err) => tracing::warn!(
                error = %err,
                writes = jobs.len(),
                "a batch of writes did not commit; running each alone"
            ),
        }
    }
    for job in jobs {
        alone(conn, job, commits).await;
    }
}

/// Runs every job in one transaction, each carrying what the one before it left deferred:
/// committed (true) if all succeeded, rolled back (false) as soon as one fails.
async fn together(conn: &DatabaseConnection, jobs: &mut [Box<dyn Job>]) -> Result<bool, DbErr> {
    let txn = conn.begin().await?;
    let mut left = Vec::new();
    for job in jobs.iter_mut() {
        match job.run(&txn, left, true).await {
            Ran::Done(deferred) => left = deferred,
            Ran::Failed => {
                txn.rollback().await?;
                return Ok(false);
            }
        }
    }
    // The last leftovers: a failure may be any write's, so each runs again alone.
    if Txn::carrying(&txn, left).flush().await.is_err() {
        txn.rollback().await?;
        return Ok(false);
    }
    txn.commit().await?;
    Ok(true)
}

async fn alone(conn: &DatabaseConnection, mut job: Box<dyn Job>, commits: &AtomicU64) {
    let committed = async {
        let txn = conn.begin().await?;
        if let Ran::Done(_) = job.run(&txn, Vec::new(), false).await {
            txn.commit().await?;
            commits.fetch_add(1, Ordering::Relaxed);
            Ok(())
        } else {
            txn.rollback().await
        }
    }
    .await;
    job.reply(committed);
}
