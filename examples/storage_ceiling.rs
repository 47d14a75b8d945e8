//! The storage ceiling of `scripts/bench.py`: single-row point selects and single-row insert
//! transactions per second, and rows per second streamed from one user's participant rows (an
//! index scan of about 10,000 rows, the shape of the whole-network reads, from one task),
//! straight through rapport's own connection pools (same driver, same file, same pragmas, same
//! pool sizes), with no HTTP and no application code in between. Each runs where the server
//! runs such work (`src/db/affinity.rs`): on SQLite with its threads pinned, the inserts on a
//! thread of the writer's core, the reads on one thread per read pool, each settled beside its
//! pool as an HTTP worker is; otherwise on one multi-threaded runtime.
//! `RAPPORT_DATABASE_URL=... cargo run --release --example storage_ceiling -- SECONDS TASKS`
//! prints one JSON line: {"point_selects_per_s": ..., "insert_transactions_per_s": ...,
//! "rows_streamed_per_s": ..., "scan_rows": ...}.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rapport::config::Settings;
use rapport::db;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(Ok(3.0), |s| s.parse())?;
    let tasks: usize = args.next().map_or(Ok(8), |s| s.parse())?;
    let settings = Settings::load(None)?;
    let db = db::connect(&settings).await?;
    let backend = db.backend();
    let ids: Vec<String> = db
        .reader()
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id FROM contact LIMIT 1000",
        ))
        .await?
        .iter()
        .filter_map(|row| {
            row.try_get_by_index::<uuid::Uuid>(0)
                .ok()
                .map(|id| id.to_string())
        })
        .collect();
    anyhow::ensure!(
        !ids.is_empty(),
        "seed the database first (rapport seed-bench)"
    );
    db.writer()
        .execute_unprepared(
            "CREATE TABLE IF NOT EXISTS bench_ceiling (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
        )
        .await?;

    let select = if backend == sea_orm::DbBackend::Postgres {
        "SELECT full_name FROM contact WHERE id = $1::uuid"
    } else {
        "SELECT full_name FROM contact WHERE id = ?"
    };
    let insert = if backend == sea_orm::DbBackend::Postgres {
        "INSERT INTO bench_ceiling (id, body) VALUES ($1, $2)"
    } else {
        "INSERT INTO bench_ceiling (id, body) VALUES (?, ?)"
    };

    let ids = Arc::new(ids);
    let shared = db.clone();
    let selects = run_placed(&db, Place::Reads, seconds, tasks, move |n| {
        let db = &shared;
        let db = db.clone();
        let id = ids[n as usize % ids.len()].clone();
        async move {
            let stmt = Statement::from_sql_and_values(backend, select, [id.into()]);
            db.reader().query_one_raw(stmt).await.map(|_| ())
        }
    })
    .await?;
    let shared = db.clone();
    let inserts = run_placed(&db, Place::Writes, seconds, tasks, move |_| {
        let db = &shared;
        let db = db.clone();
        async move {
            let txn = db.writer().begin().await?;
            let stmt = Statement::from_sql_and_values(
                backend,
                insert,
                [
                    uuid::Uuid::now_v7().to_string().into(),
                    "x".repeat(200).into(),
                ],
            );
            txn.execute_raw(stmt).await?;
            txn.commit().await
        }
    })
    .await?;
    db.writer()
        .execute_unprepared("DROP TABLE bench_ceiling")
        .await?;

    let owner: uuid::Uuid = db
        .reader()
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT owner_id FROM contact LIMIT 1",
        ))
        .await?
        .map(|row| row.try_get_by_index(0))
        .transpose()?
        .ok_or_else(|| anyhow::anyhow!("no contact"))?;
    let scan = if backend == sea_orm::DbBackend::Postgres {
        "SELECT contact_id, conversation_id FROM conversation_participant WHERE owner_id = $1"
    } else {
        "SELECT contact_id, conversation_id FROM conversation_participant WHERE owner_id = ?"
    };
    let scan_stmt = Statement::from_sql_and_values(backend, scan, [owner.into()]);
    let scan_rows = db.reader().query_all_raw(scan_stmt.clone()).await?.len();
    let shared = db.clone();
    let scans = run_placed(&db, Place::Reads, seconds, 1, move |_| {
        let db = shared.clone();
        let stmt = scan_stmt.clone();
        async move { db.reader().query_all_raw(stmt).await.map(|_| ()) }
    })
    .await?;
    let rows = scans * scan_rows as f64;
    println!(
        "{{\"point_selects_per_s\": {selects:.0}, \"insert_transactions_per_s\": {inserts:.0}, \"tasks\": {tasks}, \"rows_streamed_per_s\": {rows:.0}, \"scan_rows\": {scan_rows}}}"
    );
    Ok(())
}

/// Where the server runs some work; see the module comment.
#[derive(Clone, Copy)]
enum Place {
    Reads,
    Writes,
}

/// [`run`] where the server runs work of kind `place`: on SQLite with pinned threads, on
/// threads of their own (the writer's core for writes; one per read pool, settled as HTTP
/// workers are, for reads, the tasks shared among them); otherwise on this runtime.
async fn run_placed<F, Fut>(
    db: &db::Db,
    place: Place,
    seconds: f64,
    tasks: usize,
    op: F,
) -> anyhow::Result<f64>
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), sea_orm::DbErr>> + Send + 'static,
{
    let threads = match (place, db.writer_core()) {
        (_, None) => return run(seconds, tasks, op).await,
        (Place::Writes, Some(_)) => 1,
        (Place::Reads, Some(_)) => db.pinned_read_pools().clamp(1, tasks),
    };
    let per_thread = tasks.div_ceil(threads);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (db, op) = (db.clone(), op.clone());
            std::thread::spawn(move || -> anyhow::Result<f64> {
                match (place, db.writer_core()) {
                    (Place::Writes, Some(core)) => {
                        anyhow::ensure!(core_affinity::set_for_current(core), "cannot pin");
                    }
                    _ => db.settle_http_worker(),
                }
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(run(seconds, per_thread, op))
            })
        })
        .collect();
    let mut total = 0.0;
    for handle in handles {
        total += handle
            .join()
            .map_err(|_| anyhow::anyhow!("a measuring thread panicked"))??;
    }
    Ok(total)
}

/// Runs `op` from `tasks` concurrent tasks for `seconds`; operations per second.
async fn run<F, Fut>(seconds: f64, tasks: usize, op: F) -> anyhow::Result<f64>
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), sea_orm::DbErr>> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (done, op) = (done.clone(), op.clone());
        handles.push(tokio::spawn(async move {
            let mut n = t as u64;
            while Instant::now() < deadline {
                op(n).await?;
                done.fetch_add(1, Ordering::Relaxed);
                n += tasks as u64;
            }
            Ok::<_, sea_orm::DbErr>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
