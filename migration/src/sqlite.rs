//! What SQLite's migrations share: it cannot change a table's keys in place.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Rebuilds SQLite's `table` with the `CREATE TABLE` statement `edit` makes of its own: the
/// new table is created under another name and filled from the old one, which is dropped; the
/// new one takes its name and its indexes and triggers are created again. Foreign keys must
/// be off (see the module comment).
pub(crate) async fn rebuild<C, F>(conn: &C, table: &str, edit: F) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    F: Fn(&str) -> Result<String, DbErr>,
{
    let keys_on: i32 = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA foreign_keys",
        ))
        .await?
        .ok_or_else(|| DbErr::Migration("PRAGMA foreign_keys answered nothing".to_owned()))?
        .try_get_by_index(0)?;
    if keys_on != 0 {
        // Dropping the old table would take every row that refers to it along.
        return Err(DbErr::Migration(format!(
            "rebuilding {table} needs foreign keys off: run migrations with `rapport migrate`"
        )));
    }
    let schema = |kinds: &str| {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ({kinds}) \
                 AND sql IS NOT NULL ORDER BY name"
            ),
            [table.into()],
        )
    };
    let create: String = conn
        .query_one_raw(schema("'table'"))
        .await?
        .ok_or_else(|| DbErr::Migration(format!("no table {table}")))?
        .try_get_by_index(0)?;
    let others: Vec<String> = conn
        .query_all_raw(schema("'index', 'trigger'"))
        .await?
        .iter()
        .map(|row| row.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    let heading = format!("CREATE TABLE \"{table}\"");
    let Some(rest) = create.strip_prefix(&heading) else {
        return Err(DbErr::Migration(format!(
            "{table}: unexpected definition `{create}`"
        )));
    };
    let staging = format!("{table}_rebuilt");
    conn.execute_unprepared(&format!("CREATE TABLE \"{staging}\"{}", edit(rest)?))
        .await?;
    conn.execute_unprepared(&format!(
        "INSERT INTO \"{staging}\" SELECT * FROM \"{table}\""
    ))
    .await?;
    conn.execute_unprepared(&format!("DROP TABLE \"{table}\""))
        .await?;
    conn.execute_unprepared(&format!("ALTER TABLE \"{staging}\" RENAME TO \"{table}\""))
        .await?;
    for sql in others {
        conn.execute_unprepared(&sql).await?;
    }
    Ok(())
}
