//! What a database error means for the caller: a lost connection worth another try, a
//! database away for the moment (503), storage full (507), a violated constraint.

use sea_orm::{DbErr, RuntimeErr};

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

/// True when PostgreSQL aborted the statement's transaction to break a deadlock (40P01) or a
/// serialization conflict (40001): the transaction did nothing, and run again from its start
/// it may well succeed.
pub fn lost_to_a_conflict(err: &DbErr) -> bool {
    matches!(database_code(err).as_deref(), Some("40P01" | "40001"))
}

/// A write's conditional update or delete found its row no longer at the version the write's
/// transaction had read: another write committed in between, which PostgreSQL's READ
/// COMMITTED allows (SQLite's single writer does not). A record's write reads the row again
/// and applies its change once more in the same transaction (`services::records::update`);
/// should it still miss, or in any other write, the write runs again from its start, like one
/// aborted to break a deadlock (`Db::write`). Either way its `If-Match`, if any, is checked
/// against the row as it then stands.
#[derive(Debug, thiserror::Error)]
#[error("the row changed between the write's read of it and its update")]
pub struct RowMoved;

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
    use sea_orm::{ConnectionTrait, Database};

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
