//! A write's transaction as its work sees it: [`Txn`].
//!
//! Most statements of a write are answered before the next one is built, but the last ones
//! often need no answer at all: the ledger's new values, the activity counts, the stored
//! idempotent response. On SQLite every statement is a hand-off between the thread that builds
//! it and the driver's thread for the connection, and on the single writer those hand-offs,
//! not the statements, are most of a write's cost. A statement given to [`Write::defer`] is
//! therefore held and sent with the next statement the work runs, or when the work ends, as
//! one multi-statement string that the driver runs in one hand-off, each statement with its
//! own parameters (SQLite's driver binds a string's `?` parameters statement by statement,
//! in order). Its effects are the same: the statements run in the order they were issued, in
//! the same transaction, before anything the work reads after them. A deferred statement that
//! fails fails the call it was sent with, hence the work, and its transaction rolls back.
//!
//! **Across the writes of a batch.** When SQLite's writer runs several writes in one
//! transaction (`db/group_commit.rs`), what one write leaves deferred when it ends is not sent
//! on its own: it is *carried* into the next write's [`Txn`], ahead of that write's own
//! statements, and goes with its first call (the batch's last leftovers go in one call before
//! the `COMMIT`). Every statement still runs in the order issued, in the same transaction,
//! before the batch commits, and no write is answered before that commit. A call that carried
//! another write's statements and failed may have failed on one of those, which the write
//! running it cannot tell from a failure of its own and may even handle as one of its own
//! (and carry on): such a failure therefore *poisons* the [`Txn`], and the batch is rolled
//! back and each of its writes run again alone, where every failure is its own write's.
//!
//! **On PostgreSQL** a statement with parameters cannot share a string with another, but
//! deferred writes can still share a statement: consecutive ones, each writing a table that no
//! other of them names, go as one statement, the first ones as data-modifying `WITH` queries
//! of the last ([`postgres_groups`]), before the work's next statement or at its end: a
//! conversation's new ledgers and its activity upsert are one round trip, not two. The parts
//! of such a statement run on one snapshot and see none of each other's effects, which the
//! rule makes harmless: no part reads or writes a table another part writes. A read never
//! shares a statement with deferred writes there, since it would not see them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, Values,
};

/// A write's transaction (see the module comment): what [`Db::write`](super::Db::write) hands
/// its work.
pub struct Txn<'a> {
    inner: &'a DatabaseTransaction,
    deferred: Mutex<Deferred>,
    /// Whether a call that carried an earlier write's statements failed.
    poisoned: AtomicBool,
}

/// The statements a [`Txn`] holds, and whether some of them are an earlier write's.
#[derive(Default)]
struct Deferred {
    statements: Vec<Statement>,
    carried: bool,
}

impl<'a> Txn<'a> {
    pub fn new(inner: &'a DatabaseTransaction) -> Self {
        Self::carrying(inner, Vec::new())
    }

    /// A transaction whose first call sends `carried` first: the statements the previous
    /// write of the batch left deferred (see the module comment).
    pub(super) fn carrying(inner: &'a DatabaseTransaction, carried: Vec<Statement>) -> Self {
        Self {
            inner,
            deferred: Mutex::new(Deferred {
                carried: !carried.is_empty(),
                statements: carried,
            }),
            poisoned: AtomicBool::new(false),
        }
    }

    /// The deferred statements, taken, and whether an earlier write's are among them.
    fn take(&self) -> (Vec<Statement>, bool) {
        let taken = match self.deferred.lock() {
            Ok(mut deferred) => std::mem::take(&mut *deferred),
            // A panic while the lock was held loses no statement: the vector is whole.
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        (taken.statements, taken.carried)
    }

    /// The statements still deferred, for the next write of the batch to carry.
    pub(super) fn into_deferred(self) -> Vec<Statement> {
        self.take().0
    }

    /// Whether a call that carried an earlier write's statements failed: the batch must then
    /// run each write again alone, whatever this write made of the failure.
    pub(super) fn poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// `result` of a call, noting that it poisons this transaction when it failed and
    /// `carried` an earlier write's statements.
    fn noted<T>(&self, carried: bool, result: Result<T, DbErr>) -> Result<T, DbErr> {
        if carried && result.is_err() {
            self.poisoned.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Runs the deferred statements, if any, in one call: for the end of the work.
    pub async fn flush(&self) -> Result<(), DbErr> {
        let (deferred, carried) = self.take();
        if deferred.is_empty() {
            return Ok(());
        }
        if self.inner.get_database_backend() == DbBackend::Postgres {
            for statement in postgres_groups(deferred) {
                self.inner.execute_raw(statement).await?;
            }
            return Ok(());
        }
        let result = self.inner.execute_raw(joined(deferred)).await.map(|_| ());
        self.noted(carried, result)
    }

    /// `statement` ready to run, with whether an earlier write's statements go with it: on
    /// SQLite after the deferred statements, in one string ([`Txn::before`]); on PostgreSQL
    /// alone, the deferred statements run first.
    async fn with_deferred(&self, statement: Statement) -> Result<(Statement, bool), DbErr> {
        if self.inner.get_database_backend() == DbBackend::Postgres {
            self.flush().await?;
            return Ok((statement, false));
        }
        Ok(self.before(statement))
    }

    /// The deferred statements followed by `statement`, as one statement whose rows are
    /// `statement`'s (a write without `RETURNING` has none); `statement` alone when nothing
    /// is deferred. With it, whether an earlier write's statements are among them.
    fn before(&self, statement: Statement) -> (Statement, bool) {
        let (mut deferred, carried) = self.take();
        if deferred.is_empty() {
            return (statement, false);
        }
        deferred.push(statement);
        (joined(deferred), carried)
    }
}

/// What ends each statement of a [`joined`] string.
const END: &str = ";\n";

/// `statements` (SQLite's, with `?` parameters) as one string, their parameters in order.
fn joined(mut statements: Vec<Statement>) -> Statement {
    if statements.len() == 1 {
        return statements.remove(0);
    }
    let backend = statements[0].db_backend;
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        sql.push_str(statement.sql.trim().trim_end_matches(';'));
        sql.push_str(END);
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    Statement::from_sql_and_values(backend, sql, Values(values))
}

/// PostgreSQL's deferred `statements` as few statements as keep their effects (see the module
/// comment): each run of consecutive writes (`INSERT`, `UPDATE`, `DELETE`) in which no
/// statement names a table another one writes becomes one statement, every write but the last
/// a `WITH` query of it, each `$n` parameter renumbered after those before it.
fn postgres_groups(statements: Vec<Statement>) -> Vec<Statement> {
    type Part = (Statement, String, Vec<String>);
    fn close(group: &mut Vec<Part>, out: &mut Vec<Statement>) {
        if !group.is_empty() {
            let parts = std::mem::take(group);
            out.push(with_queries(parts.into_iter().map(|(s, _, _)| s).collect()));
        }
    }
    let mut out = Vec::new();
    let mut group: Vec<Part> = Vec::new();
    for statement in statements {
        let Some(written) = written_table(&statement.sql) else {
            close(&mut group, &mut out);
            out.push(statement);
            continue;
        };
        let names = quoted_names(&statement.sql);
        let apart = group.iter().all(|(_, other_written, other_names)| {
            !names.contains(other_written) && !other_names.contains(&written)
        });
        if !apart {
            close(&mut group, &mut out);
        }
        group.push((statement, written, names));
    }
    close(&mut group, &mut out);
    out
}

/// `statements` (PostgreSQL writes) as one: all but the last as `WITH` queries of the last.
fn with_queries(mut statements: Vec<Statement>) -> Statement {
    if statements.len() == 1 {
        return statements.remove(0);
    }
    let backend = statements[0].db_backend;
    let last = statements.len() - 1;
    let mut sql = String::from("WITH ");
    let mut values: Vec<sea_orm::Value> = Vec::new();
    for (i, statement) in statements.into_iter().enumerate() {
        let text = renumbered(statement.sql.trim().trim_end_matches(';'), values.len());
        if i < last {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("\"deferred_{i}\" AS ({text})"));
        } else {
            sql.push(' ');
            sql.push_str(&text);
        }
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    Statement::from_sql_and_values(backend, sql, Values(values))
}

/// The table a write writes: the quoted name after `INSERT INTO`, `UPDATE` or `DELETE FROM`;
/// `None` for any other statement.
fn written_table(sql: &str) -> Option<String> {
    let sql = sql.trim_start();
    let rest = ["INSERT INTO ", "UPDATE ", "DELETE FROM "]
        .iter()
        .find_map(|verb| sql.strip_prefix(verb))?;
    let name = rest.strip_prefix('"')?;
    name.find('"').map(|end| name[..end].to_owned())
}

/// Every quoted name in `sql` (tables and columns alike), outside its strings.
fn quoted_names(sql: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut quote = None;
    let mut name = String::new();
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some('"'), '"') => {
                names.push(std::mem::take(&mut name));
                quote = None;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('"'), c) => name.push(c),
            _ => {}
        }
    }
    names
}

/// `sql` with each `$n` parameter outside quotes renumbered `$(n + offset)`.
fn renumbered(sql: &str, offset: usize) -> String {
    renumber(sql, |n| n + offset)
}

/// `sql` with each `$n` parameter outside quotes renumbered `$(to(n))`.
fn renumber(sql: &str, mut to: impl FnMut(usize) -> usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                let n: usize = digits.parse().unwrap_or(0);
                out.push('$');
                out.push_str(&to(n).to_string());
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// How many statements `sql` holds, which [`joined`] may have made of several: what the
/// statement counter of `Db` counts, without allocating.
pub(super) fn statements_in(sql: &str) -> u64 {
    let parts = sql
        .split(END)
        .filter(|part| !part.trim().is_empty())
        .count();
    u64::try_from(parts).unwrap_or(u64::MAX).max(1)
}

/// The statements of `statement`, one string that [`joined`] may have made of several, each
/// with its own parameters: what the statement log of `Db` keeps. The parameters are shared
/// out by the `?` outside quotes in each statement's text.
pub(super) fn split(statement: &Statement) -> Vec<Statement> {
    if let Some(parts) = split_with_queries(statement) {
        return parts;
    }
    let parts: Vec<&str> = statement
        .sql
        .split(END)
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect();
    if parts.len() < 2 {
        return vec![statement.clone()];
    }
    let mut values = statement
        .values
        .as_ref()
        .map(|v| v.0.clone())
        .unwrap_or_default()
        .into_iter();
    parts
        .into_iter()
        .map(|sql| {
            let taken: Vec<_> = values.by_ref().take(parameters_in(sql)).collect();
            Statement::from_sql_and_values(statement.db_backend, sql, Values(taken))
        })
        .collect()
}

/// The writes of `statement` when [`with_queries`] made it of several, each with its own
/// parameters renumbered from `$1`; `None` for any other statement.
fn split_with_queries(statement: &Statement) -> Option<Vec<Statement>> {
    let mut rest = statement.sql.strip_prefix("WITH \"deferred_0\" AS (")?;
    let mut texts = Vec::new();
    loop {
        let end = closing(rest)?;
        texts.push(&rest[..end]);
        rest = &rest[end + 1..];
        match rest.strip_prefix(", ") {
            Some(next) => rest = next.split_once(" AS (")?.1,
            None => {
                texts.push(rest.strip_prefix(' ')?);
                break;
            }
        }
    }
    let values = statement
        .values
        .as_ref()
        .map(|v| v.0.clone())
        .unwrap_or_default();
    let mut taken = 0;
    let mut parts = Vec::new();
    for text in texts {
        let last = highest_parameter(text).max(taken);
        let sql = renumbered_down(text, taken);
        let mine = values
            .get(taken..last)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        parts.push(Statement::from_sql_and_values(
            statement.db_backend,
            sql,
            Values(mine),
        ));
        taken = last;
    }
    Some(parts)
}

/// Where the parenthesis that `sql` is inside closes, outside quotes.
fn closing(sql: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    for (at, c) in sql.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => return Some(at),
            (None, ')') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The highest `$n` parameter of `sql` outside quotes (0 when none).
fn highest_parameter(sql: &str) -> usize {
    let mut highest = 0;
    renumber(sql, |n| {
        highest = highest.max(n);
        n
    });
    highest
}

/// `sql` with each `$n` parameter outside quotes renumbered `$(n - offset)`.
fn renumbered_down(sql: &str, offset: usize) -> String {
    renumber(sql, |n| n.saturating_sub(offset))
}

/// The `?` parameters of `sql`: those outside quoted names and strings.
fn parameters_in(sql: &str) -> usize {
    let mut quote = None;
    let mut count = 0;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '?') => count += 1,
            _ => {}
        }
    }
    count
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    /// Runs the deferred statements first, in a call of their own: the caller may want
    /// `statement`'s count of rows, which a shared call would add to theirs.
    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        self.flush().await?;
        self.inner.execute_raw(statement).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.flush().await?;
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        let (statement, carried) = self.with_deferred(statement).await?;
        let result = self.inner.query_one_raw(statement).await;
        self.noted(carried, result)
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let (statement, carried) = self.with_deferred(statement).await?;
        let result = self.inner.query_all_raw(statement).await;
        self.noted(carried, result)
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}

/// A connection a write can defer statements on (see the module comment).
pub trait Write: ConnectionTrait {
    /// Runs `statement`, whose answer the caller does not need: on a [`Txn`], before the next
    /// statement of the work or at its end (on SQLite in the same call, on PostgreSQL joined
    /// with the deferred writes of other tables next to it); elsewhere at once.
    fn defer(
        &self,
        statement: Statement,
    ) -> impl std::future::Future<Output = Result<(), DbErr>> + Send;
}

impl Write for Txn<'_> {
    async fn defer(&self, statement: Statement) -> Result<(), DbErr> {
        match self.deferred.lock() {
            Ok(mut deferred) => deferred.statements.push(statement),
            Err(poisoned) => poisoned.into_inner().statements.push(statement),
        }
        Ok(())
    }
}

impl Write for DatabaseTransaction {
    async fn defer(&self, statement: Statement) -> Result<(), DbErr> {
        self.execute_raw(statement).await.map(|_| ())
    }
}

impl Write for DatabaseConnection {
    async fn defer(&self, statement: Statement) -> Result<(), DbErr> {
        self.execute_raw(statement).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::Value;

    use super::*;

    #[test]
    fn postgres_writes_on_tables_apart_share_a_statement_and_no_others_do() {
        let pg = |sql: &str, values: Vec<Value>| {
            Statement::from_sql_and_values(DbBackend::Postgres, sql, Values(values))
        };
        let ledger = pg(
            r#"UPDATE "contact" SET "gives" = $1 WHERE "id" = $2 AND "note" = '$1'"#,
            vec![1.into(), 2.into()],
        );
        let activity = pg(
            r#"INSERT INTO "activity" ("n") VALUES ($1) ON CONFLICT ("n") DO UPDATE SET "n" = $2"#,
            vec![3.into(), 4.into()],
        );
        let joined = postgres_groups(vec![ledger.clone(), activity.clone()]);
        assert_eq!(
            joined,
            vec![pg(
                r#"WITH "deferred_0" AS (UPDATE "contact" SET "gives" = $1 WHERE "id" = $2 AND "note" = '$1') INSERT INTO "activity" ("n") VALUES ($3) ON CONFLICT ("n") DO UPDATE SET "n" = $4"#,
                vec![1.into(), 2.into(), 3.into(), 4.into()],
            )]
        );
        // Two writes of one table, or one that names a table the other writes, stay apart;
        // so does anything but a write.
        let delete = pg(
            r#"DELETE FROM "participant" WHERE "c" = $1"#,
            vec![5.into()],
        );
        let insert = pg(
            r#"INSERT INTO "participant" SELECT $1, "id" FROM "contact""#,
            vec![6.into()],
        );
        let read = pg(r#"SELECT 1 FROM "user""#, vec![]);
        let parts = vec![
            delete.clone(),
            insert.clone(),
            ledger.clone(),
            read.clone(),
            activity.clone(),
        ];
        assert_eq!(
            postgres_groups(parts),
            vec![
                delete.clone(),
                insert,
                ledger.clone(),
                read,
                activity.clone()
            ]
        );
        // The statement log sees each part with its own parameters.
        assert_eq!(split(&joined[0]), vec![ledger.clone(), activity.clone()]);
        let three = postgres_groups(vec![delete.clone(), ledger.clone(), activity.clone()]);
        assert_eq!(three.len(), 1);
        assert_eq!(split(&three[0]), vec![delete, ledger, activity]);
    }

    #[test]
    fn a_joined_statement_splits_back_into_its_statements_and_their_values() {
        let statement = |sql: &str, values: Vec<Value>| {
            Statement::from_sql_and_values(DbBackend::Sqlite, sql, Values(values))
        };
        let parts = vec![
            statement(
                r#"UPDATE "t" SET "a" = ? WHERE "b" = '?' AND "c" IN (?, ?)"#,
                vec![1.into(), 2.into(), 3.into()],
            ),
            statement("DELETE FROM \"u\"", vec![]),
            statement(r#"SELECT "x?" FROM "v" WHERE "y" = ?"#, vec!["y".into()]),
        ];
        let one = joined(parts.clone());
        assert_eq!(one.sql.matches(END).count(), 3, "{}", one.sql);
        assert_eq!(split(&one), parts);
        assert_eq!(statements_in(&one.sql), 3);
        assert_eq!(statements_in(&parts[0].sql), 1);
        // A statement alone is its own.
        assert_eq!(split(&parts[0]), vec![parts[0].clone()]);
    }
}
