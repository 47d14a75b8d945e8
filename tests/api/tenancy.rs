//! The database itself refuses a reference from one owner's row to another owner's: every
//! reference between owned rows carries the owner (migration `owner_scoped_references`).

use reqwest::Method;
use sea_orm::{ConnectionTrait, DbErr, SqlErr, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, spawn_app};

/// One owner's rows, one of each kind a reference can point at or come from.
struct Network {
    owner: String,
    /// Has a tag, took part in `conversation`, is the offer's and the ask's contact.
    contact: String,
    /// Introduced by `contact`, and introduced by the offer.
    introduced: String,
    conversation: String,
    /// An idea with a topic, for `contact`, on `conversation`, introducing `introduced`.
    offer: String,
}

async fn post(app: &TestApp, user: &TestUser, path: &str, body: Value) -> String {
    let response = app
        .request(Method::POST, path, Some(&user.access_token), Some(&body))
        .await;
    assert_eq!(response.status().as_u16(), 201, "POST {path}");
    let created: Value = response.json().await.expect("json");
    created["id"].as_str().expect("id").to_owned()
}

async fn network(app: &TestApp, user: &TestUser) -> Network {
    // A tag and a topic of its own: the keys of `contact_tag` and `idea_topic` are
    // (contact, tag) and (offer, topic), so pointing one owner's at the other's row would
    // otherwise clash with that row's own.
    let mark = format!("t{}", &user.id[user.id.len() - 12..]);
    let contact = post(
        app,
        user,
        "/v1/contacts",
        json!({"full_name": "Ada", "tags": [mark]}),
    )
    .await;
    let introduced = post(
        app,
        user,
        "/v1/contacts",
        json!({"full_name": "Bob", "introduced_by_id": contact}),
    )
    .await;
    let conversation = post(
        app,
        user,
        "/v1/conversations",
        json!({"occurred_at": "2026-11-20T09:00:00Z", "channel": "coffee", "summary": "Coffee",
            "participant_ids": [contact]}),
    )
    .await;
    let offer = post(
        app,
        user,
        "/v1/value-offers",
        json!({"contact_id": contact, "conversation_id": conversation, "kind": "introduction",
            "title": "Meet Bob", "introduced_contact_id": introduced, "topics": [mark]}),
    )
    .await;
    post(
        app,
        user,
        "/v1/asks",
        json!({"contact_id": contact, "conversation_id": conversation, "kind": "advice",
            "title": "A word"}),
    )
    .await;
    Network {
        owner: user.id.clone(),
        contact,
        introduced,
        conversation,
        offer,
    }
}

/// `id` as an SQL literal of the stored uuid: text on PostgreSQL, a 16-byte blob on SQLite.
fn id(app: &TestApp, id: &str) -> String {
    match app.db.backend() {
        sea_orm::DbBackend::Postgres => format!("'{id}'"),
        _ => format!("X'{}'", id.replace('-', "")),
    }
}

/// The first column of the one row `sql` reads, a count.
async fn count(app: &TestApp, sql: String) -> i64 {
    let row = app
        .db
        .reader()
        .query_one_raw(Statement::from_string(app.db.backend(), sql))
        .await
        .expect("count")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("n")
}

/// Deletes the row `row` of `table` by SQL, past the application.
async fn delete(app: &TestApp, table: &str, row: &str) {
    run(
        app,
        format!("DELETE FROM {table} WHERE id = {}", id(app, row)),
    )
    .await
    .unwrap_or_else(|err| panic!("delete {table} {row}: {err}"));
}

async fn run(app: &TestApp, sql: String) -> Result<u64, DbErr> {
    app.db
        .writer()
        .execute_raw(Statement::from_string(app.db.backend(), sql))
        .await
        .map(|done| done.rows_affected())
}

/// A reference: its table, column, and the row of a network it points at.
type Reference = (&'static str, &'static str, fn(&Network) -> &str);

/// Every reference between owned rows.
fn references() -> [Reference; 10] {
    [
        ("contact", "introduced_by_id", |n| &n.contact),
        ("contact_tag", "contact_id", |n| &n.contact),
        ("conversation_participant", "contact_id", |n| &n.contact),
        ("conversation_participant", "conversation_id", |n| {
            &n.conversation
        }),
        ("value_offer", "contact_id", |n| &n.contact),
        ("value_offer", "conversation_id", |n| &n.conversation),
        ("value_offer", "introduced_contact_id", |n| &n.introduced),
        ("ask", "contact_id", |n| &n.contact),
        ("ask", "conversation_id", |n| &n.conversation),
        ("idea_topic", "offer_id", |n| &n.offer),
    ]
}

/// Pointing any reference of one owner's rows at the other owner's row of that kind, by SQL
/// that bypasses the application, is a foreign key violation on both backends; pointing it at
/// the owner's own row of that kind is not. A participant inserted with another owner's
/// contact is refused the same way.
#[tokio::test]
async fn the_database_refuses_a_reference_to_another_owners_row() {
    let app = spawn_app().await;
    let (ours, theirs) = (app.create_user().await, app.create_user().await);
    let (ours, theirs) = (network(&app, &ours).await, network(&app, &theirs).await);
    for (table, column, target) in references() {
        let point_at = |network: &Network| {
            format!(
                "UPDATE {table} SET {column} = {} WHERE owner_id = {} AND {column} IS NOT NULL",
                id(&app, target(network)),
                id(&app, &ours.owner)
            )
        };
        let refused = run(&app, point_at(&theirs)).await;
        assert!(
            matches!(
                refused.as_ref().map_err(DbErr::sql_err),
                Err(Some(SqlErr::ForeignKeyConstraintViolation(_)))
            ),
            "{table}.{column} to another owner's row: {refused:?}"
        );
        let kept = run(&app, point_at(&ours)).await;
        assert!(
            kept.as_ref().is_ok_and(|rows| *rows > 0),
            "{table}.{column} to the owner's own row: {kept:?}"
        );
    }
    let inserted = run(
        &app,
        format!(
            "INSERT INTO conversation_participant (conversation_id, contact_id, owner_id) \
             VALUES ({}, {}, {})",
            id(&app, &ours.conversation),
            id(&app, &theirs.introduced),
            id(&app, &ours.owner)
        ),
    )
    .await;
    assert!(
        matches!(
            inserted.as_ref().map_err(DbErr::sql_err),
            Err(Some(SqlErr::ForeignKeyConstraintViolation(_)))
        ),
        "a participant from another owner: {inserted:?}"
    );
}

/// A reference nulled when the row it points at is deleted loses only its own column: the
/// row keeps its owner, on both backends (PostgreSQL's `SET NULL (column)`, SQLite's
/// single-column key beside the owner's).
#[tokio::test]
async fn deleting_a_referenced_row_nulls_the_reference_and_keeps_the_owner() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let network = network(&app, &user).await;
    let owner = id(&app, &network.owner);
    delete(&app, "conversation", &network.conversation).await;
    for table in ["value_offer", "ask"] {
        let nulled = count(
            &app,
            format!(
                "SELECT count(*) FROM {table} WHERE owner_id = {owner} AND conversation_id IS NULL"
            ),
        )
        .await;
        assert_eq!(nulled, 1, "{table}.conversation_id");
    }
    delete(&app, "contact", &network.introduced).await;
    let nulled = count(&app, format!(
        "SELECT count(*) FROM value_offer WHERE owner_id = {owner} AND introduced_contact_id IS NULL"
    ))
    .await;
    assert_eq!(nulled, 1, "value_offer.introduced_contact_id");
    let introduced = post(
        &app,
        &user,
        "/v1/contacts",
        json!({"full_name": "Cy", "introduced_by_id": network.contact}),
    )
    .await;
    delete(&app, "contact", &network.contact).await;
    let nulled = count(
        &app,
        format!(
            "SELECT count(*) FROM contact WHERE id = {} AND owner_id = {owner} \
         AND introduced_by_id IS NULL",
            id(&app, &introduced)
        ),
    )
    .await;
    assert_eq!(nulled, 1, "contact.introduced_by_id");
    // The contact's own rows went with it.
    for table in [
        "contact_tag",
        "conversation_participant",
        "value_offer",
        "ask",
    ] {
        let left = count(
            &app,
            format!("SELECT count(*) FROM {table} WHERE owner_id = {owner}"),
        )
        .await;
        assert_eq!(left, 0, "{table}");
    }
}

/// Rows per table of the tables the migration rebuilds on SQLite, and of those referred to.
async fn row_counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in [
        "contact",
        "contact_tag",
        "conversation",
        "conversation_participant",
        "value_offer",
        "ask",
        "idea_topic",
    ] {
        counts.push((
            table,
            count(app, format!("SELECT count(*) FROM {table}")).await,
        ));
    }
    counts
}

/// The two migrations that key owned rows by their owner keep every row of a populated
/// database, going down (after the migrations since) and up again: down the primary keys'
/// (`owner_primary_keys`), the primary keys are as they were before it; down the references'
/// (`owner_scoped_references`) too, a reference to another owner's row is accepted as before
/// them; up, refused, and the primary keys lead with the owner again; every row and the ledger
/// as they were. On SQLite, running a rebuild with foreign keys on (outside `rapport migrate`)
/// fails instead of letting the dropped tables take their referrers along.
#[tokio::test]
async fn the_owner_keys_migrate_a_populated_database_both_ways() {
    use migration::{Migrator, MigratorTrait};

    let app = spawn_app().await;
    let (ours, theirs) = (app.create_user().await, app.create_user().await);
    let (ours, theirs) = (network(&app, &ours).await, network(&app, &theirs).await);
    let before = row_counts(&app).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let keys = names
        .iter()
        .position(|name| name == "m20261203_000019_owner_primary_keys")
        .expect("the owner keys' migration");
    assert_eq!(names[keys - 1], "m20261203_000018_owner_scoped_references");
    let keyed = unique_keys(&app).await;
    // The migrations since, first.
    let later = u32::try_from(names.len() - 1 - keys).expect("a count");
    if later > 0 {
        rapport::db::migrate_down(&app.db, later)
            .await
            .expect("migrate the later migrations down");
        assert_eq!(row_counts(&app).await, before);
    }

    if app.db.backend() == sea_orm::DbBackend::Sqlite {
        let unguarded = Migrator::down(app.db.writer(), Some(1)).await;
        assert!(unguarded.is_err(), "a rebuild with foreign keys on");
        assert_eq!(row_counts(&app).await, before);
    }

    rapport::db::migrate_down(&app.db, 1)
        .await
        .expect("migrate the primary keys down");
    assert_eq!(row_counts(&app).await, before);
    let primary = |keys: &[UniqueKey], table: &str| {
        keys.iter()
            .find(|key| key.primary && key.table == table)
            .map(|key| key.columns.clone())
    };
    let unkeyed = unique_keys(&app).await;
    for (table, columns) in [
        ("contact", vec!["id"]),
        (
            "conversation_participant",
            vec!["conversation_id", "contact_id"],
        ),
        ("idea_topic", vec!["offer_id", "topic"]),
    ] {
        assert_eq!(
            primary(&unkeyed, table),
            Some(columns.iter().map(|c| c.to_string()).collect())
        );
    }
    rapport::db::migrate_down(&app.db, 1)
        .await
        .expect("migrate the references down");
    assert_eq!(row_counts(&app).await, before);
    let across = |to: &str| {
        format!(
            "UPDATE value_offer SET conversation_id = {} WHERE owner_id = {}",
            id(&app, to),
            id(&app, &ours.owner)
        )
    };
    run(&app, across(&theirs.conversation))
        .await
        .expect("accepted without the owner keys");
    run(&app, across(&ours.conversation))
        .await
        .expect("set back");

    rapport::db::migrate_up(&app.db).await.expect("migrate up");
    assert_eq!(row_counts(&app).await, before);
    assert_eq!(unique_keys(&app).await, keyed);
    let refused = run(&app, across(&theirs.conversation)).await;
    assert!(
        matches!(
            refused.as_ref().map_err(DbErr::sql_err),
            Err(Some(SqlErr::ForeignKeyConstraintViolation(_)))
        ),
        "{refused:?}"
    );
    let differences = rapport::services::ledger::verify(&app.db, app.clock.now())
        .await
        .expect("verify");
    assert!(differences.is_empty(), "{differences:?}");
}

/// One foreign key as the catalog lists it: the table it is on, the table it refers to, and
/// the pairs of columns (here, there).
#[derive(Debug)]
struct ForeignKey {
    table: String,
    referred: String,
    columns: Vec<(String, String)>,
}

/// Every foreign key of the schema, read from the database's own catalog.
async fn foreign_keys(app: &TestApp) -> Vec<ForeignKey> {
    let conn = app.db.reader();
    let backend = app.db.backend();
    let rows = |sql: &str| conn.query_all_raw(Statement::from_string(backend, sql.to_owned()));
    let mut keys: Vec<ForeignKey> = Vec::new();
    match backend {
        sea_orm::DbBackend::Postgres => {
            // One row per column pair, in key order.
            let pairs = rows(
                "SELECT k.oid::text, k.conrelid::regclass::text, k.confrelid::regclass::text, \
                   a.attname::text, f.attname::text \
                 FROM pg_constraint AS k \
                 CROSS JOIN LATERAL unnest(k.conkey, k.confkey) WITH ORDINALITY AS c(mine, theirs, n) \
                 JOIN pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = c.mine \
                 JOIN pg_attribute AS f ON f.attrelid = k.confrelid AND f.attnum = c.theirs \
                 WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace \
                 ORDER BY k.oid, c.n",
            )
            .await
            .expect("pg_constraint");
            let mut last = String::new();
            for row in pairs {
                let (oid, table, referred, mine, theirs): (String, String, String, String, String) =
                    row.try_get_many_by_index().expect("columns");
                if oid != last {
                    keys.push(ForeignKey {
                        table: table.trim_matches('"').to_owned(),
                        referred: referred.trim_matches('"').to_owned(),
                        columns: Vec::new(),
                    });
                    last = oid;
                }
                if let Some(key) = keys.last_mut() {
                    key.columns.push((mine, theirs));
                }
            }
        }
        _ => {
            let pairs = rows(
                "SELECT m.name, k.id, k.\"table\", k.\"from\", k.\"to\" \
                 FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS k \
                 WHERE m.type = 'table' ORDER BY m.name, k.id, k.seq",
            )
            .await
            .expect("pragma_foreign_key_list");
            let mut last = (String::new(), -1);
            for row in pairs {
                let (table, id, referred, mine, theirs): (String, i64, String, String, String) =
                    row.try_get_many_by_index().expect("columns");
                if (table.clone(), id) != last {
                    keys.push(ForeignKey {
                        table: table.clone(),
                        referred,
                        columns: Vec::new(),
                    });
                    last = (table, id);
                }
                if let Some(key) = keys.last_mut() {
                    key.columns.push((mine, theirs));
                }
            }
        }
    }
    keys
}

/// The schema's rule, read from the catalog of each backend so that a new table or key cannot
/// break it unnoticed: a foreign key between two owned tables pairs `owner_id` with
/// `owner_id`, and one to `user` refers to its `id` from `owner_id`. (On SQLite the
/// single-column keys that null a reference stand beside the owner's, see the migration;
/// they are the only keys allowed to leave the owner out there, each with its owner's twin.)
#[tokio::test]
async fn every_foreign_key_between_owned_rows_carries_the_owner() {
    let app = spawn_app().await;
    let keys = foreign_keys(&app).await;
    assert!(keys.len() >= 20, "{keys:?}");
    let owner = ("owner_id".to_owned(), "owner_id".to_owned());
    for key in &keys {
        if key.referred == "user" {
            assert_eq!(
                key.columns,
                [("owner_id".to_owned(), "id".to_owned())],
                "{key:?}"
            );
        } else if key.columns.contains(&owner) {
            assert_eq!(key.columns.len(), 2, "{key:?}");
        } else {
            assert_eq!(app.db.backend(), sea_orm::DbBackend::Sqlite, "{key:?}");
            let twin = keys.iter().any(|other| {
                other.table == key.table
                    && other.referred == key.referred
                    && other.columns.contains(&owner)
                    && other.columns.iter().any(|c| key.columns.contains(c))
            });
            assert!(
                twin,
                "a key without the owner and without its twin: {key:?}"
            );
        }
    }
}

/// One unique key (a primary key, a unique constraint or a unique index) as the catalog
/// lists it: its table, its columns in order, and whether it is the primary key.
#[derive(Debug, PartialEq)]
struct UniqueKey {
    table: String,
    columns: Vec<String>,
    primary: bool,
}

/// Every unique key of the schema's tables, read from the database's own catalog, in a fixed
/// order.
async fn unique_keys(app: &TestApp) -> Vec<UniqueKey> {
    let conn = app.db.reader();
    let backend = app.db.backend();
    let sql = match backend {
        // One row per column, in key order.
        sea_orm::DbBackend::Postgres => {
            "SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, a.attname::text, \
               i.indisprimary \
             FROM pg_index AS i \
             JOIN pg_class AS t ON t.oid = i.indrelid \
             CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS c(attnum, n) \
             JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = c.attnum \
             WHERE i.indisunique AND t.relnamespace = current_schema()::regnamespace \
               AND t.relkind = 'r' \
             ORDER BY 2, 1, c.n"
        }
        _ => {
            "SELECT l.name, m.name, c.name, l.origin = 'pk' \
             FROM sqlite_master AS m, pragma_index_list(m.name) AS l, \
               pragma_index_info(l.name) AS c \
             WHERE m.type = 'table' AND l.\"unique\" \
             ORDER BY 2, 1, c.seqno"
        }
    };
    let rows = conn
        .query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .expect("the unique keys");
    let mut keys: Vec<UniqueKey> = Vec::new();
    let mut last = String::new();
    for row in rows {
        let (name, table, column, primary): (String, String, String, bool) =
            row.try_get_many_by_index().expect("columns");
        if name != last {
            keys.push(UniqueKey {
                table: table.trim_matches('"').to_owned(),
                columns: Vec::new(),
                primary,
            });
            last = name;
        }
        if let Some(key) = keys.last_mut() {
            key.columns.push(column);
        }
    }
    keys
}

/// The schema's rule, read from the catalog of each backend so that a new table or key cannot
/// break it unnoticed: every owned table has a primary key led by `owner_id`, and every unique
/// key of an owned table includes it (what a database distributed by owner requires of each
/// table distributed by that column, see `docs/SCALING.md`). The exceptions, named here: a
/// token's hash, by which a token is found before its owner is known, and on SQLite the `id` of
/// contacts and conversations, which the single-column keys that null a reference need unique
/// (see the migration `owner_primary_keys`).
#[tokio::test]
async fn every_owned_table_keys_by_its_owner() {
    let app = spawn_app().await;
    let keys = unique_keys(&app).await;
    let sqlite = app.db.backend() == sea_orm::DbBackend::Sqlite;
    for table in OWNED {
        let primary: Vec<&UniqueKey> = keys
            .iter()
            .filter(|key| key.table == table && key.primary)
            .collect();
        assert!(
            primary.len() == 1 && primary[0].columns[0] == "owner_id",
            "{table}: {primary:?}"
        );
    }
    let exception = |key: &UniqueKey| {
        let columns: Vec<&str> = key.columns.iter().map(String::as_str).collect();
        match (key.table.as_str(), columns.as_slice()) {
            ("personal_token" | "refresh_token" | "calendar_feed", ["token_hash"]) => true,
            ("contact" | "conversation", ["id"]) => sqlite,
            _ => false,
        }
    };
    let without: Vec<&UniqueKey> = keys
        .iter()
        .filter(|key| OWNED.contains(&key.table.as_str()))
        .filter(|key| !key.columns.iter().any(|c| c == "owner_id") && !exception(key))
        .collect();
    assert!(
        without.is_empty(),
        "unique keys without the owner: {without:?}"
    );
    // The owner's own row keys by the value every owned row's `owner_id` holds.
    let user = keys.iter().find(|key| key.table == "user" && key.primary);
    assert_eq!(
        user.map(|key| key.columns.as_slice()),
        Some(&["id".to_owned()][..])
    );
    assert!(keys.len() >= OWNED.len() + 4, "{keys:?}");
}

/// A migration that would leave a row referring to nothing fails before its commit, on
/// SQLite, where the runner turns foreign keys off: the schema stays as it was and the keys
/// are enforced again. The dangling row is made with foreign keys off, as a rebuild that lost
/// a key would leave it.
#[tokio::test]
async fn a_migration_leaving_a_dangling_reference_is_rolled_back() {
    use migration::{Migrator, MigratorTrait};

    let app = spawn_app().await;
    if app.db.backend() != sea_orm::DbBackend::Sqlite {
        return;
    }
    let user = app.create_user().await;
    let writer = app.db.writer();
    writer
        .execute_unprepared("PRAGMA foreign_keys = OFF")
        .await
        .expect("keys off");
    let dangling = run(&app, tag_of_nobody(&app, &user.id, "gone")).await;
    writer
        .execute_unprepared("PRAGMA foreign_keys = ON")
        .await
        .expect("keys on");
    dangling.expect("a row referring to nothing");

    let failed = rapport::db::migrate_down(&app.db, 1).await;

    let message = failed
        .expect_err("a dangling key must fail the migration")
        .to_string();
    assert!(message.contains("contact_tag"), "{message}");
    let applied = Migrator::get_applied_migrations(app.db.reader())
        .await
        .expect("applied migrations");
    assert_eq!(applied.len(), Migrator::migrations().len(), "rolled back");
    let refused = run(&app, tag_of_nobody(&app, &user.id, "nobody")).await;
    assert!(
        matches!(
            refused.as_ref().map_err(DbErr::sql_err),
            Err(Some(SqlErr::ForeignKeyConstraintViolation(_)))
        ),
        "keys enforced after the failure: {refused:?}"
    );
}

/// An insert of `tag`, `owner`'s, on a contact that does not exist.
fn tag_of_nobody(app: &TestApp, owner: &str, tag: &str) -> String {
    format!(
        "INSERT INTO contact_tag (contact_id, owner_id, tag) VALUES ({}, {}, '{tag}')",
        id(app, &uuid::Uuid::now_v7().to_string()),
        id(app, owner)
    )
}

/// The tables whose rows belong to an owner (`user` is the owner itself).
const OWNED: [&str; 13] = [
    "activity",
    "ask",
    "calendar_feed",
    "contact",
    "contact_tag",
    "conversation",
    "conversation_participant",
    "idea_topic",
    "idempotency_key",
    "personal_token",
    "refresh_token",
    "tag_count",
    "value_offer",
];

/// How many times `sql` reads or writes an owned table (after `FROM`, `JOIN`, `INTO` or
/// `UPDATE`), and how many times it states the owner: a condition on `owner_id` (`owner_id =
/// …`, or `coalesce(owner_id, owner_id) = …`), or an insert's `owner_id` column.
fn owned_references(sql: &str) -> (usize, usize) {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || "(),;".contains(c))
        .filter(|word| !word.is_empty())
        .map(|word| word.trim_matches('"').to_ascii_lowercase())
        .collect();
    let tables = words
        .windows(2)
        .filter(|pair| {
            ["from", "join", "into", "update"].contains(&pair[0].as_str())
                && OWNED.contains(&pair[1].as_str())
        })
        .count();
    let lower = sql.to_ascii_lowercase();
    let conditions = lower
        .match_indices("owner_id")
        .filter(|(at, name)| {
            let rest = lower[at + name.len()..].trim_start_matches(['"', ')', ' ']);
            rest.starts_with('=') || rest.starts_with("in ")
        })
        .count();
    let inserted = lower.starts_with("insert into")
        && lower
            .split_once(')')
            .is_some_and(|(columns, _)| columns.contains("owner_id"));
    (tables, conditions + usize::from(inserted))
}

/// The statements of a representative run, with their values: the ledger's random writes and
/// clock moves, then every read, the calendar feed, a token refresh and the account's deletion.
async fn representative_run(app: &TestApp) -> Vec<Statement> {
    use crate::ledger::{Rng, random_step};

    let user = app.create_user().await;
    app.db.log_statements();
    let mut rng = Rng(0x5a4d);
    let (mut contacts, mut records) = (Vec::new(), Vec::new());
    for _ in 0..120 {
        random_step(app, &user, &mut rng, &mut contacts, &mut records).await;
    }
    let contact = contacts.first().cloned().unwrap_or_default();
    let token = app.personal_token(&user, &["read"]).await;
    let reads = vec![
        "/v1/me".to_owned(),
        "/v1/contacts?limit=5&sort=-last_conversation_at".to_owned(),
        "/v1/contacts?health=due&reciprocity=giving&q=contact&tag=ai".to_owned(),
        format!("/v1/contacts/{contact}"),
        format!("/v1/contacts/{contact}/timeline"),
        "/v1/tags".to_owned(),
        format!("/v1/conversations?contact_id={contact}&q=call"),
        format!("/v1/value-offers?contact_id={contact}"),
        format!("/v1/asks?contact_id={contact}"),
        "/v1/follow-ups".to_owned(),
        "/v1/suggestions".to_owned(),
        "/v1/stats?from=2025-01-01&to=2026-12-31&granularity=month".to_owned(),
        "/v1/goals".to_owned(),
        "/v1/tokens".to_owned(),
    ];
    for path in &reads {
        let response = app.get_as(path, &token).await;
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
    }
    // Records a contact's deletion took with it are 404.
    for path in &records {
        let status = app.get_as(path, &token).await.status().as_u16();
        assert!(status == 200 || status == 404, "GET {path}: {status}");
    }
    let feed = app
        .request(
            Method::POST,
            "/v1/me/calendar-token",
            Some(&user.access_token),
            None,
        )
        .await;
    assert_eq!(feed.status().as_u16(), 201, "a calendar token");
    let feed: Value = feed.json().await.expect("json");
    let url = feed["url"].as_str().expect("a feed url");
    let path = &url[url.find("/v1/").expect("a path")..];
    assert_eq!(
        app.get_as(path, "").await.status().as_u16(),
        200,
        "the feed"
    );
    let refreshed = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(refreshed.status().as_u16(), 200, "a refresh");
    let deleted = app
        .request(
            Method::DELETE,
            "/v1/me",
            Some(&user.access_token),
            Some(&json!({"password": crate::helpers::PASSWORD})),
        )
        .await;
    assert_eq!(deleted.status().as_u16(), 204, "the account's deletion");
    app.db.take_statements()
}

/// Every statement a representative run makes on owned tables states the owner for each
/// table it reads or writes: a database sharded by owner routes a statement by it, and a
/// statement without it finds rows by a key alone, which another owner's row could hold.
#[tokio::test]
async fn every_statement_on_owned_tables_names_the_owner() {
    let app = spawn_app().await;
    let statements: Vec<String> = representative_run(&app)
        .await
        .into_iter()
        .map(|statement| statement.sql)
        .collect();
    assert!(statements.len() > 500, "{} statements", statements.len());
    let without: Vec<&String> = statements
        .iter()
        // A token is found by its secret's hash: its owner is what the lookup finds out.
        .filter(|sql| !sql.contains("\"token_hash\" = "))
        .filter(|sql| {
            let (tables, owners) = owned_references(sql);
            owners < tables
        })
        .collect();
    // One of each statement, whatever the length of its lists.
    let mut distinct: Vec<String> = without
        .iter()
        .map(|sql| {
            sql.replace("?, ", "")
                .replace(['$', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], "")
        })
        .collect();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.is_empty(),
        "{} statements on owned tables without their owner:\n{}",
        distinct.len(),
        distinct
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// The key each owned table is searched by when a statement names its rows: the table and its
/// primary key's column after `owner_id` that a statement compares.
const KEYED_BY: [(&str, &str); 7] = [
    ("contact", "id"),
    ("conversation", "id"),
    ("value_offer", "id"),
    ("ask", "id"),
    ("conversation_participant", "conversation_id"),
    ("contact_tag", "contact_id"),
    ("idea_topic", "offer_id"),
];

/// Every statement of a representative run that names rows of an owned table by their key
/// (`"contact"."id" IN (…)`, `"conversation_participant"."conversation_id" = …`) searches that
/// table's key for them (its primary key, `(owner_id, …)`, or on SQLite the unique `id` of
/// contacts and conversations), and walks no owner's rows, neither itself nor in the checks of
/// the foreign keys that refer to a row it deletes: never a walk by another index that leads
/// with the owner, which SQLite's planner may prefer, to skip a sort or when another condition
/// matches that index too, and whose cost grows with the network. SQLite
/// only: without statistics its plans do not depend on the data, so the test's plans are the
/// plans at any size; PostgreSQL's depend on statistics, and its hot reads' plans are checked
/// on their own (`ledger::every_follow_up_stream_is_an_ordered_index_search` and others).
#[tokio::test]
async fn statements_that_name_rows_by_key_search_the_primary_key() {
    let app = spawn_app().await;
    if app.db.backend() != sea_orm::DbBackend::Sqlite {
        return;
    }
    let statements = representative_run(&app).await;
    let mut seen = std::collections::HashSet::new();
    let mut checked = 0;
    let mut walks = Vec::new();
    for statement in statements {
        if !seen.insert(statement.sql.clone()) {
            continue;
        }
        let keyed: Vec<&str> = KEYED_BY
            .iter()
            .filter(|(table, column)| {
                let named = format!("\"{table}\".\"{column}\"");
                // A list of keys or one key; `IN (SELECT …)` filters a list read instead.
                [" IN (?", " IN ($", " = "]
                    .iter()
                    .any(|op| statement.sql.contains(&format!("{named}{op}")))
            })
            .map(|(table, _)| *table)
            .collect();
        if keyed.is_empty() {
            continue;
        }
        let plan = crate::ledger::plan_of(&app, statement.clone()).await;
        // The owner's rows walked: by the statement, or by a foreign key's check of the rows
        // that refer to one it deletes or changes.
        let writes = ["DELETE", "UPDATE"]
            .iter()
            .any(|w| statement.sql.starts_with(w));
        let walked = writes && plan.iter().any(|line| line.ends_with("(owner_id=?)"));
        for table in keyed {
            checked += 1;
            // A key of the table: its primary key, or (SQLite only) its unique `id`.
            let by_key = format!("INDEX sqlite_autoindex_{table}_");
            if walked || !plan.iter().any(|line| line.contains(&by_key)) {
                walks.push(format!("{}\n{}", statement.sql, plan.join("\n")));
                break;
            }
        }
    }
    assert!(checked > 20, "{checked} statements checked");
    assert!(
        walks.is_empty(),
        "{} statements name rows by key but do not search the primary key:\n\n{}",
        walks.len(),
        walks.join("\n\n")
    );
}
