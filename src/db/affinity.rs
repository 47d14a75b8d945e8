//! SQLite's threads placed on cores.
//!
//! Every statement is a round trip between two threads: the one that builds the statement and
//! reads its answer (an HTTP worker for a read, the writer's own thread for a write, see
//! [`super::group_commit`]) and the connection's thread in the driver, which runs it in SQLite.
//! Each hand-off wakes the other thread, which has gone to sleep meanwhile; when its core went
//! idle too, the wake-up is an interrupt to that core, and on a virtual machine one to a
//! halted virtual CPU, which can cost more than SQLite takes to run the statement. With both
//! threads on one core, a hand-off is a switch between two threads of a core that is awake.
//!
//! So the writer and its connection run on the last core the process may run on, and each
//! HTTP worker runs on a core of its own (the next one, round the cores) with a read pool of
//! its own whose connections run there too ([`super::Db::settle_http_worker`]). On the
//! benchmark's two cores, `POST /v1/conversations` (five statements on the writer) answered
//! 1.7 to 1.9 times as many requests a second (BENCHMARKS.md, "What each change bought").
//! Threads with no read pool of their own (start-up, background tasks, the command line)
//! read through the first. The main runtime's threads are not pinned; a thread that a pinned
//! worker starts (its runtime's blocking threads, which hash passwords) starts on the
//! worker's core, as Linux has it, and HTTP workers take connections in turn, so that hashes
//! still run on every core.
//!
//! The `sqlite_pin_threads` setting turns this off, and it is off where the process may run
//! on one core only. Pinning is best-effort: where the system refuses it (or does not support
//! it), the thread runs unpinned and a warning says so.

use std::ffi::{CString, c_int};

use core_affinity::CoreId;
use sea_orm::sqlx::SqliteConnection;

/// The SQL function that pins the thread it runs on (see [`pin_connection`]), and its call.
const PIN_FUNCTION: &str = "rapport_pin_thread";
const PIN_CALL: &str = "SELECT rapport_pin_thread(?)";

/// Where SQLite's threads run: the writer's core, and each read pool's.
#[derive(Clone, Debug, Default)]
pub struct Placement {
    pub writer: Option<CoreId>,
    pub readers: Vec<CoreId>,
}

impl Placement {
    /// The writer on the last core this process may run on, and a read pool on each; nothing
    /// pinned when it may run on one core only (or the system does not say).
    pub fn pinned() -> Self {
        match core_affinity::get_core_ids() {
            Some(cores) if cores.len() > 1 => Self {
                writer: cores.last().copied(),
                readers: cores,
            },
            _ => Self::default(),
        }
    }
}

thread_local! {
    /// The read pool of the calling thread, once it has one (see `Db::settle_http_worker`).
    static READ_POOL: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// The read pool the calling thread reads through: its own, else the first.
pub fn read_pool() -> usize {
    READ_POOL.with(std::cell::Cell::get).unwrap_or(0)
}

/// True once the calling thread has a read pool of its own.
pub fn has_read_pool() -> bool {
    READ_POOL.with(std::cell::Cell::get).is_some()
}

/// Gives the calling thread the read pool `at`.
pub fn set_read_pool(at: usize) {
    READ_POOL.with(|pool| pool.set(Some(at)));
}

/// Pins the calling thread to `core`; false when the system refused.
pub fn pin_current_thread(core: CoreId) -> bool {
    core_affinity::set_for_current(core)
}

/// Pins the driver's thread of the SQLite connection `conn` to `core`: registers on the
/// connection a function that pins the thread it runs on, and runs it. True when pinned.
pub async fn pin_connection(
    conn: &mut SqliteConnection,
    core: CoreId,
) -> Result<bool, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Row;

    {
        let mut handle = conn.lock_handle().await?;
        let name = CString::new(PIN_FUNCTION).map_err(|err| {
            sea_orm::sqlx::Error::Configuration(format!("function name: {err}").into())
        })?;
        // SAFETY: the handle is locked out of the connection's worker thread for as long as
        // `handle` lives; the name is a NUL-terminated string that SQLite copies; the function
        // takes one argument and keeps no state (no user data, no destructor).
        let code = unsafe {
            libsqlite3_sys::sqlite3_create_function_v2(
                handle.as_raw_handle().as_ptr(),
                name.as_ptr(),
                1,
                libsqlite3_sys::SQLITE_UTF8,
                std::ptr::null_mut(),
                Some(pin_thread),
                None,
                None,
                None,
            )
        };
        if code != libsqlite3_sys::SQLITE_OK {
            return Err(sea_orm::sqlx::Error::Configuration(
                format!("cannot register {PIN_FUNCTION} (code {code})").into(),
            ));
        }
    }
    let core = i64::try_from(core.id).map_err(|err| {
        sea_orm::sqlx::Error::Configuration(format!("core {}: {err}", core.id).into())
    })?;
    let row = sea_orm::sqlx::query(PIN_CALL)
        .bind(core)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>(0)? == 1)
}

/// `rapport_pin_thread(core)`: pins the thread SQLite calls it on, the connection's own, to
/// `core`; 1 when pinned, else 0.
unsafe extern "C" fn pin_thread(
    ctx: *mut libsqlite3_sys::sqlite3_context,
    argc: c_int,
    argv: *mut *mut libsqlite3_sys::sqlite3_value,
) {
    // SAFETY: SQLite passes `argc` valid values in `argv` (one: the function was registered
    // with one argument) and a valid context for the result, for the duration of the call.
    unsafe {
        let core = if argc == 1 {
            usize::try_from(libsqlite3_sys::sqlite3_value_int64(*argv)).ok()
        } else {
            None
        };
        let pinned = core.is_some_and(|id| pin_current_thread(CoreId { id }));
        libsqlite3_sys::sqlite3_result_int(ctx, c_int::from(pinned));
    }
}

/// The cores each of this process's threads named `name`… may run on, as `/proc` lists them.
#[cfg(all(test, target_os = "linux"))]
fn allowed_cores_of_threads(name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("the process's threads") {
        let task = task.expect("a thread").path();
        let (Ok(comm), Ok(status)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("status")),
        ) else {
            continue; // the thread ended meanwhile
        };
        if comm.trim_end().starts_with(name) {
            let allowed = status
                .lines()
                .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
                .expect("the thread's allowed cores");
            found.push(allowed.trim().to_owned());
        }
    }
    found
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use sea_orm::sqlx::ConnectOptions;
    use sea_orm::sqlx::sqlite::SqliteConnectOptions;

    use super::*;

    #[tokio::test]
    async fn pinning_a_connection_pins_its_own_thread_and_not_the_callers() {
        let cores = core_affinity::get_core_ids().expect("this process's cores");
        let core = cores[0];
        let mut conn = SqliteConnectOptions::new()
            .in_memory(true)
            .thread_name(|_| "pin-test-conn".into())
            .connect()
            .await
            .expect("an in-memory connection");
        assert!(pin_connection(&mut conn, core).await.expect("the call"));
        assert_eq!(
            allowed_cores_of_threads("pin-test-conn"),
            [core.id.to_string()]
        );
        if cores.len() > 1 {
            let caller = core_affinity::get_core_ids().expect("the caller's cores");
            assert_eq!(caller, cores, "the caller was pinned too");
        }
    }
}
