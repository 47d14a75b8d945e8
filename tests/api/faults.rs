//! Storage and database faults on the write path: a full database refuses writes with 507 and
//! loses none it acknowledged, a writer connection left inside a transaction is never reused,
//! and a database short of a resource for the moment is 503, never 500.

use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, on_postgres, spawn_app};

async fn create_contact(
    app: &TestApp,
    user: &TestUser,
    name: &str,
    notes: &str,
) -> reqwest::Response {
    let body = json!({"full_name": name, "notes": notes});
    app.request(
        Method::POST,
        "/v1/contacts",
        Some(&user.access_token),
        Some(&body),
    )
    .await
}

async fn is_readable(app: &TestApp, user: &TestUser, id: &str) -> bool {
    app.get_as(&format!("/v1/contacts/{id}"), &user.access_token)
        .await
        .status()
        == 200
}

/// Runs one statement on SQLite's writer connection, outside any transaction of the driver.
async fn on_the_writer(app: &TestApp, sql: &str) -> Vec<sea_orm::QueryResult> {
    app.db
        .writer()
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .expect("statement on the writer")
}

/// SQLite's `max_page_count` gives the same `SQLITE_FULL` as a full disk (scripts/disk_full.py
/// fills a real filesystem): every write is then 507 or lands, `/readyz` says 503, and raising
/// the limit again lets the next write land and `/readyz` recover. SQLite only: PostgreSQL has
/// no per-connection storage limit to reach.
#[tokio::test]
async fn a_full_database_answers_507_and_acknowledges_only_what_it_keeps() {
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    let pages = on_the_writer(&app, "PRAGMA page_count").await;
    let limit: i64 = pages[0].try_get_by_index::<i64>(0).expect("page_count") + 12;
    // The limit holds for one connection: set it again before every write, as a disk stays
    // full whichever connection writes to it.
    let fill = format!("PRAGMA max_page_count = {limit}");

    let notes = "n".repeat(19_000);
    let (mut kept, mut refused) = (Vec::new(), 0);
    for i in 0..40 {
        on_the_writer(&app, &fill).await;
        let response = create_contact(&app, &user, &format!("Contact {i}"), &notes).await;
        if response.status() == 201 {
            let created: Value = response.json().await.expect("a contact");
            kept.push(created["id"].as_str().expect("an id").to_owned());
        } else {
            let retry_after = response.headers().get("retry-after").cloned();
            assert_problem(response, 507, "storage_full").await;
            assert!(retry_after.is_some(), "507 without Retry-After");
            refused += 1;
        }
    }
    assert!(
        refused >= 36,
        "only {refused} of 40 writes refused: the limit did not hold"
    );
    for id in &kept {
        assert!(
            is_readable(&app, &user, id).await,
            "acknowledged {id} is missing"
        );
    }
    on_the_writer(&app, &fill).await;
    assert_problem(app.get("/readyz").await, 503, "service_unavailable").await;

    on_the_writer(&app, "PRAGMA max_page_count = 1073741823").await;
    assert_eq!(
        app.get("/readyz").await.status(),
        200,
        "ready once there is room"
    );
    let response = create_contact(&app, &user, "After", &notes).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("a contact");
    assert!(is_readable(&app, &user, created["id"].as_str().expect("an id")).await);
}

/// A connection that SQLite says is inside a transaction (here one begun behind the driver's
/// back, as a failed `COMMIT` can leave it) goes back to the pool only to be replaced: the next
/// write lands and is visible to other connections.
#[tokio::test]
async fn a_writer_left_inside_a_transaction_is_replaced_before_the_next_write() {
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    on_the_writer(&app, "BEGIN IMMEDIATE").await;
    let response = create_contact(&app, &user, "Ada", "").await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("a contact");
    assert!(is_readable(&app, &user, created["id"].as_str().expect("an id")).await);
}

/// Concurrent rotations of the calendar URL all succeed, and the last one wins: one feed row,
/// and exactly one of the issued URLs works.
#[tokio::test]
async fn concurrent_calendar_url_rotations_all_succeed_and_leave_one() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let rotations = (0..12).map(|_| {
        app.request(
            Method::POST,
            "/v1/me/calendar-token",
            Some(&user.access_token),
            None,
        )
    });
    let mut tokens = Vec::new();
    for response in futures_util::future::join_all(rotations).await {
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("a token");
        tokens.push(body["token"].as_str().expect("token").to_owned());
    }
    let mut live = 0;
    for token in &tokens {
        if app
            .get(&format!("/v1/calendar.ics?token={token}"))
            .await
            .status()
            == 200
        {
            live += 1;
        }
    }
    assert_eq!(live, 1, "exactly one of {} URLs is live", tokens.len());
}

/// Returns once a statement of the server's that starts with `statement` waits for a lock
/// (PostgreSQL's `pg_stat_activity`), polled every 5 ms.
async fn wait_for_a_lock(app: &TestApp, statement: &str) {
    let waiting = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock' \
         AND starts_with(query, $1)",
        [statement.into()],
    );
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(5));
    loop {
        poll.tick().await;
        let row = app
            .db
            .reader()
            .query_one_raw(waiting.clone())
            .await
            .expect("poll");
        let n: i64 = row.expect("a row").try_get("", "n").expect("count");
        if n > 0 {
            return;
        }
    }
}

/// Sends `request` while a transaction of the test's holds `statement`
/// uncommitted, and commits it once the server's statement starting with `waits_on` waits for
/// its lock: the request then meets the statement's effect half-way through its own write.
async fn race_with_uncommitted(
    app: &TestApp,
    statement: &str,
    request: reqwest::RequestBuilder,
    waits_on: &str,
) -> reqwest::Response {
    use sea_orm::TransactionTrait;
    let holding = app.db.writer().begin().await.expect("a transaction");
    holding
        .execute_unprepared(statement)
        .await
        .expect("the statement, uncommitted");
    let waiting = async {
        wait_for_a_lock(app, waits_on).await;
        holding.commit().await.expect("commit");
    };
    tokio::join!(request.send(), waiting).0.expect("an answer")
}

/// `method path` as `user`, with `body` as JSON when given.
fn as_user(
    app: &TestApp,
    user: &TestUser,
    (method, path): (Method, &str),
    body: Option<Value>,
) -> reqwest::RequestBuilder {
    let request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&user.access_token);
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
}

/// A write that checked its contact exists, then lost the race with that contact's deletion,
/// is refused by the foreign key: 422 `unknown_contact`, not 500. Deterministic on PostgreSQL:
/// the test holds the contact's deletion uncommitted until the offer's insert waits on it.
/// (SQLite's single writer runs the check and the insert with no delete in between.)
#[tokio::test]
async fn a_write_that_loses_the_race_with_a_delete_is_422_unknown_contact() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    let contact: Value = create_contact(&app, &user, "Leaving", "")
        .await
        .json()
        .await
        .expect("contact");
    let id = contact["id"].as_str().expect("id").to_owned();
    let offer = json!({"contact_id": id, "kind": "news", "title": "News"});
    let response = race_with_uncommitted(
        &app,
        &format!("DELETE FROM contact WHERE id = '{id}'"),
        as_user(&app, &user, (Method::POST, "/v1/value-offers"), Some(offer)),
        "INSERT INTO \"value_offer\"",
    )
    .await;
    let body = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "contact_id");
    assert_eq!(body["errors"][0]["code"], "unknown_contact");
}

/// A write whose account is deleted while it runs answers 401 (the token's account is gone),
/// not 500, and leaves nothing. Deterministic on PostgreSQL: the test holds the account's
/// deletion uncommitted until the conversation's insert waits on it.
#[tokio::test]
async fn a_write_that_loses_the_race_with_its_accounts_deletion_is_401() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    let contact: Value = create_contact(&app, &user, "Ada", "")
        .await
        .json()
        .await
        .expect("contact");
    let talk = json!({"occurred_at": "2026-11-20T09:00:00Z", "channel": "coffee",
        "summary": "Coffee", "participant_ids": [contact["id"]]});
    let response = race_with_uncommitted(
        &app,
        &format!("DELETE FROM \"user\" WHERE id = '{}'", user.id),
        as_user(&app, &user, (Method::POST, "/v1/conversations"), Some(talk)),
        "INSERT INTO \"conversation\"",
    )
    .await;
    assert_problem(response, 401, "invalid_token").await;
    let left = app
        .db
        .reader()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT count(*) AS n FROM conversation WHERE owner_id = '{}'",
                user.id
            ),
        ))
        .await
        .expect("count")
        .expect("a row");
    assert_eq!(left.try_get::<i64>("", "n").expect("n"), 0);
}

/// A PATCH or DELETE whose first statement waits for the owner's row while the account is
/// being deleted finds the account gone once the deletion commits: 401, as a create answers,
/// not 404. An offer's write waits in its read of the offer (`Owner::find`), a contact's in
/// its lock of the owner (`Owner::lock_first`). Deterministic on PostgreSQL; SQLite's single
/// writer runs the deletion before or after the whole write.
#[tokio::test]
async fn a_patch_or_delete_that_loses_the_race_with_its_accounts_deletion_is_401() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    for method in [Method::PATCH, Method::DELETE] {
        let writes = [
            (
                "/v1/value-offers",
                json!({"title": "Renamed"}),
                "SELECT \"value_offer\"",
            ),
            (
                "/v1/contacts",
                json!({"full_name": "Renamed"}),
                "SELECT \"time_zone\"",
            ),
        ];
        for (collection, patch, waits_on) in writes {
            let user = app.create_user().await;
            let offer_id = given_offer(&app, &user).await;
            let id = if collection == "/v1/contacts" {
                let offer: Value = app
                    .get_as(&format!("/v1/value-offers/{offer_id}"), &user.access_token)
                    .await
                    .json()
                    .await
                    .expect("offer");
                offer["contact_id"].as_str().expect("contact id").to_owned()
            } else {
                offer_id
            };
            let body = (method == Method::PATCH).then_some(patch);
            let response = race_with_uncommitted(
                &app,
                &format!("DELETE FROM \"user\" WHERE id = '{}'", user.id),
                as_user(
                    &app,
                    &user,
                    (method.clone(), &format!("{collection}/{id}")),
                    body,
                ),
                waits_on,
            )
            .await;
            assert_problem(response, 401, "invalid_token").await;
        }
    }
}

/// Reading a record for its write tells a record that is not the owner's (none) from an owner
/// whose account is gone, its records with it (401), on both backends: the case where the
/// deletion commits after the request's authentication and before the read.
#[tokio::test]
async fn a_record_read_for_a_write_tells_a_missing_record_from_a_missing_owner() {
    use entity::value_offer::Entity;
    use rapport::services::owner::Owner;
    use sea_orm::{EntityTrait, TransactionTrait};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let stranger = app.create_user().await;
    let offer_id: uuid::Uuid = given_offer(&app, &stranger).await.parse().expect("uuid");
    let find = |owner_id: uuid::Uuid| Entity::find_by_id((owner_id, offer_id));
    let txn = app.db.writer().begin().await.expect("a transaction");
    let owner_id: uuid::Uuid = user.id.parse().expect("uuid");
    let not_theirs = Owner::new(owner_id).find(&txn, find(owner_id)).await;
    let gone_id = uuid::Uuid::now_v7();
    let gone = Owner::new(gone_id).find(&txn, find(gone_id)).await;
    txn.rollback().await.expect("rollback");
    assert!(not_theirs.expect("no error").is_none());
    let error = gone.err();
    let error = error.expect("an error for an owner that does not exist");
    assert_eq!(actix_web::ResponseError::status_code(&error), 401);
}

/// A record's PATCH or DELETE that read the record before another write changed it, and then
/// waited for that write's row lock, does not write over it: its update is conditional on the
/// version it read, and on a miss the write runs again on the record as it then stands.
/// Without `If-Match` the PATCH is applied on top of the other write (200, both changes kept)
/// and the DELETE deletes (204); with the `If-Match` it was sent with, it answers 412 and
/// changes nothing. Deterministic on PostgreSQL: the test holds the other write uncommitted
/// until the request's update or delete waits on it.
#[tokio::test]
async fn a_write_that_loses_the_race_with_another_runs_again_on_what_that_one_left() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    let offer_id = given_offer(&app, &user).await;
    let path = format!("/v1/value-offers/{offer_id}");
    let other_write = |details: &str| {
        format!(
            "UPDATE value_offer SET details = '{details}', \
             updated_at = updated_at + interval '1 second' WHERE id = '{offer_id}'"
        )
    };
    let stored = || async {
        let response = app.get_as(&path, &user.access_token).await;
        let etag = response.headers()["etag"]
            .to_str()
            .expect("etag")
            .to_owned();
        (response.json::<Value>().await.expect("the offer"), etag)
    };
    let patch = |title: &str| {
        as_user(
            &app,
            &user,
            (Method::PATCH, &path),
            Some(json!({"title": title})),
        )
    };
    let update = "UPDATE \"value_offer\"";

    let response =
        race_with_uncommitted(&app, &other_write("Elsewhere"), patch("Mine"), update).await;
    assert_eq!(response.status().as_u16(), 200, "no If-Match: applied");
    let answered: Value = response.json().await.expect("the offer");
    let (offer, etag) = stored().await;
    assert_eq!(offer["title"], "Mine", "the PATCH applied");
    assert_eq!(offer["details"], "Elsewhere", "the other write kept");
    assert_eq!(answered, offer, "answered as stored");

    // Sent with the version it read: the other write changed that, so 412 and nothing written.
    let conditional = patch("Mine again").header("if-match", etag);
    let response = race_with_uncommitted(&app, &other_write("Again"), conditional, update).await;
    assert_problem(response, 412, "precondition_failed").await;
    let (offer, _) = stored().await;
    assert_eq!(
        offer["title"], "Mine",
        "the conditional PATCH wrote nothing"
    );
    assert_eq!(offer["details"], "Again", "the other write kept");

    let delete = as_user(&app, &user, (Method::DELETE, &path), None);
    let response = race_with_uncommitted(
        &app,
        &other_write("Last"),
        delete,
        "DELETE FROM \"value_offer\"",
    )
    .await;
    assert_eq!(response.status().as_u16(), 204, "no If-Match: deleted");
    let gone = app.get_as(&path, &user.access_token).await;
    assert_eq!(gone.status().as_u16(), 404);
}

/// A write that PostgreSQL aborts to break a deadlock runs again and succeeds, not 500. The
/// application's writes take the owner's row first (see the next test), so the test's own
/// transaction takes the other order: it locks the offer; an offer's PATCH locks the owner's
/// row in its read and then waits for the offer at its update; the test's transaction then
/// asks for the owner's row. The PATCH waited first, so its deadlock check runs first and
/// PostgreSQL aborts it (the test's own check is put off); the test's transaction then gets
/// the owner's row and commits, and the PATCH's second run goes through.
#[tokio::test]
async fn a_write_that_loses_a_deadlock_runs_again() {
    use sea_orm::TransactionTrait;
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    let offer_id = given_offer(&app, &user).await;

    let holding = app.db.writer().begin().await.expect("a transaction");
    holding
        .execute_unprepared("SET LOCAL deadlock_timeout = '10s'")
        .await
        .expect("put off this side's deadlock check");
    holding
        .execute_unprepared(&format!(
            "SELECT id FROM value_offer WHERE id = '{offer_id}' FOR UPDATE"
        ))
        .await
        .expect("lock the offer");
    let path = format!("/v1/value-offers/{offer_id}");
    let moved = json!({"offered_at": "2026-11-18T09:00:00Z"});
    let patch = as_user(&app, &user, (Method::PATCH, &path), Some(moved)).send();
    let deadlock = async {
        wait_for_a_lock(&app, "UPDATE \"value_offer\"").await;
        // Waits until PostgreSQL aborts the PATCH's transaction, which held the owner's row.
        holding
            .execute_unprepared(&lock_owner(&user))
            .await
            .expect("lock the owner's row");
        holding.commit().await.expect("commit");
    };
    let (response, ()) = tokio::join!(patch, deadlock);
    let response = response.expect("an answer");
    assert_eq!(response.status().as_u16(), 200, "the PATCH ran again");
    let written: Value = response.json().await.expect("the offer");
    assert_eq!(written["offered_at"], "2026-11-18T09:00:00Z");
    app.assert_ledger_exact(&user, "after the deadlock").await;
}

/// The statement that locks `user`'s row as the application's writes do.
fn lock_owner(user: &TestUser) -> String {
    format!(
        "SELECT id FROM \"user\" WHERE id = '{}' FOR NO KEY UPDATE",
        user.id
    )
}

/// An offer given to a new contact of `user`'s; its id.
async fn given_offer(app: &TestApp, user: &TestUser) -> String {
    let contact: Value = create_contact(app, user, "Ada", "")
        .await
        .json()
        .await
        .expect("contact");
    let offer = json!({"contact_id": contact["id"], "kind": "news", "title": "News",
        "status": "offered", "offered_at": "2026-11-20T09:00:00Z"});
    let offer: Value = as_user(app, user, (Method::POST, "/v1/value-offers"), Some(offer))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("offer");
    offer["id"].as_str().expect("id").to_owned()
}

/// Every write of an owner's record locks the owner's row before any other row, so two writes
/// of one owner cannot deadlock: while the test holds the owner's row, a PATCH or DELETE of an
/// offer, the DELETE of a contact (whose cascade takes its offers) and a contact's PATCH each
/// wait for it holding no other lock: the test can take the rows they are about to write
/// without waiting (`NOWAIT`). Before, each held its record (and a contact's delete, the rows
/// it cascades to) while it waited for the owner's row.
#[tokio::test]
async fn a_write_locks_its_owner_before_any_other_row() {
    use sea_orm::TransactionTrait;
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    let offer_id = given_offer(&app, &user).await;
    let offer_path = format!("/v1/value-offers/{offer_id}");
    let contact_id = app
        .get_as(&offer_path, &user.access_token)
        .await
        .json::<Value>()
        .await
        .expect("the offer")["contact_id"]
        .as_str()
        .expect("contact id")
        .to_owned();
    let contact_path = format!("/v1/contacts/{contact_id}");
    let offer_row = format!("SELECT id FROM value_offer WHERE id = '{offer_id}' FOR UPDATE NOWAIT");
    let contact_row = format!("SELECT id FROM contact WHERE id = '{contact_id}' FOR UPDATE NOWAIT");
    let writes = [
        (
            Method::PATCH,
            &offer_path,
            Some(json!({"offered_at": "2026-11-18T09:00:00Z"})),
            200,
            &offer_row,
        ),
        (
            Method::PATCH,
            &contact_path,
            Some(json!({"cadence_days": 30})),
            200,
            &contact_row,
        ),
        (Method::DELETE, &offer_path, None, 204, &offer_row),
        (Method::DELETE, &contact_path, None, 204, &contact_row),
    ];
    for (method, path, body, status, row) in writes {
        let what = format!("{method} {path}");
        let holding = app.db.writer().begin().await.expect("a transaction");
        holding
            .execute_unprepared(&lock_owner(&user))
            .await
            .expect("lock the owner's row");
        let write = as_user(&app, &user, (method, path), body).send();
        let probe = async {
            wait_for_a_lock(&app, "").await;
            let free = holding.execute_unprepared(row).await;
            holding.commit().await.expect("commit");
            free
        };
        let (response, free) = tokio::join!(write, probe);
        assert!(
            free.is_ok(),
            "{what} held its row while it waited: {free:?}"
        );
        assert_eq!(
            response.expect("an answer").status().as_u16(),
            status,
            "{what}"
        );
    }
    app.assert_ledger_exact(&user, "after the writes").await;
}

/// Terminates every connection the server holds to its PostgreSQL database, as a restart or a
/// fail-over does (SQLSTATE 57P01).
async fn terminate_connections(app: &TestApp) {
    let admin =
        sea_orm::Database::connect(crate::helpers::postgres_admin_url().expect("admin URL"))
            .await
            .expect("an admin connection");
    let database = app
        .database_url
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    let terminated = admin
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE datname = '{database}'"
            ),
        ))
        .await
        .expect("terminate the server's connections")
        .expect("a row");
    let terminated: i64 = terminated.try_get("", "n").expect("a count");
    assert!(terminated > 0, "the server held connections");
    admin.close().await.expect("close");
}

/// PostgreSQL terminating the server's connections: reads run again on live connections and
/// succeed at once; a write is 503 `database_unavailable` with `Retry-After` or succeeds,
/// never 500; the pool then opens fresh connections and the next requests succeed.
#[tokio::test]
async fn terminated_database_connections_are_retried_for_reads_and_503_never_500_for_writes() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    // Several requests at once leave several connections idle in each pool: the contact list
    // reads through the shared pool, follow-ups and suggestions through the one that keeps
    // generic plans (`Db::generic_reader`).
    let paths = ["/v1/contacts", "/v1/follow-ups", "/v1/suggestions"];
    let (server, token) = (&app, &user.access_token);
    let reads = || {
        let all = paths.iter().flat_map(|path| std::iter::repeat_n(*path, 8));
        futures_util::future::join_all(
            all.map(|path| async move { (path, server.get_as(path, token).await.status()) }),
        )
    };
    for (path, status) in reads().await {
        assert_eq!(status, 200, "{path}");
    }

    terminate_connections(&app).await;
    for (path, status) in reads().await {
        assert_eq!(status, 200, "{path} after the restart");
    }

    terminate_connections(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = app
            .request(
                Method::POST,
                "/v1/contacts",
                Some(&user.access_token),
                Some(&json!({"full_name": "Ada"})),
            )
            .await;
        let status = response.status().as_u16();
        if status == 503 {
            assert!(response.headers().contains_key("retry-after"));
            assert_problem(response, 503, "database_unavailable").await;
        }
        statuses.push(status);
    }
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&201), "{statuses:?}");
}

/// Makes every contact insert on the test database fail with `condition`, as PostgreSQL does
/// when it runs short of a resource.
async fn fail_contact_inserts_with(app: &TestApp, condition: &str) {
    for sql in [
        format!(
            "CREATE OR REPLACE FUNCTION refuse_contact() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused for the test' USING ERRCODE = '{condition}'; END $$"
        ),
        "DROP TRIGGER IF EXISTS refuse_contact ON contact".to_owned(),
        "CREATE TRIGGER refuse_contact BEFORE INSERT ON contact \
         FOR EACH ROW EXECUTE FUNCTION refuse_contact()"
            .to_owned(),
    ] {
        app.db
            .writer()
            .execute_unprepared(&sql)
            .await
            .expect("install the refusing trigger");
    }
}

/// PostgreSQL short of a resource for the moment (memory, connections) is 503
/// `database_unavailable` with `Retry-After`; a full disk, which waits for an operator, is 507
/// `storage_full`; a limit of the configuration is neither transient nor the client's, so 500.
#[tokio::test]
async fn resources_short_for_the_moment_are_503_and_a_full_disk_507() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.create_user().await;
    for (condition, status, code) in [
        ("too_many_connections", 503, "database_unavailable"),
        ("out_of_memory", 503, "database_unavailable"),
        ("insufficient_resources", 503, "database_unavailable"),
        ("disk_full", 507, "storage_full"),
        ("configuration_limit_exceeded", 500, "internal_error"),
    ] {
        fail_contact_inserts_with(&app, condition).await;
        let response = create_contact(&app, &user, "Ada", "").await;
        assert_eq!(
            response.headers().contains_key("retry-after"),
            status != 500,
            "{condition}"
        );
        assert_problem(response, status, code).await;
    }
    app.db
        .writer()
        .execute_unprepared("DROP TRIGGER refuse_contact ON contact")
        .await
        .expect("drop the trigger");
    assert_eq!(create_contact(&app, &user, "Ada", "").await.status(), 201);
}

/// Every SQLite connection of the server, readers and writer, runs with the page cache the
/// server configures rather than SQLite's 2 MB default.
#[tokio::test]
async fn every_sqlite_connection_has_the_configured_page_cache() {
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let read = app
        .db
        .reader()
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA cache_size",
        ))
        .await
        .expect("cache size")
        .expect("a row");
    let written = on_the_writer(&app, "PRAGMA cache_size").await;
    for row in [&read, &written[0]] {
        let kib: i64 = row.try_get_by_index(0).expect("a number");
        assert_eq!(kib, -16 * 1024, "cache_size in -KiB");
    }
}

/// Concurrent PATCHes of one record without `If-Match` are all applied, one after the other:
/// each waits for the owner's row, reads the record again if the one before changed it, and
/// none is refused or answered 503 for losing to the others. The last one's title is stored,
/// the record's version moved once per PATCH, and the ledger is exact.
#[tokio::test]
async fn concurrent_patches_of_one_record_without_if_match_are_all_applied() {
    const PATCHES: usize = 16;
    let app = spawn_app().await;
    let user = app.create_user().await;
    let offer_id = given_offer(&app, &user).await;
    let path = format!("/v1/value-offers/{offer_id}");
    let patches = (0..PATCHES).map(|i| {
        let body = json!({"title": format!("Title {i}"),
            "offered_at": format!("2026-11-{:02}T09:00:00Z", 1 + i)});
        as_user(&app, &user, (Method::PATCH, &path), Some(body)).send()
    });
    let answers = futures_util::future::join_all(patches).await;
    let mut titles = Vec::new();
    for answer in answers {
        let answer = answer.expect("an answer");
        assert_eq!(answer.status().as_u16(), 200, "{:?}", answer.text().await);
        let written: Value = answer.json().await.expect("the offer");
        titles.push((
            written["updated_at"].as_str().expect("version").to_owned(),
            written,
        ));
    }
    titles.sort_by(|a, b| a.0.cmp(&b.0));
    titles.dedup_by(|a, b| a.0 == b.0);
    assert_eq!(
        titles.len(),
        PATCHES,
        "each PATCH wrote a version of its own"
    );
    let stored: Value = app
        .get_as(&path, &user.access_token)
        .await
        .json()
        .await
        .expect("the offer");
    let last = &titles.last().expect("a PATCH").1;
    assert_eq!(stored["title"], last["title"], "the last version is stored");
    app.assert_ledger_exact(&user, "after the PATCHes").await;
}
