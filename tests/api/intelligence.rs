//! Relationship intelligence over HTTP: derived relationships on contacts, follow-ups,
//! suggestions, statistics, goals and the calendar feed, with the clock pinned.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, pinned_at, spawn_app};

/// A user's network, built through the API.
struct Net<'a> {
    app: &'a TestApp,
    user: TestUser,
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

impl<'a> Net<'a> {
    async fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            user: app.create_user().await,
        }
    }

    fn token(&self) -> Option<&str> {
        Some(self.user.access_token.as_str())
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> Value {
        let response = self
            .app
            .request(method.clone(), path, self.token(), Some(&body))
            .await;
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status < 300, "{method} {path} {body}: {status} {value}");
        value
    }

    async fn get(&self, path: &str) -> Value {
        let response = self.app.get_as(path, &self.user.access_token).await;
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// [`Net::get`], with the number of statements the request ran.
    async fn get_counted(&self, path: &str) -> (u64, Value) {
        let before = self.app.db.statements_run();
        let answer = self.get(path).await;
        (self.app.db.statements_run() - before, answer)
    }

    /// A contact created at `created` (the clock is moved there and back).
    async fn contact(&self, name: &str, extra: Value, created: DateTime<Utc>) -> String {
        let now = self.app.clock.now();
        self.app.clock.set(created);
        let id = self
            .create("/v1/contacts", json!({"full_name": name}), extra)
            .await;
        self.app.clock.set(now);
        id
    }

    /// POSTs `base` with `extra` merged in to `path` and returns the new object's id.
    async fn create(&self, path: &str, mut base: Value, extra: Value) -> String {
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.send(Method::POST, path, base).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn conversation(&self, at: DateTime<Utc>, with: &[&str], extra: Value) -> String {
        let base = json!({"occurred_at": at, "channel": "coffee", "summary": "Coffee",
            "participant_ids": with});
        self.create("/v1/conversations", base, extra).await
    }

    async fn offer(&self, contact: &str, extra: Value) -> String {
        let base = json!({"contact_id": contact, "kind": "article", "title": "An article"});
        self.create("/v1/value-offers", base, extra).await
    }

    async fn ask(&self, contact: &str, extra: Value) -> String {
        let base = json!({"contact_id": contact, "kind": "advice", "title": "Advice"});
        self.create("/v1/asks", base, extra).await
    }

    async fn relationship(&self, contact: &str) -> Value {
        self.get(&format!("/v1/contacts/{contact}")).await["relationship"].clone()
    }

    /// The `field` of every item of `path`, following cursors page by page.
    async fn all_pages(&self, path: &str, field: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                None => path.to_owned(),
                Some(c) => format!("{path}&cursor={c}"),
            };
            let page = self.get(&url).await;
            out.extend(
                page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i[field].clone()),
            );
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => {
                    assert_eq!(page["has_more"], false);
                    return out;
                }
            }
        }
    }
}

#[tokio::test]
async fn every_contact_response_carries_its_derived_relationship() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let ada = net
        .contact("Ada", json!({"cadence_days": 30}), t0 - days(62))
        .await;
    let first = t0 - days(31);
    let last = t0 - days(12);
    net.conversation(first, &[&ada], json!({})).await; // thank-you owed by default
    net.conversation(last, &[&ada], json!({"thank_you_status": "sent"}))
        .await;
    net.conversation(t0 + days(6), &[&ada], json!({})).await; // planned: not counted yet
    let offered = net.offer(&ada, json!({"status": "offered"})).await;
    net.offer(&ada, json!({"status": "declined"})).await;
    net.offer(&ada, json!({})).await; // an idea gives nothing yet
    net.ask(&ada, json!({"status": "asked"})).await;
    net.ask(&ada, json!({"status": "granted"})).await;
    net.ask(&ada, json!({"status": "planned"})).await;

    let response = app
        .get_as(&format!("/v1/contacts/{ada}"), &net.user.access_token)
        .await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let contact: Value = response.json().await.unwrap();
    assert_eq!(
        contact["relationship"],
        json!({
            "conversation_count": 2,
            "first_conversation_at": first,
            "last_conversation_at": last,
            "next_check_in_on": "2026-03-22",
            "health": "ok",
            "gives": 1, "asks": 2, "balance": -1, "reciprocity": "taking",
            "thank_yous_owed": 1,
            "one_off": false,
        })
    );
    let listed = net.get("/v1/contacts").await;
    assert_eq!(listed["data"][0]["relationship"], contact["relationship"]);

    // Declining the offer takes it off the balance; the representation's ETag follows, while
    // the contact's stored version (what If-Match compares) does not move.
    net.send(
        Method::PATCH,
        &format!("/v1/value-offers/{offered}"),
        json!({"status": "declined"}),
    )
    .await;
    let r = net.relationship(&ada).await;
    assert_eq!(
        (r["gives"].clone(), r["balance"].clone()),
        (json!(0), json!(-2))
    );
    let conditional = app
        .client
        .get(app.url(&format!("/v1/contacts/{ada}")))
        .bearer_auth(&net.user.access_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        conditional.status().as_u16(),
        200,
        "a stale ETag is not 304"
    );
    let patched = app
        .client
        .patch(app.url(&format!("/v1/contacts/{ada}")))
        .bearer_auth(&net.user.access_token)
        .header("if-match", &etag)
        .json(&json!({"title": "Countess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        patched.status().as_u16(),
        200,
        "If-Match compares the stored version"
    );
    let stale = app
        .client
        .patch(app.url(&format!("/v1/contacts/{ada}")))
        .bearer_auth(&net.user.access_token)
        .header("if-match", &etag)
        .json(&json!({"title": "Engineer"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "precondition_failed").await;

    let read_only = app
        .request(
            Method::PATCH,
            &format!("/v1/contacts/{ada}"),
            net.token(),
            Some(&json!({"relationship": {"health": "ok"}})),
        )
        .await;
    let problem = assert_problem(read_only, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "read_only");
}

#[tokio::test]
async fn a_list_page_costs_the_same_number_of_queries_for_one_contact_or_a_hundred() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let first = net
        .contact("Contact 000", json!({"cadence_days": 14}), t0)
        .await;
    net.conversation(t0 - days(3), &[&first], json!({})).await;

    let cost = |path: &'static str| {
        let net = &net;
        async move {
            let (spent, page) = net.get_counted(path).await;
            (spent, page["data"].as_array().unwrap().len())
        }
    };
    let paths = [
        "/v1/contacts?limit=100",
        "/v1/contacts?limit=100&sort=-next_check_in_on",
        "/v1/contacts?limit=100&health=ok",
    ];
    let mut small = Vec::new();
    for path in paths {
        small.push(cost(path).await);
    }
    for i in 1..100 {
        let id = net
            .contact(&format!("Contact {i:03}"), json!({"cadence_days": 14}), t0)
            .await;
        net.conversation(t0 - days(i % 10), &[&id, &first], json!({}))
            .await;
        net.offer(&id, json!({"status": "offered"})).await;
        net.ask(&id, json!({"status": "asked"})).await;
    }
    for (path, (queries, items)) in paths.into_iter().zip(small) {
        let (big_queries, big_items) = cost(path).await;
        assert_eq!(items, 1, "{path}");
        assert_eq!(big_items, 100, "{path}");
        assert_eq!(
            big_queries, queries,
            "{path}: queries do not grow with the page"
        );
        assert!(queries <= 8, "{path}: {queries} statements");
    }
}

#[tokio::test]
async fn reading_a_contact_costs_two_statements_whatever_its_tags_and_history() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let bare = net.contact("Bare", json!({}), t0).await;
    let busy = net
        .contact(
            "Busy",
            json!({"tags": ["a", "b", "c"], "cadence_days": 7}),
            t0,
        )
        .await;
    for i in 1..=5 {
        net.conversation(t0 - days(i), &[&busy], json!({})).await;
        net.offer(&busy, json!({"status": "offered"})).await;
        net.ask(&busy, json!({"status": "asked"})).await;
    }
    let cost = |id: String| {
        let net = &net;
        async move { net.get_counted(&format!("/v1/contacts/{id}")).await }
    };
    let (bare_cost, bare) = cost(bare).await;
    let (busy_cost, busy) = cost(busy).await;
    assert_eq!(bare["tags"], json!([]));
    assert_eq!(busy["tags"], json!(["a", "b", "c"]));
    assert_eq!(busy["relationship"]["conversation_count"], 5);
    assert_eq!(busy["relationship"]["gives"], 5);
    assert_eq!(busy["relationship"]["asks"], 5);
    assert_eq!(busy["relationship"]["thank_yous_owed"], 5);
    assert_eq!(bare["relationship"]["conversation_count"], 0);
    assert_eq!(busy_cost, bare_cost, "tags and history add no statement");
    // The token's account check (with the time zone), then the contact joined to its tags
    // and to its conversation, gives and asks aggregates.
    assert_eq!(busy_cost, 2, "statements for GET /v1/contacts/{{id}}");
    // The same relationships as the list's, which reads them another way.
    let list = net.get("/v1/contacts?limit=10").await;
    for contact in [&bare, &busy] {
        let listed = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == contact["id"])
            .unwrap();
        assert_eq!(listed["relationship"], contact["relationship"]);
        assert_eq!(listed["tags"], contact["tags"]);
    }
}

/// A page of follow-ups is one statement after the token's account check, whatever kinds it
/// lists and however many: the five streams, their contacts' names, the thank-yous' summaries,
/// the next steps' participants and the ledger's out-of-date probe are read together. When
/// the probe finds a row out of date, the rows are brought up to date and read again.
#[tokio::test]
async fn a_follow_up_page_costs_two_statements_whatever_it_lists() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let (empty_cost, empty) = net.get_counted("/v1/follow-ups?limit=100").await;
    assert_eq!(empty["data"], json!([]));
    for name in ["Ada", "Bob", "Cy"] {
        let id = net
            .contact(name, json!({"cadence_days": 7}), t0 - days(40))
            .await;
        net.conversation(
            t0 - days(20),
            &[&id],
            json!({"summary": format!("Coffee with {name}"), "next_step": "Send the deck",
                "next_step_due_on": "2026-03-05"}),
        )
        .await;
        net.offer(&id, json!({"title": "Rust article"})).await;
        net.ask(&id, json!({"status": "asked", "asked_at": t0 - days(20)}))
            .await;
    }
    // Planned for tomorrow: the probe finds it once it has happened.
    let ada = net.contact("Ada Two", json!({"cadence_days": 7}), t0).await;
    net.conversation(t0 + days(1), &[&ada], json!({})).await;

    let (full_cost, full) = net.get_counted("/v1/follow-ups?limit=100").await;
    let items = full["data"].as_array().unwrap();
    let mut kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "ask_follow_up",
            "check_in",
            "deliver_offer",
            "next_step",
            "thank_you"
        ]
    );
    for item in items.iter().filter(|i| i["kind"] == "thank_you") {
        assert_eq!(
            item["detail"],
            format!("Coffee with {}", item["contact_name"].as_str().unwrap())
        );
    }
    assert_eq!(empty_cost, 2, "statements for an empty page");
    assert_eq!(full_cost, 2, "statements for a page of every kind");

    // Two days on, the planned conversation has happened: the probe finds its contact out of
    // date; the write that brings it up to date (its own read, the owner's zone, the ledger
    // rows, the stored rows) comes between two reads of the page.
    app.clock.set(t0 + days(2));
    let (caught_up, page) = net.get_counted("/v1/follow-ups?limit=100").await;
    assert!(caught_up > 2, "{caught_up} statements");
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "thank_you" && i["contact_name"] == "Ada Two"),
        "{page}"
    );
    let (after, _) = net.get_counted("/v1/follow-ups?limit=100").await;
    assert_eq!(after, 2, "statements once the ledger is up to date");
}

/// What a suggestions page costs in statements: the token's account, the group walk with the
/// ledger's out-of-date probe, one read of the groups and bases that can reach the page (each
/// contact with its own oldest idea), a page of each wanted topic and the chosen offers. The
/// picked contacts come whole with the read that ranks them. When the probe finds rows
/// out of date, the write that brings them up to date comes between two walks.
#[tokio::test]
async fn a_suggestions_page_costs_a_statement_per_step_of_its_walk() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let (empty_cost, empty) = net.get_counted("/v1/suggestions?limit=10").await;
    assert_eq!(empty["data"], json!([]));
    // The token's account, the walk (and probe), the bases with nothing due.
    assert_eq!(empty_cost, 3, "statements for an empty page");

    // Three contacts due in one group (base 0, cadence 7): Bob and Cy have ideas of their own;
    // Ada has none but wants one on "ai", which Cy's is about.
    let long_ago = t0 - days(40);
    let ada = net
        .contact(
            "Ada",
            json!({"cadence_days": 7, "interests": ["ai"]}),
            long_ago,
        )
        .await;
    let bob = net
        .contact("Bob", json!({"cadence_days": 7}), long_ago)
        .await;
    let cy = net
        .contact("Cy", json!({"cadence_days": 7}), long_ago)
        .await;
    let own = net.offer(&bob, json!({"title": "Bob's book"})).await;
    let topical = net
        .offer(&cy, json!({"title": "AI paper", "topics": ["ai"]}))
        .await;
    let (full_cost, full) = net.get_counted("/v1/suggestions?limit=10").await;
    let offers: Vec<(&str, &Value)> = full["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["contact_id"].as_str().unwrap(),
                &s["suggested_offer"]["id"],
            )
        })
        .collect();
    assert_eq!(
        offers,
        [
            (ada.as_str(), &json!(topical)),
            (bob.as_str(), &json!(own)),
            (cy.as_str(), &json!(topical)),
        ],
        "{full}"
    );
    // The token's account, the walk (and probe), the group's contacts (with their own ideas)
    // and the bases with nothing due, the "ai" topic, the chosen offers.
    assert_eq!(
        full_cost, 5,
        "statements for a page with one group and one topic"
    );

    // Planned for tomorrow with Ada: once it has happened, the probe finds her out of date,
    // and the page shows the thank-you it owes (no longer cold, she ranks last).
    net.conversation(t0 + days(1), &[&ada], json!({})).await;
    app.clock.set(t0 + days(2));
    let (caught_up, page) = net.get_counted("/v1/suggestions?limit=10").await;
    assert!(caught_up > 5, "{caught_up} statements");
    assert_eq!(page["data"][2]["contact_id"], json!(ada), "{page}");
    assert_eq!(page["data"][2]["reason"], "thank_you_owed", "{page}");
    assert_eq!(page["data"][2]["relationship"]["conversation_count"], 1);
    let (after, again) = net.get_counted("/v1/suggestions?limit=10").await;
    assert_eq!(again, page);
    // Ada, not due now, is read with the bases with nothing due: the same five statements.
    assert_eq!(after, 5, "statements once the ledger is up to date");
}

/// What a write costs in statements, with its ledger and activity counts: each write reads
/// (and on PostgreSQL locks) its owner's row once, however many counts it moves, and counts
/// its activity in one upsert.
#[tokio::test]
async fn a_write_reads_its_owner_once_and_counts_its_activity_in_one_upsert() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let mut people = Vec::new();
    for name in ["Ada", "Grace", "Edsger"] {
        people.push(net.contact(name, json!({}), t0 - days(30)).await);
    }
    let with: Vec<&str> = people.iter().map(String::as_str).collect();
    net.conversation(t0 - days(3), &with, json!({})).await;
    let cost = |method: Method, path: String, body: Value| {
        let net = &net;
        async move {
            let before = net.app.db.statements_run();
            let answer = net.send(method, &path, body).await;
            (net.app.db.statements_run() - before, answer)
        }
    };
    let conversation = json!({"occurred_at": t0 - days(1), "channel": "coffee",
        "summary": "Coffee", "participant_ids": with});
    let sqlite = u64::from(app.db.backend() == sea_orm::DbBackend::Sqlite);
    // On PostgreSQL the new ledgers and the activity upsert, which write tables apart and
    // whose answers the write does not need, are one statement (`db::Txn`); so are they in
    // every write below that moves a ledger.
    let pg = 1 - sqlite;
    let calls = app.db.calls_run();
    let (spent, talk) = cost(Method::POST, "/v1/conversations".into(), conversation).await;
    // The token's account, the conversation returning the owner's zone (locked), its
    // participant rows (one insert), the participants' ledgers with the presence counts the
    // activity needs, their new ledgers (one upsert), the activity upsert. On SQLite the
    // conversation is inserted without returning anything, and the zone the request's
    // authentication read is assumed, then confirmed by a column of the ledgers' read.
    assert_eq!(
        spent,
        6 - pg,
        "POST /v1/conversations with three participants"
    );
    // On SQLite, where each call to the driver is a hand-off to the connection's thread,
    // the statements whose answer the write does not need go with the next one: the
    // conversation and the participant rows with their ledgers' read, the new ledgers with
    // the activity upsert at the end.
    let calls = app.db.calls_run() - calls;
    assert_eq!(
        calls,
        5 - 2 * sqlite,
        "calls to the driver for a conversation"
    );
    let path = format!("/v1/conversations/{}", talk["id"].as_str().unwrap());
    let moved = json!({"occurred_at": t0 - days(40), "thank_you_status": "sent"});
    let calls = app.db.calls_run();
    let (spent, written) = cost(Method::PATCH, path.clone(), moved).await;
    // The token's account, the conversation with the owner's zone (the owner's row locked
    // first) and its participants, the update returning the row as written, the participant
    // rows' copy, the participants' stored ledgers with the presence counts and their ends
    // read again, their new ledgers, the activity upsert: nothing reads their histories. The
    // answer is the row the update returned: no read back.
    assert_eq!(
        spent,
        8 - pg,
        "PATCH /v1/conversations/{{id}}, moved to another month, thanked"
    );
    // On SQLite the participant rows' copy goes with the ledgers' read, the new ledgers with
    // the activity upsert.
    assert_eq!(
        app.db.calls_run() - calls,
        7 - sqlite,
        "calls for that PATCH"
    );
    assert_eq!(
        written,
        net.get(&path).await,
        "the PATCH answers the row as stored"
    );
    assert_eq!(written["participant_ids"].as_array().map(Vec::len), Some(3));
    let (spent, written) = cost(Method::PATCH, path.clone(), json!({"summary": "Tea"})).await;
    // The token's account, the conversation with the owner's zone and its participants, the
    // update: a summary moves no count, so the ledger is not read.
    assert_eq!(spent, 4, "PATCH /v1/conversations/{{id}}, summary only");
    assert_eq!(
        written,
        net.get(&path).await,
        "the PATCH answers the row as stored"
    );
    let (spent, _) = cost(Method::DELETE, path, Value::Null).await;
    // The token's account, the conversation with the owner's zone (the owner's row locked
    // before the rows the delete cascades to, as every write of the owner locks them) and
    // its participants, the delete, the stored ledgers with the presence counts and their
    // ends read again, the new ledgers, the activity upsert.
    assert_eq!(spent, 7 - pg, "DELETE /v1/conversations/{{id}}");

    let offer = json!({"contact_id": people[0], "kind": "article", "title": "A read",
        "status": "offered", "offered_at": t0 - days(2)});
    let (spent, offer) = cost(Method::POST, "/v1/value-offers".into(), offer).await;
    // The token's account, the contact check, the offer returning the owner's zone
    // (locked), the contact's stored ledger, its new ledger, the activity upsert: the
    // ledger's statements do not read the contact's records.
    assert_eq!(spent, 6 - pg, "POST /v1/value-offers, given");
    let path = format!("/v1/value-offers/{}", offer["id"].as_str().unwrap());
    let (spent, written) = cost(Method::PATCH, path.clone(), json!({"title": "A talk"})).await;
    // The token's account, the offer with the owner's zone (locked), the update: a title
    // moves no count.
    assert_eq!(spent, 3, "PATCH /v1/value-offers/{{id}}, title only");
    assert_eq!(
        written,
        net.get(&path).await,
        "the PATCH answers the row as stored"
    );
    let moved = json!({"offered_at": t0 - days(40)});
    let (spent, written) = cost(Method::PATCH, path.clone(), moved).await;
    // The token's account, the offer with the owner's zone (locked), the update, the
    // activity upsert: the contact's count of gives does not move, so neither does its
    // ledger.
    assert_eq!(spent, 4, "PATCH /v1/value-offers/{{id}}, given earlier");
    assert_eq!(
        written,
        net.get(&path).await,
        "the PATCH answers the row as stored"
    );
    let (spent, _) = cost(Method::DELETE, path, Value::Null).await;
    // The token's account, the offer with the owner's zone (locked), the delete, the
    // contact's stored ledger, its new ledger, the activity upsert.
    assert_eq!(spent, 6 - pg, "DELETE /v1/value-offers/{{id}}, given");
    let ask = json!({"contact_id": people[1], "kind": "advice", "title": "Advice",
        "status": "asked", "asked_at": t0 - days(2)});
    let (spent, ask) = cost(Method::POST, "/v1/asks".into(), ask).await;
    // The token's account, the contact check, the ask returning the owner's zone (locked),
    // the contact's stored ledger, its new ledger, the activity upsert: the date its
    // follow-up is due is computed in the zone the token's check read, and the insert's zone
    // confirms it.
    assert_eq!(spent, 6 - pg, "POST /v1/asks, asked");
    assert_eq!(net.relationship(&people[1]).await["asks"], 1);
    let path = format!("/v1/asks/{}", ask["id"].as_str().unwrap());
    let withdrawn = json!({"status": "withdrawn"});
    let (spent, written) = cost(Method::PATCH, path.clone(), withdrawn).await;
    // The token's account, the ask with the owner's zone (locked), the update, the contact's
    // stored ledger, its new ledger: an answered ask is due on no date, and its date, not
    // moved, counts no activity.
    assert_eq!(spent, 5, "PATCH /v1/asks/{{id}}, withdrawn");
    assert_eq!(written, net.get(&path).await, "answered as stored");
    assert_eq!(net.relationship(&people[1]).await["asks"], 0);
    // Every due date stored on the way, the withdrawn ask's none included, as recomputed.
    app.assert_ledger_exact(&net.user, "after the writes").await;
    assert_eq!(net.relationship(&people[0]).await["gives"], 0);
}

#[tokio::test]
async fn a_write_that_changes_no_ledger_writes_none() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let ada = net.contact("Ada", json!({}), t0 - days(30)).await;
    let grace = net.contact("Grace", json!({}), t0 - days(30)).await;
    net.conversation(t0 + days(3), &[&ada, &grace], json!({}))
        .await;
    let before = [net.relationship(&ada).await, net.relationship(&grace).await];
    let statements = app.db.statements_run();
    // Planned after one already planned with both: neither ledger changes (the next planned
    // conversation stays the earlier one), so the ledgers' write is left out.
    net.conversation(t0 + days(9), &[&ada, &grace], json!({}))
        .await;
    let spent = app.db.statements_run() - statements;
    // The token's account, the conversation returning the owner's zone (on SQLite, the zone
    // assumed and read with the ledgers), its participant rows, the ledgers with the presence
    // counts, the activity upsert.
    assert_eq!(spent, 5, "a conversation that moves no ledger");
    let after = [net.relationship(&ada).await, net.relationship(&grace).await];
    assert_eq!(before, after);
    // One that does move them still writes them, once.
    let statements = app.db.statements_run();
    net.conversation(t0 - days(1), &[&ada, &grace], json!({}))
        .await;
    let pg = u64::from(app.db.backend() == sea_orm::DbBackend::Postgres);
    assert_eq!(app.db.statements_run() - statements, 6 - pg);
    assert_eq!(net.relationship(&ada).await["conversation_count"], 1);
    assert_eq!(net.relationship(&grace).await["conversation_count"], 1);
    app.assert_ledger_exact(&net.user, "after the writes").await;
}

#[tokio::test]
async fn editing_a_conversation_moves_the_histories_of_its_participants() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let ada = net.contact("Ada", json!({}), t0 - days(30)).await;
    let bob = net.contact("Bob", json!({}), t0 - days(30)).await;
    let talk = net.conversation(t0 - days(3), &[&ada], json!({})).await;
    let ada_now = net.relationship(&ada).await;
    assert_eq!(ada_now["thank_yous_owed"], 1);
    assert_eq!(ada_now["last_conversation_at"], json!(t0 - days(3)));
    let owed = net.get("/v1/follow-ups?kind=thank_you").await;
    assert_eq!(owed["data"].as_array().unwrap().len(), 1);

    // A new date and a sent thank-you reach the history and the follow-ups.
    net.send(
        Method::PATCH,
        &format!("/v1/conversations/{talk}"),
        json!({"occurred_at": t0 - days(1), "thank_you_status": "sent"}),
    )
    .await;
    let ada_now = net.relationship(&ada).await;
    assert_eq!(ada_now["thank_yous_owed"], 0);
    assert_eq!(ada_now["conversation_count"], 1);
    assert_eq!(ada_now["last_conversation_at"], json!(t0 - days(1)));
    let owed = net.get("/v1/follow-ups?kind=thank_you").await;
    assert_eq!(owed["data"], json!([]));

    // Moved into the future, it leaves the history until its time comes.
    net.send(
        Method::PATCH,
        &format!("/v1/conversations/{talk}"),
        json!({"occurred_at": t0 + days(2)}),
    )
    .await;
    assert_eq!(net.relationship(&ada).await["conversation_count"], 0);

    // New participants take the conversation with its date and status.
    net.send(
        Method::PATCH,
        &format!("/v1/conversations/{talk}"),
        json!({"occurred_at": t0 - days(2), "thank_you_status": "owed",
            "participant_ids": [bob]}),
    )
    .await;
    assert_eq!(net.relationship(&ada).await["conversation_count"], 0);
    let bob_now = net.relationship(&bob).await;
    assert_eq!(bob_now["conversation_count"], 1);
    assert_eq!(bob_now["thank_yous_owed"], 1);
    let stats = net.get("/v1/stats?from=2026-03-01&to=2026-03-04").await;
    assert_eq!(stats["total"]["conversations"], 1);
    assert_eq!(stats["total"]["distinct_people"], 1);
    assert_eq!(stats["total"]["thank_you_rate"], 0.0);
}

#[tokio::test]
async fn health_turns_due_then_cold_and_a_lone_conversation_becomes_a_one_off() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    // Cadence 10: due from day 10 (14 March) through day 15, cold from day 16.
    let ada = net.contact("Ada", json!({"cadence_days": 10}), t0).await;
    let bob = net.contact("Bob", json!({}), t0).await;
    net.conversation(t0 - days(1), &[&bob], json!({"thank_you_status": "sent"}))
        .await;
    for (day, health) in [(9, "ok"), (10, "due"), (15, "due"), (16, "cold")] {
        app.clock.set(t0 + days(day));
        let r = net.relationship(&ada).await;
        assert_eq!(r["health"], health, "day {day}");
        let filtered = net
            .all_pages(&format!("/v1/contacts?health={health}"), "id")
            .await;
        assert_eq!(filtered, [json!(ada)], "health={health} on day {day}");
    }
    // Bob: one conversation on 3 March, no cadence: a one-off once it is over 30 days old.
    app.clock.set(t0 + days(29));
    assert_eq!(net.relationship(&bob).await["one_off"], false);
    app.clock.set(t0 + days(30));
    assert_eq!(net.relationship(&bob).await["one_off"], true);
    assert_eq!(
        net.all_pages("/v1/contacts?one_off=true", "id").await,
        [json!(bob)]
    );
    assert_eq!(
        net.all_pages("/v1/contacts?one_off=false", "id").await,
        [json!(ada)]
    );
    let bad = app
        .get_as("/v1/contacts?health=lukewarm", &net.user.access_token)
        .await;
    assert_problem(bad, 400, "invalid_query").await;
}

#[tokio::test]
async fn derived_sorts_page_through_every_contact_once_in_order() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let mut expected_by_last = Vec::new();
    for (i, ago) in [5, 40, 1, 20, 9].into_iter().enumerate() {
        let id = net
            .contact(
                &format!("C{i}"),
                json!({"cadence_days": 7 + i}),
                t0 - days(60),
            )
            .await;
        net.conversation(t0 - days(ago), &[&id], json!({})).await;
        expected_by_last.push((ago, id));
    }
    let never = net.contact("Never", json!({}), t0).await;
    expected_by_last.sort_by_key(|(ago, _)| -ago);
    let mut ascending: Vec<Value> = expected_by_last.iter().map(|(_, id)| json!(id)).collect();
    ascending.push(json!(never));
    assert_eq!(
        net.all_pages("/v1/contacts?sort=last_conversation_at&limit=2", "id")
            .await,
        ascending
    );
    let mut descending = ascending.clone();
    descending.reverse();
    assert_eq!(
        net.all_pages("/v1/contacts?sort=-last_conversation_at&limit=4", "id")
            .await,
        descending
    );
    let by_check_in = net
        .all_pages("/v1/contacts?sort=next_check_in_on&limit=3", "relationship")
        .await;
    let dates: Vec<Value> = by_check_in
        .iter()
        .map(|r| r["next_check_in_on"].clone())
        .collect();
    let mut sorted: Vec<&str> = dates.iter().filter_map(|d| d.as_str()).collect();
    sorted.sort();
    assert_eq!(sorted.len(), 5);
    assert_eq!(
        &dates[..5],
        sorted.iter().map(|d| json!(d)).collect::<Vec<_>>()
    );
    assert_eq!(dates[5], Value::Null, "no cadence sorts last");
    let taking = net.contact("Taker", json!({}), t0).await;
    net.ask(&taking, json!({"status": "asked"})).await;
    assert_eq!(
        net.all_pages("/v1/contacts?reciprocity=taking", "id").await,
        [json!(taking)]
    );
    let wrong_sort = net
        .get("/v1/contacts?sort=last_conversation_at&limit=2")
        .await["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mismatch = app
        .get_as(
            &format!("/v1/contacts?sort=full_name&cursor={wrong_sort}"),
            &net.user.access_token,
        )
        .await;
    assert_problem(mismatch, 400, "invalid_cursor").await;
}

#[tokio::test]
async fn follow_ups_list_every_kind_overdue_first_then_by_date_and_kind() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at(); // Wednesday 4 March 2026, UTC user
    let ada = net
        .contact("Ada", json!({"cadence_days": 30}), t0 - days(40))
        .await;
    let bob = net.contact("Bob", json!({}), t0 - days(40)).await;
    // Yesterday's coffee with both, thank-you owed: due today, one item per person.
    let coffee = net
        .conversation(
            t0 - days(1),
            &[&bob, &ada],
            json!({"next_step": "Send the deck",
            "next_step_due_on": "2026-03-07"}),
        )
        .await;
    // Created nine days ago and still an idea: due two days ago.
    app.clock.set(t0 - days(9));
    let idea = net.offer(&bob, json!({"title": "Rust article"})).await;
    app.clock.set(t0);
    let ask = net
        .ask(&bob, json!({"status": "asked", "asked_at": t0 - days(20)}))
        .await;
    // Ada last talked yesterday: her check-in is 30 days out, beyond a 7-day window.
    let page = net.get("/v1/follow-ups").await;
    let items = page["data"].as_array().unwrap();
    let summary: Vec<(&str, &str, i64, &str)> = items
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap(),
                i["due_on"].as_str().unwrap(),
                i["overdue_days"].as_i64().unwrap(),
                i["contact_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ask_follow_up", "2026-02-26", 6, "Bob"),
            ("deliver_offer", "2026-03-02", 2, "Bob"),
            ("thank_you", "2026-03-04", 0, "Ada"),
            ("thank_you", "2026-03-04", 0, "Bob"),
            ("next_step", "2026-03-07", 0, "Ada"),
        ]
    );
    let href = |kind: &str| {
        items
            .iter()
            .find(|i| i["kind"] == kind)
            .map(|i| i["href"].as_str().unwrap().to_owned())
    };
    assert_eq!(href("ask_follow_up"), Some(format!("/v1/asks/{ask}")));
    assert_eq!(
        href("deliver_offer"),
        Some(format!("/v1/value-offers/{idea}"))
    );
    assert_eq!(
        href("next_step"),
        Some(format!("/v1/conversations/{coffee}"))
    );
    assert_eq!(items[4]["detail"], "Send the deck");

    // A wider window brings Ada's check-in (due 2 April) and Bob's none (no cadence).
    let wide = net
        .all_pages("/v1/follow-ups?within_days=30&limit=2", "kind")
        .await;
    assert_eq!(wide.len(), 6);
    assert_eq!(wide[5], "check_in");
    // Filtering by kind; a window of 0 days keeps only what is due by today.
    let thanks = net
        .all_pages("/v1/follow-ups?kind=thank_you&kind=next_step", "kind")
        .await;
    assert_eq!(thanks, ["thank_you", "thank_you", "next_step"]);
    let today_only = net.all_pages("/v1/follow-ups?within_days=0", "kind").await;
    assert_eq!(today_only.len(), 4);
    // Sending the thank-you and doing the step clear them.
    net.send(
        Method::PATCH,
        &format!("/v1/conversations/{coffee}"),
        json!({"thank_you_status": "sent", "next_step_done_at": t0}),
    )
    .await;
    let left = net.all_pages("/v1/follow-ups", "kind").await;
    assert_eq!(left, ["ask_follow_up", "deliver_offer"]);
    for bad in [
        "within_days=-1",
        "within_days=366",
        "kind=nap",
        "limit=0",
        "cursor=abc",
    ] {
        let response = app
            .get_as(&format!("/v1/follow-ups?{bad}"), &net.user.access_token)
            .await;
        let code = if bad.starts_with("cursor") {
            "invalid_cursor"
        } else {
            "invalid_query"
        };
        assert_problem(response, 400, code).await;
    }
}

/// A page reads only the owed thank-yous that can reach it; paging must still return each
/// one exactly once, in order, with its summary, across local dates that are not UTC dates.
/// Every write that opens, closes or moves a follow-up moves the due date its list shows: a
/// conversation's date and thank-you status, an offer leaving the idea stage and coming back,
/// an ask being made and answered, and the owner's time zone.
#[tokio::test]
async fn each_write_moves_the_due_date_of_the_follow_ups_it_touches() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at(); // Wednesday 4 March 2026, 12:00 UTC
    let ada = net.contact("Ada", json!({}), t0 - days(40)).await;
    let list = || async {
        let page = net.get("/v1/follow-ups?within_days=60&limit=100").await;
        let mut items: Vec<(String, String)> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let kind = i["kind"].as_str().unwrap().to_owned();
                (kind, i["due_on"].as_str().unwrap().to_owned())
            })
            .collect();
        items.sort();
        items
    };
    let due = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut items: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, d)| ((*k).to_owned(), (*d).to_owned()))
            .collect();
        items.sort();
        items
    };
    // 23:30 UTC on 1 March: the 2nd in Auckland.
    let late = "2026-03-01T23:30:00Z";
    let call = net
        .send(
            Method::POST,
            "/v1/conversations",
            json!({"occurred_at": late, "channel": "call", "summary": "Call",
                "participant_ids": [ada], "thank_you_status": "owed"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = format!("/v1/conversations/{call}");
    assert_eq!(list().await, due(&[("thank_you", "2026-03-02")]));
    let moved = json!({"occurred_at": "2026-02-20T10:00:00Z"});
    net.send(Method::PATCH, &call, moved).await;
    assert_eq!(list().await, due(&[("thank_you", "2026-02-21")]));
    net.send(Method::PATCH, &call, json!({"thank_you_status": "sent"}))
        .await;
    assert_eq!(list().await, due(&[]));
    let owed = json!({"thank_you_status": "owed", "occurred_at": late});
    net.send(Method::PATCH, &call, owed).await;
    assert_eq!(list().await, due(&[("thank_you", "2026-03-02")]));

    app.clock.set(t0 - days(9));
    let idea = net.offer(&ada, json!({})).await;
    app.clock.set(t0);
    let ask = net.ask(&ada, json!({})).await;
    let (idea, ask) = (
        format!("/v1/value-offers/{idea}"),
        format!("/v1/asks/{ask}"),
    );
    let asked = json!({"status": "asked", "asked_at": "2026-02-25T10:00:00Z"});
    net.send(Method::PATCH, &ask, asked).await;
    let all = [
        ("thank_you", "2026-03-02"),
        ("deliver_offer", "2026-03-02"),
        ("ask_follow_up", "2026-03-11"),
    ];
    assert_eq!(list().await, due(&all));
    // Auckland is 13 hours ahead in March: each instant falls on a later local date.
    net.send(
        Method::PATCH,
        "/v1/me",
        json!({"time_zone": "Pacific/Auckland"}),
    )
    .await;
    let auckland = [
        ("thank_you", "2026-03-03"),
        ("deliver_offer", "2026-03-03"),
        ("ask_follow_up", "2026-03-11"),
    ];
    assert_eq!(list().await, due(&auckland));
    net.send(Method::PATCH, "/v1/me", json!({"time_zone": "UTC"}))
        .await;
    assert_eq!(list().await, due(&all));

    net.send(Method::PATCH, &idea, json!({"status": "offered"}))
        .await;
    net.send(Method::PATCH, &ask, json!({"status": "granted"}))
        .await;
    assert_eq!(list().await, due(&[("thank_you", "2026-03-02")]));
    let differences = rapport::services::ledger::verify(&app.db, app.clock.now())
        .await
        .unwrap();
    assert!(differences.is_empty(), "{differences:?}");
}

#[tokio::test]
async fn paging_through_many_owed_thank_yous_returns_each_once_in_order() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    net.send(
        Method::PATCH,
        "/v1/me",
        json!({"time_zone": "Pacific/Auckland"}),
    )
    .await;
    let t0 = pinned_at();
    let ada = net.contact("Ada", json!({}), t0 - days(60)).await;
    let bob = net.contact("Bob", json!({}), t0 - days(60)).await;
    let eve = net.contact("Eve", json!({}), t0 - days(60)).await;
    // Twelve owed conversations over six UTC dates, two on each, two hours apart: 10:00 UTC
    // is 23:00 in Auckland (UTC+13), 12:00 UTC is 01:00 the next local date. Eve, archived
    // below, took part in every third.
    let mut summaries = std::collections::HashMap::new();
    for i in 0..12 {
        let at = t0 - days(10 - i / 2) - Duration::hours(2 * (i % 2));
        let with: Vec<&str> = if i % 3 == 0 {
            vec![&ada, &bob, &eve]
        } else {
            vec![&bob]
        };
        let summary = format!("Coffee {i}");
        let id = net
            .conversation(at, &with, json!({"summary": summary}))
            .await;
        summaries.insert(id, summary);
    }
    net.send(
        Method::PATCH,
        &format!("/v1/contacts/{eve}"),
        json!({"archived_at": t0}),
    )
    .await;
    let whole = net.get("/v1/follow-ups?kind=thank_you&limit=100").await;
    let whole = whole["data"].as_array().unwrap().clone();
    // Ada and Bob in four, Bob alone in eight; nothing for Eve.
    assert_eq!(whole.len(), 16);
    let key = |i: &Value| {
        (
            i["due_on"].as_str().unwrap().to_owned(),
            i["source_id"].as_str().unwrap().to_owned(),
            i["contact_id"].as_str().unwrap().to_owned(),
        )
    };
    let keys: Vec<_> = whole.iter().map(key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for item in &whole {
        assert_ne!(item["contact_id"], eve.as_str());
        let source = item["source_id"].as_str().unwrap();
        assert_eq!(item["detail"], summaries[source].as_str(), "{item}");
    }
    for limit in [1, 2, 3, 5] {
        let paged = net
            .all_pages(
                &format!("/v1/follow-ups?kind=thank_you&limit={limit}"),
                "source_id",
            )
            .await;
        let expected: Vec<Value> = whole.iter().map(|i| i["source_id"].clone()).collect();
        assert_eq!(paged, expected, "limit {limit}");
    }
    // Mixed with the other kinds, each page still holds the right thank-yous.
    let all = net.all_pages("/v1/follow-ups?limit=3", "source_id").await;
    let thanks: Vec<&Value> = all
        .iter()
        .filter(|s| summaries.contains_key(s.as_str().unwrap()))
        .collect();
    assert_eq!(thanks.len(), 16);
}

#[tokio::test]
async fn suggestions_rank_by_score_give_reasons_and_bring_an_idea() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let long_ago = t0 - days(100);
    // Owes a thank-you (40 points).
    let ada = net.contact("Ada", json!({}), long_ago).await;
    net.conversation(t0 - days(2), &[&ada], json!({})).await;
    // Only ever asked of (2 asks: 30 points), interested in rust.
    let bob = net
        .contact("Bob", json!({"interests": ["rust", "golf"]}), long_ago)
        .await;
    net.ask(&bob, json!({"status": "asked"})).await;
    net.ask(&bob, json!({"status": "granted"})).await;
    // Cold: cadence 10, never met since creation 100 days ago (10 + 200 = 210 points).
    let cy = net
        .contact("Cy", json!({"cadence_days": 10}), long_ago)
        .await;
    // Due today: cadence 7, last talked 7 days ago (10 points).
    let di = net
        .contact("Di", json!({"cadence_days": 7}), long_ago)
        .await;
    net.conversation(t0 - days(7), &[&di], json!({"thank_you_status": "sent"}))
        .await;
    // Nothing to do.
    let ed = net.contact("Ed", json!({"cadence_days": 60}), t0).await;
    // Ideas: one noted for Cy, one for Ed about rust.
    let for_cy = net.offer(&cy, json!({"title": "Conference tickets"})).await;
    let rusty = net
        .offer(&ed, json!({"title": "Rust newsletter", "topics": ["rust"]}))
        .await;

    let page = net.get("/v1/suggestions").await;
    let got: Vec<(String, i64, String)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["contact_id"].as_str().unwrap().to_owned(),
                s["score"].as_i64().unwrap(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (cy.clone(), 210, "going_cold".to_owned()),
            (ada.clone(), 40, "thank_you_owed".to_owned()),
            (bob.clone(), 30, "offer_something_first".to_owned()),
            (di.clone(), 10, "check_in_due".to_owned()),
        ]
    );
    assert!(!got.iter().any(|(id, ..)| *id == ed));
    let data = page["data"].as_array().unwrap();
    assert_eq!(data[0]["suggested_offer"]["id"], json!(for_cy));
    // The whole offer, not only what chose it.
    assert_eq!(data[0]["suggested_offer"]["title"], "Conference tickets");
    assert_eq!(data[2]["suggested_offer"]["title"], "Rust newsletter");
    assert_eq!(
        data[2]["suggested_offer"]["id"],
        json!(rusty),
        "topics meet interests"
    );
    assert_eq!(data[1]["suggested_offer"], Value::Null);
    assert!(
        data[2]["message"]
            .as_str()
            .unwrap()
            .contains("offer something first")
    );
    assert_eq!(page["has_more"], false);
    let two = net.get("/v1/suggestions?limit=2").await;
    assert_eq!(two["data"].as_array().unwrap().len(), 2);
    assert_eq!(two["has_more"], true);
    assert_eq!(net.get("/v1/suggestions").await, page, "deterministic");
    for bad in ["limit=0", "limit=51", "cursor=x"] {
        let response = app
            .get_as(&format!("/v1/suggestions?{bad}"), &net.user.access_token)
            .await;
        assert_problem(response, 400, "invalid_query").await;
    }
}

#[tokio::test]
async fn equal_scores_rank_by_lower_cased_name_whether_due_or_not_at_every_page_size() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let long_ago = t0 - days(100);
    // Cold (210 points) ranks first.
    let cy = net
        .contact("Cy", json!({"cadence_days": 10}), long_ago)
        .await;
    // Due today (10) and taking (2 asks: 30): 40 points, overdue by 0 days.
    let mut due = Vec::new();
    for name in ["Zed", "Yan"] {
        let id = net
            .contact(name, json!({"cadence_days": 7}), long_ago)
            .await;
        net.conversation(t0 - days(7), &[&id], json!({"thank_you_status": "sent"}))
            .await;
        net.ask(&id, json!({"status": "asked"})).await;
        net.ask(&id, json!({"status": "granted"})).await;
        due.push(id);
    }
    // Nothing due, one thank-you owed: 40 points too.
    let mut owed = Vec::new();
    for name in ["Émile", "Bob", "ada"] {
        let id = net.contact(name, json!({}), long_ago).await;
        net.conversation(t0 - days(2), &[&id], json!({})).await;
        owed.push(id);
    }
    let (zed, yan) = (&due[0], &due[1]);
    let (emile, bob, ada) = (&owed[0], &owed[1], &owed[2]);
    // Lower-cased and compared byte by byte: ada, bob, yan, zed, émile.
    let expected = [cy.as_str(), ada, bob, yan, zed, emile];
    for limit in 1..=7 {
        let page = net.get(&format!("/v1/suggestions?limit={limit}")).await;
        let got: Vec<&str> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["contact_id"].as_str().unwrap())
            .collect();
        let wanted: Vec<&str> = expected.iter().take(limit).copied().collect();
        assert_eq!(got, wanted, "limit {limit}");
        assert_eq!(page["has_more"], limit < expected.len(), "limit {limit}");
        let scores: Vec<i64> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["score"].as_i64().unwrap())
            .collect();
        assert!(scores.iter().skip(1).all(|s| *s == 40), "{scores:?}");
    }
}

/// A group (same base, same cadence) with a page's worth of due contacts proves only that
/// the page's last one scores what its least overdue contact does, not what its best does:
/// a better contact of another group, below that group's best, is still read.
#[tokio::test]
async fn a_group_full_of_due_contacts_leaves_room_for_a_better_one_of_another_group() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    // Cadence 30, never met: due 30 days after being added. Overdue by 60, 31 and 30 days:
    // 210, 113 and 110 points.
    let mut monthly = Vec::new();
    for (name, age) in [("Ada", 90), ("Bob", 61), ("Cy", 60)] {
        let cadence = json!({"cadence_days": 30});
        monthly.push(net.contact(name, cadence, t0 - days(age)).await);
    }
    // Cadence 90, overdue by 135 days: 160 points, between the first two.
    let quarterly = net
        .contact("Dee", json!({"cadence_days": 90}), t0 - days(225))
        .await;
    let expected = [
        (monthly[0].as_str(), 210),
        (quarterly.as_str(), 160),
        (monthly[1].as_str(), 113),
        (monthly[2].as_str(), 110),
    ];
    for limit in 1..=5 {
        let page = net.get(&format!("/v1/suggestions?limit={limit}")).await;
        let got: Vec<(&str, i64)> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["contact_id"].as_str().unwrap(),
                    s["score"].as_i64().unwrap(),
                )
            })
            .collect();
        let wanted: Vec<(&str, i64)> = expected.iter().take(limit).copied().collect();
        assert_eq!(got, wanted, "limit {limit}");
        assert_eq!(page["has_more"], limit < expected.len(), "limit {limit}");
    }
}

#[tokio::test]
async fn stats_count_per_local_week_and_month_and_refuse_long_ranges() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    net.send(
        Method::PATCH,
        "/v1/me",
        json!({"time_zone": "Pacific/Auckland"}),
    )
    .await;
    let t0 = pinned_at();
    let ada = net.contact("Ada", json!({}), t0 - days(90)).await;
    let bob = net.contact("Bob", json!({}), t0 - days(90)).await;
    // Sunday 1 March, 23:30 in Auckland (10:30 UTC): the week of Monday 23 February.
    let sunday_night: DateTime<Utc> = "2026-03-01T10:30:00Z".parse().unwrap();
    net.conversation(
        sunday_night,
        &[&ada, &bob],
        json!({"thank_you_status": "sent"}),
    )
    .await;
    // Monday 2 March, 00:30 in Auckland (Sunday 11:30 UTC): the next week.
    let monday: DateTime<Utc> = "2026-03-01T11:30:00Z".parse().unwrap();
    net.conversation(monday, &[&ada], json!({})).await;
    // An earlier meeting with Ada makes her not new in those weeks.
    net.conversation(
        t0 - days(60),
        &[&ada],
        json!({"thank_you_status": "not_needed"}),
    )
    .await;
    net.offer(&ada, json!({"status": "offered", "offered_at": monday}))
        .await;
    net.ask(&bob, json!({"status": "asked", "asked_at": sunday_night}))
        .await;

    let stats = net.get("/v1/stats").await;
    assert_eq!(stats["time_zone"], "Pacific/Auckland");
    assert_eq!(stats["granularity"], "week");
    let buckets = stats["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 12);
    // Today is Thursday 5 March in Auckland.
    assert_eq!(stats["to"], "2026-03-05");
    let last_two = &buckets[10..];
    assert_eq!(last_two[0]["starts_on"], "2026-02-23");
    assert_eq!(
        (
            &last_two[0]["conversations"],
            &last_two[0]["distinct_people"],
            &last_two[0]["new_people"],
            &last_two[0]["asks_made"],
            &last_two[0]["thank_you_rate"],
        ),
        (&json!(1), &json!(2), &json!(1), &json!(1), &json!(1.0))
    );
    assert_eq!(last_two[1]["starts_on"], "2026-03-02");
    assert_eq!(last_two[1]["ends_on"], "2026-03-05");
    assert_eq!(
        (
            &last_two[1]["conversations"],
            &last_two[1]["new_people"],
            &last_two[1]["offers_given"],
            &last_two[1]["thank_you_rate"],
        ),
        (&json!(1), &json!(0), &json!(1), &json!(0.0))
    );
    assert_eq!(stats["total"]["conversations"], 3);
    assert_eq!(stats["total"]["distinct_people"], 2);
    assert_eq!(stats["total"]["thank_you_rate"], 0.5);
    assert_eq!(buckets[0]["thank_you_rate"], Value::Null);

    let months = net
        .get("/v1/stats?from=2026-01-01&to=2026-03-31&granularity=month")
        .await;
    let counts: Vec<&Value> = months["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["conversations"])
        .collect();
    assert_eq!(counts, [&json!(1), &json!(0), &json!(2)]);

    for (bad, code) in [
        ("from=2024-03-01&to=2026-03-02", "invalid_range"),
        ("from=2026-03-02&to=2026-03-01", "invalid_range"),
        ("granularity=day", "invalid_query"),
        ("from=yesterday", "invalid_query"),
        ("from=", "invalid_query"),
    ] {
        let response = app
            .get_as(&format!("/v1/stats?{bad}"), &net.user.access_token)
            .await;
        assert_problem(response, 400, code).await;
    }
    let two_years = net.get("/v1/stats?from=2024-03-01&to=2026-03-01").await;
    assert_eq!(two_years["buckets"].as_array().unwrap().len(), 105);
}

#[tokio::test]
async fn goals_track_this_week_and_the_streak_of_weeks_that_met_them() {
    let app = spawn_app().await;
    let t0 = pinned_at(); // Wednesday; this week began Monday 2 March
    app.clock.set(t0 - days(60));
    let net = Net::new(&app).await;
    app.clock.set(t0);
    let me = net
        .send(
            Method::PATCH,
            "/v1/me",
            json!({"weekly_conversation_goal": 2, "weekly_new_people_goal": 1}),
        )
        .await;
    assert_eq!(me["weekly_conversation_goal"], 2);
    let ada = net.contact("Ada", json!({}), t0 - days(50)).await;
    let bob = net.contact("Bob", json!({}), t0 - days(50)).await;
    // Two conversations in each of the three weeks before this one, one this week so far.
    for week in 1..=3 {
        for day in [0, 1] {
            net.conversation(t0 - days(7 * week + day), &[&ada], json!({}))
                .await;
        }
    }
    net.conversation(t0 - days(1), &[&bob], json!({})).await;
    let goals = net.get("/v1/goals").await;
    assert_eq!(
        goals,
        json!({
            "week_starts_on": "2026-03-02", "week_ends_on": "2026-03-08",
            "conversations": {"goal": 2, "done": 1, "met": false},
            "new_people": {"goal": 1, "done": 1, "met": true},
            "streak_weeks": 3,
        })
    );
    net.conversation(t0 - days(1), &[&ada], json!({})).await;
    let goals = net.get("/v1/goals").await;
    assert_eq!(goals["conversations"]["met"], true);
    assert_eq!(goals["streak_weeks"], 4);
    net.send(
        Method::PATCH,
        "/v1/me",
        json!({"weekly_conversation_goal": 0}),
    )
    .await;
    let goals = net.get("/v1/goals").await;
    assert_eq!(
        goals["conversations"],
        json!({"goal": 0, "done": 2, "met": null})
    );
    assert_eq!(goals["streak_weeks"], 0);

    for (body, field) in [
        (
            json!({"weekly_conversation_goal": 101}),
            "weekly_conversation_goal",
        ),
        (
            json!({"weekly_new_people_goal": -1}),
            "weekly_new_people_goal",
        ),
        (
            json!({"weekly_new_people_goal": null}),
            "weekly_new_people_goal",
        ),
        (
            json!({"weekly_conversation_goal": "five"}),
            "weekly_conversation_goal",
        ),
    ] {
        let response = app
            .request(Method::PATCH, "/v1/me", net.token(), Some(&body))
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
}

/// The events of an iCalendar feed as (UID, DTSTART, SUMMARY), parsed by the `ical` crate.
fn events(feed: &str) -> Vec<(String, String, String)> {
    let mut calendars = ical::IcalParser::new(feed.as_bytes());
    let calendar = calendars
        .next()
        .expect("one calendar")
        .expect("valid iCalendar");
    assert!(calendars.next().is_none());
    calendar
        .events
        .iter()
        .map(|event| {
            let value = |name: &str| {
                event
                    .properties
                    .iter()
                    .find(|p| p.name == name)
                    .and_then(|p| p.value.clone())
                    .unwrap_or_else(|| panic!("{name} in {event:?}"))
            };
            (value("UID"), value("DTSTART"), value("SUMMARY"))
        })
        .collect()
}

#[tokio::test]
async fn the_calendar_feed_is_valid_icalendar_with_stable_uids_and_rotates() {
    let app = spawn_app().await;
    let net = Net::new(&app).await;
    let t0 = pinned_at();
    let ada = net
        .contact("Ada", json!({"cadence_days": 20}), t0 - days(40))
        .await;
    net.conversation(t0 - days(3), &[&ada], json!({})).await; // thank-you overdue 2 days
    let grace = net
        .contact("Grace", json!({"cadence_days": 90}), t0 - days(10))
        .await;
    net.conversation(
        t0 - days(10),
        &[&grace],
        json!({"thank_you_status": "sent"}),
    )
    .await; // check-in in 80 days: beyond the feed

    let issued = app
        .request(Method::POST, "/v1/me/calendar-token", net.token(), None)
        .await;
    assert_eq!(issued.status().as_u16(), 201);
    let issued: Value = issued.json().await.unwrap();
    let url = issued["url"].as_str().unwrap().to_owned();
    let token = issued["token"].as_str().unwrap().to_owned();
    assert!(url.ends_with(&format!("/v1/calendar.ics?token={token}")));

    let feed = app.client.get(&url).send().await.unwrap();
    assert_eq!(feed.status().as_u16(), 200);
    assert!(
        feed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let first = events(&feed.text().await.unwrap());
    let follow_ups = net.all_pages("/v1/follow-ups?within_days=30", "kind").await;
    assert_eq!(first.len(), follow_ups.len());
    assert_eq!(first.len(), 2, "{first:?}");
    let thank = first.iter().find(|e| e.2.starts_with("Thank Ada")).unwrap();
    assert_eq!(thank.1, "20260304", "overdue items sit on today");
    assert!(thank.2.contains("overdue 2 d"));
    let check_in = first.iter().find(|e| e.2 == "Check in with Ada").unwrap();
    assert_eq!(check_in.1, "20260321");

    // A day later the overdue event moves but keeps its UID.
    app.clock.set(t0 + days(1));
    let second = events(
        &app.client
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let uids = |e: &[(String, String, String)]| {
        let mut u: Vec<String> = e.iter().map(|e| e.0.clone()).collect();
        u.sort();
        u
    };
    assert_eq!(uids(&first), uids(&second));
    assert!(second.iter().any(|e| e.1 == "20260305" && e.0 == thank.0));

    // Rotating kills the old URL; a made-up token is just as unknown.
    let rotated: Value = app
        .request(Method::POST, "/v1/me/calendar-token", net.token(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["token"], issued["token"]);
    assert_problem(app.client.get(&url).send().await.unwrap(), 404, "not_found").await;
    let fresh = app
        .client
        .get(rotated["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status().as_u16(), 200);
    let forged = app.get("/v1/calendar.ics?token=rcal_forged").await;
    assert_problem(forged, 404, "not_found").await;
    let missing = app.get("/v1/calendar.ics").await;
    assert_problem(missing, 400, "invalid_query").await;
    let anonymous = app
        .request(Method::POST, "/v1/me/calendar-token", None, None)
        .await;
    assert_problem(anonymous, 401, "unauthorized").await;
}

#[tokio::test]
async fn intelligence_never_shows_another_users_network() {
    let app = spawn_app().await;
    let owner = Net::new(&app).await;
    let other = Net::new(&app).await;
    let t0 = pinned_at();
    let ada = owner
        .contact("Ada", json!({"cadence_days": 7}), t0 - days(30))
        .await;
    owner.conversation(t0 - days(2), &[&ada], json!({})).await;
    owner.offer(&ada, json!({})).await;
    owner
        .ask(&ada, json!({"status": "asked", "asked_at": t0 - days(20)}))
        .await;
    owner
        .send(
            Method::PATCH,
            "/v1/me",
            json!({"weekly_conversation_goal": 1}),
        )
        .await;

    assert!(!owner.all_pages("/v1/follow-ups", "kind").await.is_empty());
    assert!(
        !owner.get("/v1/suggestions").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(owner.get("/v1/stats").await["total"]["conversations"], 1);

    assert!(
        other
            .all_pages("/v1/follow-ups?within_days=365", "kind")
            .await
            .is_empty()
    );
    assert!(
        other.get("/v1/suggestions").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let stats = other.get("/v1/stats").await;
    assert_eq!(stats["total"]["conversations"], 0);
    assert_eq!(stats["total"]["asks_made"], 0);
    let goals = other.get("/v1/goals").await;
    assert_eq!(
        goals["conversations"],
        json!({"goal": 0, "done": 0, "met": null})
    );
    assert!(
        other
            .all_pages("/v1/contacts?health=due", "id")
            .await
            .is_empty()
    );
    let feed: Value = app
        .request(Method::POST, "/v1/me/calendar-token", other.token(), None)
        .await
        .json()
        .await
        .unwrap();
    let body = app
        .client
        .get(feed["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events(&body).is_empty(), "{body}");
    assert!(!body.contains("Ada"));
}

/// Dates outside the four-digit years are 400 `invalid_range`; one so early that a day before
/// it does not exist used to panic the worker and close the connection.
#[tokio::test]
async fn stats_refuse_dates_outside_the_four_digit_years() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    for query in [
        "from=-262143-01-01&to=-262143-01-01",
        "from=0000-12-31&to=0001-01-01",
        "from=9999-12-01&to=%2B10000-01-01",
    ] {
        let response = app
            .get_as(&format!("/v1/stats?{query}"), &user.access_token)
            .await;
        assert_problem(response, 400, "invalid_range").await;
    }
    let edge = app
        .get_as(
            "/v1/stats?from=0001-01-01&to=0001-01-31",
            &user.access_token,
        )
        .await;
    assert_eq!(edge.status().as_u16(), 200);
}
