//! The relationship ledger stored on each contact: equal to what its records give after any
//! sequence of writes and clock moves, under concurrent writers, and after the migration that
//! adds it to a database with data.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use migration::{Migrator, MigratorTrait};
use rapport::services::ledger;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestUser, spawn_app};

/// A small deterministic generator (SplitMix64), so a failing sequence repeats.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

fn owner(user: &TestUser) -> Uuid {
    user.id.parse().expect("a user id")
}

impl TestApp {
    async fn send(&self, user: &TestUser, method: Method, path: &str, body: Value) -> Value {
        let body = (!body.is_null()).then_some(body);
        let response = self
            .request(
                method.clone(),
                path,
                Some(&user.access_token),
                body.as_ref(),
            )
            .await;
        let status = response.status().as_u16();
        assert!(
            status < 500,
            "{method} {path} {body:?} answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
        if status == 204 || status >= 400 {
            return Value::Null;
        }
        response.json().await.expect("a JSON body")
    }

    /// A new contact of `user` named `name`, as answered.
    async fn new_contact(&self, user: &TestUser, name: &str) -> Value {
        let body = json!({"full_name": name});
        self.send(user, Method::POST, "/v1/contacts", body).await
    }

    /// Every item of a list, following `next_cursor` from `path` (which has a query string).
    async fn all_items(&self, user: &TestUser, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(cursor) => format!("{path}&cursor={cursor}"),
                None => path.to_owned(),
            };
            let page = self.send(user, Method::GET, &page_path, Value::Null).await;
            assert!(!page.is_null(), "GET {page_path} failed");
            items.extend(page["data"].as_array().expect("a page").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }

    /// Asserts that the stored ledger of every contact of `user` equals its records.
    pub(crate) async fn assert_ledger_exact(&self, user: &TestUser, step: &str) {
        let differences = ledger::verify_owner(self.db.reader(), owner(user), self.clock.now())
            .await
            .expect("verify the ledger");
        assert!(
            differences.is_empty(),
            "after {step}: {}",
            differences
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Twenty contacts of `user` meeting together every week of `weeks` (weeks before now;
    /// negative ones ahead), with statistics for PostgreSQL's planner; returns their ids.
    async fn weekly_meetups(&self, user: &TestUser, weeks: std::ops::Range<i64>) -> Vec<String> {
        let now = self.clock.now();
        let mut contacts = Vec::new();
        for i in 0..20 {
            let body = json!({"full_name": format!("Contact {i}")});
            let created = self.send(user, Method::POST, "/v1/contacts", body).await;
            contacts.push(created["id"].as_str().expect("an id").to_owned());
        }
        for week in weeks {
            let body = json!({"occurred_at": at(now - Duration::weeks(week)),
                "channel": "event", "summary": "Meetup", "participant_ids": contacts});
            self.send(user, Method::POST, "/v1/conversations", body)
                .await;
        }
        if self.db.backend() == sea_orm::DbBackend::Postgres {
            use sea_orm::ConnectionTrait;
            self.db
                .writer()
                .execute_unprepared("ANALYZE")
                .await
                .expect("analyze");
        }
        contacts
    }

    /// The ledger stored on the row of the contact at `path` (`/v1/contacts/{id}`), as it is,
    /// with no read bringing it up to date first.
    async fn stored_ledger(&self, path: &str) -> rapport::domain::relationship::Ledger {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

        let id: Uuid = path
            .rsplit('/')
            .next()
            .and_then(|id| id.parse().ok())
            .expect("a contact path");
        let row = entity::contact::Entity::find()
            .filter(entity::contact::Column::Id.eq(id))
            .one(self.db.reader())
            .await
            .expect("read the contact")
            .expect("the contact");
        ledger::stored(&row)
    }

    /// Asserts that no row of `user` waits for a refresh, so that `assert_ledger_exact`
    /// (which skips such rows) compared every one.
    async fn assert_nothing_stale(&self, user: &TestUser, step: &str) {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

        let now = self.clock.now();
        let stale: Vec<String> = entity::contact::Entity::find()
            .filter(entity::contact::Column::OwnerId.eq(owner(user)))
            .all(self.db.reader())
            .await
            .expect("read the contacts")
            .iter()
            .filter(|m| ledger::stored(m).is_stale(now))
            .map(|m| m.full_name.clone())
            .collect();
        assert!(stale.is_empty(), "after {step}: out of date: {stale:?}");
    }

    /// The relationship of each of the user's contacts, read one by one.
    async fn relationships(&self, user: &TestUser) -> BTreeMap<String, Value> {
        let mut all = BTreeMap::new();
        for item in self
            .all_items(user, "/v1/contacts?archived=all&limit=100")
            .await
        {
            let id = item["id"].as_str().expect("an id");
            let one = self
                .send(
                    user,
                    Method::GET,
                    &format!("/v1/contacts/{id}"),
                    Value::Null,
                )
                .await;
            all.insert(id.to_owned(), one["relationship"].clone());
        }
        all
    }

    /// Every contact that scores, best first, ranked by brute force from each contact's
    /// relationship as shown one by one, with the idea chosen from every idea listed:
    /// (id, score, idea).
    async fn suggestions_by_brute_force(&self, user: &TestUser) -> Vec<(String, i64, Value)> {
        use rapport::domain::relationship::{Relationship, Today};
        use rapport::domain::suggestions::{Idea, rank_key, score, suggested_offer};

        let ideas: Vec<Idea> = self
            .all_items(user, "/v1/value-offers?status=idea&limit=100")
            .await
            .iter()
            .map(|o| Idea {
                id: o["id"].as_str().expect("an id").parse().expect("a uuid"),
                contact_id: o["contact_id"]
                    .as_str()
                    .expect("an id")
                    .parse()
                    .expect("a uuid"),
                topics: serde_json::from_value(o["topics"].clone()).expect("topics"),
                created_at: serde_json::from_value(o["created_at"].clone()).expect("an instant"),
            })
            .collect();

        let me = self.send(user, Method::GET, "/v1/me", Value::Null).await;
        let zone = me["time_zone"].as_str().unwrap_or("UTC");
        let today = Today::new(self.clock.now(), zone).date();
        let all = self.relationships(user).await;
        let contacts = self
            .all_items(user, "/v1/contacts?archived=all&limit=100")
            .await;
        let mut ranked = Vec::new();
        for contact in contacts.iter().filter(|c| c["archived_at"].is_null()) {
            let id = contact["id"].as_str().expect("an id");
            let r = &all[id];
            fn field<T: serde::de::DeserializeOwned>(r: &Value, name: &str) -> T {
                serde_json::from_value(r[name].clone()).expect(name)
            }
            let relationship = Relationship {
                conversation_count: field(r, "conversation_count"),
                first_conversation_at: field(r, "first_conversation_at"),
                last_conversation_at: field(r, "last_conversation_at"),
                next_check_in_on: field(r, "next_check_in_on"),
                health: field(r, "health"),
                gives: field(r, "gives"),
                asks: field(r, "asks"),
                balance: field(r, "balance"),
                reciprocity: field(r, "reciprocity"),
                thank_yous_owed: field(r, "thank_yous_owed"),
                one_off: field(r, "one_off"),
            };
            let cadence = contact["cadence_days"].as_i64().map(|c| c as i32);
            if let Some(score) = score(&relationship, cadence, today) {
                let name = contact["full_name"].as_str().expect("a name");
                let key = rank_key(
                    &score,
                    relationship.overdue_days(today),
                    name,
                    id.parse().expect("a uuid"),
                );
                let interests: Vec<String> =
                    serde_json::from_value(contact["interests"].clone()).expect("interests");
                let idea = suggested_offer(key.3, &interests, &ideas)
                    .map_or(Value::Null, |idea| json!(idea.id.to_string()));
                ranked.push((key, id.to_owned(), score.points, idea));
            }
        }
        ranked.sort_by(|a, b| a.0.cmp(&b.0));
        ranked
            .into_iter()
            .map(|(_, id, points, idea)| (id, points, idea))
            .collect()
    }

    /// Asserts that `/v1/suggestions` answers, at several page sizes, the brute-force ranking.
    async fn assert_suggestions_agree(&self, user: &TestUser, step: &str) {
        let expected = self.suggestions_by_brute_force(user).await;
        for limit in [1, 2, 5, 50] {
            let page = self
                .send(
                    user,
                    Method::GET,
                    &format!("/v1/suggestions?limit={limit}"),
                    Value::Null,
                )
                .await;
            let shown: Vec<(String, i64, Value)> = page["data"]
                .as_array()
                .expect("a page")
                .iter()
                .map(|s| {
                    let id = s["contact_id"].as_str().expect("an id").to_owned();
                    let idea = s["suggested_offer"]["id"].clone();
                    (id, s["score"].as_i64().expect("a score"), idea)
                })
                .collect();
            let top: Vec<(String, i64, Value)> = expected.iter().take(limit).cloned().collect();
            assert_eq!(shown, top, "after {step}: suggestions, limit {limit}");
            assert_eq!(
                page["has_more"],
                expected.len() > limit,
                "after {step}: has_more, limit {limit}"
            );
        }
    }

    /// Every id of a list, following cursors `limit` items at a time.
    async fn list_ids(&self, user: &TestUser, query: &str, limit: usize) -> Vec<String> {
        let path = format!("/v1/contacts?archived=all&limit={limit}&{query}");
        self.all_items(user, &path)
            .await
            .iter()
            .map(|item| item["id"].as_str().expect("an id").to_owned())
            .collect()
    }

    /// Asserts that every relationship filter and derived sort of the list agrees with the
    /// relationships the contacts show one by one.
    async fn assert_lists_agree(&self, user: &TestUser, step: &str) {
        let all = self.relationships(user).await;
        let having = |field: &str, value: &Value| -> BTreeSet<String> {
            all.iter()
                .filter(|(_, r)| r[field] == *value)
                .map(|(id, _)| id.clone())
                .collect()
        };
        for (field, values) in [
            (
                "health",
                vec![json!("none"), json!("ok"), json!("due"), json!("cold")],
            ),
            (
                "reciprocity",
                vec![json!("giving"), json!("balanced"), json!("taking")],
            ),
            ("one_off", vec![json!(true), json!(false)]),
        ] {
            for value in values {
                let shown = value.as_str().map_or(value.to_string(), str::to_owned);
                let listed: BTreeSet<String> = self
                    .list_ids(user, &format!("{field}={shown}"), 100)
                    .await
                    .into_iter()
                    .collect();
                assert_eq!(
                    listed,
                    having(field, &value),
                    "after {step}: {field}={shown}"
                );
            }
        }
        for (sort, field) in [
            ("next_check_in_on", "next_check_in_on"),
            ("last_conversation_at", "last_conversation_at"),
        ] {
            // Ascending: by value, contacts without one last, then by id.
            let mut expected: Vec<(bool, String, String)> = all
                .iter()
                .map(|(id, r)| {
                    let value = r[field].as_str().map(str::to_owned);
                    (value.is_none(), value.unwrap_or_default(), id.clone())
                })
                .collect();
            // Instants compare as instants; their RFC 3339 texts all end in Z.
            expected.sort();
            let expected: Vec<String> = expected.into_iter().map(|(_, _, id)| id).collect();
            let ascending = self.list_ids(user, &format!("sort={sort}"), 3).await;
            assert_eq!(ascending, expected, "after {step}: sort={sort}");
            let descending = self.list_ids(user, &format!("sort=-{sort}"), 2).await;
            let reversed: Vec<String> = expected.into_iter().rev().collect();
            assert_eq!(descending, reversed, "after {step}: sort=-{sort}");
        }
    }
}

fn at(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Up to three of a few topics, for interests and ideas.
fn topics(rng: &mut Rng) -> Vec<&'static str> {
    let mut picked: Vec<&str> = (0..rng.below(4))
        .filter_map(|_| rng.pick(&["ai", "golf", "rust", "web"]).copied())
        .collect();
    picked.sort_unstable();
    picked.dedup();
    picked
}

/// One random write (or clock move) of `user`; returns what it did.
pub(crate) async fn random_step(
    app: &TestApp,
    user: &TestUser,
    rng: &mut Rng,
    contacts: &mut Vec<String>,
    records: &mut Vec<String>,
) -> String {
    let now = app.clock.now();
    let cadences = [json!(null), json!(1), json!(7), json!(30)];
    let choice = if contacts.len() < 3 { 0 } else { rng.below(12) };
    match choice {
        0 => {
            let body = json!({"full_name": format!("Contact {}", contacts.len()),
                "cadence_days": rng.pick(&cadences).cloned(),
                "interests": topics(rng), "tags": topics(rng)});
            let created = app.send(user, Method::POST, "/v1/contacts", body).await;
            contacts.push(created["id"].as_str().expect("an id").to_owned());
            "create a contact".into()
        }
        1 => {
            let id = rng.pick(contacts).cloned().unwrap_or_default();
            let body = match rng.below(4) {
                0 => json!({"cadence_days": rng.pick(&cadences).cloned()}),
                // Names that sort differently lower-cased, and beyond ASCII.
                1 => {
                    json!({"full_name": rng.pick(&["ada", "Bob", "Émile", "émile", "Zoë", "zed"])})
                }
                2 => json!({"archived_at": rng.pick(&[Value::Null, json!(at(now))])}),
                _ => json!({"interests": topics(rng), "tags": topics(rng)}),
            };
            app.send(
                user,
                Method::PATCH,
                &format!("/v1/contacts/{id}"),
                body.clone(),
            )
            .await;
            format!("PATCH a contact {body}")
        }
        2..=4 => {
            let mut with = Vec::new();
            for _ in 0..=rng.below(3) {
                let id = rng.pick(contacts).cloned().unwrap_or_default();
                if !with.contains(&id) {
                    with.push(id);
                }
            }
            let when = now + Duration::hours(rng.below(24 * 60) as i64 - 24 * 40);
            let thanks = rng.pick(&["owed", "sent", "not_needed"]).copied();
            let body = json!({"occurred_at": at(when), "channel": "call", "summary": "Call",
                "participant_ids": with, "thank_you_status": thanks});
            let created = app
                .send(user, Method::POST, "/v1/conversations", body)
                .await;
            let id = created["id"].as_str().expect("an id");
            records.push(format!("/v1/conversations/{id}"));
            format!("a conversation at {} with {}", at(when), with.len())
        }
        5 => {
            let kind = rng.below(2);
            let contact_id = rng.pick(contacts).cloned().unwrap_or_default();
            let (path, body) = if kind == 0 {
                let status = rng.pick(&["idea", "offered", "acknowledged", "declined"]);
                (
                    "/v1/value-offers",
                    json!({"contact_id": contact_id, "kind": "article", "title": "A read",
                        "status": status, "topics": topics(rng)}),
                )
            } else {
                let status = rng.pick(&["planned", "asked", "granted", "declined"]);
                (
                    "/v1/asks",
                    json!({"contact_id": contact_id, "kind": "advice", "title": "Advice",
                        "status": status}),
                )
            };
            let created = app.send(user, Method::POST, path, body).await;
            if let Some(id) = created["id"].as_str() {
                records.push(format!("{path}/{id}"));
            }
            format!("create under {path}")
        }
        6 => {
            let Some(path) = rng.pick(records).cloned() else {
                return "nothing".into();
            };
            let body = if path.starts_with("/v1/conversations") {
                match rng.below(3) {
                    0 => {
                        let when = now + Duration::hours(rng.below(24 * 30) as i64 - 24 * 20);
                        json!({"occurred_at": at(when)})
                    }
                    1 => json!({"thank_you_status": rng.pick(&["owed", "sent", "not_needed"])}),
                    _ => json!({"participant_ids": [rng.pick(contacts)]}),
                }
            } else if path.starts_with("/v1/asks") {
                json!({"status": rng.pick(&["asked", "granted", "declined"]),
                    "contact_id": rng.pick(contacts)})
            } else if rng.below(2) == 0 {
                json!({"topics": topics(rng)})
            } else {
                json!({"status": rng.pick(&["offered", "acknowledged", "declined"]),
                    "contact_id": rng.pick(contacts)})
            };
            app.send(user, Method::PATCH, &path, body.clone()).await;
            format!("PATCH {path} {body}")
        }
        7 => {
            let Some(i) = (!records.is_empty()).then(|| rng.below(records.len())) else {
                return "nothing".into();
            };
            let path = records.swap_remove(i);
            app.send(user, Method::DELETE, &path, Value::Null).await;
            format!("DELETE {path}")
        }
        8 => {
            let i = rng.below(contacts.len());
            let id = contacts.swap_remove(i);
            app.send(
                user,
                Method::DELETE,
                &format!("/v1/contacts/{id}"),
                Value::Null,
            )
            .await;
            "delete a contact".into()
        }
        9 => {
            let zone = rng.pick(&["UTC", "America/Los_Angeles", "Pacific/Auckland"]);
            app.send(user, Method::PATCH, "/v1/me", json!({"time_zone": zone}))
                .await;
            format!("move to {}", zone.copied().unwrap_or_default())
        }
        10 => {
            let hours = rng.below(24 * 12) as i64;
            app.clock.set(now + Duration::hours(hours));
            format!("move the clock {hours} h forward")
        }
        _ => {
            let hours = rng.below(24 * 3) as i64;
            app.clock.set(now - Duration::hours(hours));
            format!("move the clock {hours} h back")
        }
    }
}

#[tokio::test]
async fn random_writes_and_clock_moves_keep_the_ledger_equal_to_the_records() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let other = app.create_user().await;
    let mut rng = Rng(0x1ed9e5);
    let (mut contacts, mut records) = (Vec::new(), Vec::new());
    for i in 0..160 {
        let did = random_step(&app, &user, &mut rng, &mut contacts, &mut records).await;
        let step = format!("step {i} ({did})");
        if i % 10 == 9 || did.ends_with(" back") {
            // Straight after the step: the lists bring rows out of date up to date first.
            app.assert_lists_agree(&user, &step).await;
            app.assert_suggestions_agree(&user, &step).await;
        }
        // On every third step, rows out of date (which `assert_ledger_exact` skips) are left
        // for the next write to find; otherwise a read brings them up to date first.
        if i % 3 == 1 {
            app.assert_ledger_exact(&user, &step).await;
            continue;
        }
        app.send(&user, Method::GET, "/v1/contacts?limit=1", Value::Null)
            .await;
        app.assert_ledger_exact(&user, &step).await;
        app.assert_nothing_stale(&user, &step).await;
    }
    app.assert_lists_agree(&user, "the last step").await;
    app.assert_suggestions_agree(&user, "the last step").await;
    // The other user's contacts were never touched, and verify sees every owner.
    app.send(
        &other,
        Method::POST,
        "/v1/contacts",
        json!({"full_name": "Solo"}),
    )
    .await;
    let everyone = ledger::verify(&app.db, app.clock.now())
        .await
        .expect("verify");
    assert!(everyone.is_empty(), "{everyone:?}");
}

#[tokio::test]
async fn a_tampered_ledger_is_reported_and_rebuilt() {
    use sea_orm::ConnectionTrait;

    let app = spawn_app().await;
    let user = app.create_user().await;
    let ada = app
        .send(
            &user,
            Method::POST,
            "/v1/contacts",
            json!({"full_name": "Ada", "cadence_days": 7}),
        )
        .await;
    let body = json!({"occurred_at": "2026-03-01T10:00:00Z", "channel": "call",
        "summary": "Call", "participant_ids": [ada["id"]]});
    app.send(&user, Method::POST, "/v1/conversations", body)
        .await;
    let idea = json!({"contact_id": ada["id"], "kind": "article", "title": "A read",
        "topics": ["ai"]});
    app.send(&user, Method::POST, "/v1/value-offers", idea)
        .await;
    app.assert_ledger_exact(&user, "a conversation").await;

    app.db
        .writer()
        .execute_unprepared(
            "UPDATE contact SET conversation_count = 5, cold_on = NULL, name_key = 'zzz'",
        )
        .await
        .expect("tamper");
    app.db
        .writer()
        .execute_unprepared("DELETE FROM idea_topic")
        .await
        .expect("tamper");
    let differences = ledger::verify(&app.db, app.clock.now())
        .await
        .expect("verify");
    assert_eq!(differences.len(), 3, "{differences:?}");
    assert!(
        differences.iter().any(|d| matches!(d,
            ledger::Difference::IdeaTopics { stored, expected, .. }
                if stored.is_empty() && expected.len() == 1 && expected[0].0 == "ai")),
        "{differences:?}"
    );
    let ada_id = ada["id"].as_str().unwrap_or_default();
    let ledger = differences.iter().find_map(|d| match d {
        ledger::Difference::Ledger {
            contact_id,
            stored,
            expected,
            ..
        } => Some((contact_id.to_string(), stored, expected)),
        _ => None,
    });
    let Some((contact_id, stored, expected)) = ledger else {
        panic!("a ledger difference: {differences:?}");
    };
    assert_eq!(stored.history.conversation_count, 5);
    assert_eq!(expected.history.conversation_count, 1);
    assert_eq!(contact_id, ada_id);
    assert!(
        differences.iter().any(|d| matches!(d,
            ledger::Difference::NameKey { contact_id, stored, expected, .. }
                if contact_id.to_string() == ada_id && stored == "zzz" && expected == "ada")),
        "{differences:?}"
    );

    let rebuilt = ledger::rebuild(&app.db, app.clock.now())
        .await
        .expect("rebuild");
    assert_eq!(rebuilt, 1);
    app.assert_ledger_exact(&user, "the rebuild").await;
    let after = ledger::verify(&app.db, app.clock.now())
        .await
        .expect("verify");
    assert!(after.is_empty(), "{after:?}");
}

#[tokio::test]
async fn concurrent_conversations_with_one_contact_lose_no_count() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let ada = app.new_contact(&user, "Ada").await;
    let bob = app.new_contact(&user, "Bob").await;
    let writes = (0..24).map(|i| {
        let participants = if i % 2 == 0 {
            json!([ada["id"]])
        } else {
            json!([ada["id"], bob["id"]])
        };
        let body = json!({"occurred_at": format!("2026-02-{:02}T10:00:00Z", i + 1),
            "channel": "call", "summary": "Call", "participant_ids": participants,
            "thank_you_status": "owed"});
        let app = &app;
        let user = &user;
        async move {
            app.send(user, Method::POST, "/v1/conversations", body)
                .await
        }
    });
    let created = futures_util::future::join_all(writes).await;
    assert!(created.iter().all(|c| c["id"].is_string()), "{created:?}");
    app.assert_ledger_exact(&user, "the concurrent writes")
        .await;
    let ada_id = ada["id"].as_str().unwrap_or_default();
    let shown = app
        .send(
            &user,
            Method::GET,
            &format!("/v1/contacts/{ada_id}"),
            Value::Null,
        )
        .await;
    assert_eq!(shown["relationship"]["conversation_count"], 24);
    assert_eq!(shown["relationship"]["thank_yous_owed"], 24);
    assert_eq!(
        shown["relationship"]["last_conversation_at"],
        "2026-02-24T10:00:00Z"
    );
}

/// A conversation whose request was authenticated before a change of the owner's time zone
/// committed (its zone hint stale) is still written in the owner's zone: its participant's
/// thank-you due date, ledger and activity counts by local day are what the records give.
#[tokio::test]
async fn a_conversation_written_with_a_stale_zone_is_dated_in_the_owners_zone() {
    use rapport::domain::records::{Channel, ThankYouStatus};
    use rapport::services::conversations::{self, ConversationFields};

    let app = spawn_app().await;
    let user = app.create_user().await;
    // A day ahead of UTC for half of it: 12:00 UTC is already tomorrow there.
    app.send(
        &user,
        Method::PATCH,
        "/v1/me",
        json!({"time_zone": "Pacific/Kiritimati"}),
    )
    .await;
    let ada = app.new_contact(&user, "Ada").await;
    let ada: Uuid = ada["id"].as_str().expect("an id").parse().expect("a uuid");
    let now = app.clock.now();
    let fields = ConversationFields {
        occurred_at: (now - Duration::days(3))
            .date_naive()
            .and_hms_opt(12, 0, 0)
            .expect("noon")
            .and_utc(),
        channel: Channel::Call,
        participant_ids: vec![ada],
        summary: "Call".into(),
        thank_you_status: ThankYouStatus::Owed,
        ..ConversationFields::default()
    };
    // The zone the request's authentication read before the change: UTC.
    let written = conversations::create(&app.db, owner(&user), fields, (now, chrono_tz::UTC), None)
        .await
        .expect("the conversation is written");
    assert_eq!(written.participant_ids, [ada]);
    app.assert_ledger_exact(&user, "a conversation written with a stale zone")
        .await;
}

/// Updates and deletes of one contact's conversations at once: each moves the stored counts
/// by its own difference, none lost (PostgreSQL runs them on several connections).
#[tokio::test]
async fn concurrent_updates_and_deletes_of_one_contacts_conversations_lose_no_count() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let body = json!({"full_name": "Ada"});
    let ada = app.send(&user, Method::POST, "/v1/contacts", body).await;
    let mut paths = Vec::new();
    for day in 1..=24 {
        let body = json!({"occurred_at": format!("2026-02-{day:02}T10:00:00Z"),
            "channel": "call", "summary": "Call", "participant_ids": [ada["id"]],
            "thank_you_status": "owed"});
        let created = app
            .send(&user, Method::POST, "/v1/conversations", body)
            .await;
        let id = created["id"].as_str().expect("an id");
        paths.push(format!("/v1/conversations/{id}"));
    }
    // A third deleted (the last day among them), a third moved a month back, a third thanked.
    let writes = paths.iter().enumerate().map(|(i, path)| {
        let (method, body) = match i % 3 {
            0 => (Method::DELETE, Value::Null),
            1 => (
                Method::PATCH,
                json!({"occurred_at": format!("2026-01-{:02}T10:00:00Z", i + 1)}),
            ),
            _ => (Method::PATCH, json!({"thank_you_status": "sent"})),
        };
        let (app, user) = (&app, &user);
        async move {
            let body = (!body.is_null()).then_some(&body);
            let response = app
                .request(method, path, Some(&user.access_token), body)
                .await;
            response.status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(writes).await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 204),
        "{statuses:?}"
    );
    app.assert_ledger_exact(&user, "the concurrent writes")
        .await;
    let ada_id = ada["id"].as_str().unwrap_or_default();
    let path = format!("/v1/contacts/{ada_id}");
    let shown = app.send(&user, Method::GET, &path, Value::Null).await;
    let relationship = &shown["relationship"];
    assert_eq!(relationship["conversation_count"], 16);
    assert_eq!(relationship["thank_yous_owed"], 8);
    assert_eq!(
        relationship["first_conversation_at"],
        "2026-01-02T10:00:00Z"
    );
    assert_eq!(relationship["last_conversation_at"], "2026-02-24T10:00:00Z");
}

/// A contact's first, last and next planned conversations and its counts, moved by updates
/// and deletes of its conversations one at a time, including one that finds its row out of
/// date (a planned conversation passed with no read since).
#[tokio::test]
async fn each_end_of_a_history_follows_its_conversation_when_it_moves_or_goes() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let now = app.clock.now();
    let body = json!({"full_name": "Ada", "cadence_days": 30});
    let ada = app.send(&user, Method::POST, "/v1/contacts", body).await;
    let body = json!({"full_name": "Bob"});
    let bob = app.send(&user, Method::POST, "/v1/contacts", body).await;
    let ada_path = format!("/v1/contacts/{}", ada["id"].as_str().expect("an id"));
    let mut conversations = Vec::new();
    for days in [-30, -20, -10, 5, 9] {
        let body = json!({"occurred_at": at(now + Duration::days(days)), "channel": "call",
            "summary": "Call", "participant_ids": [ada["id"]], "thank_you_status": "owed"});
        let created = app
            .send(&user, Method::POST, "/v1/conversations", body)
            .await;
        let id = created["id"].as_str().expect("an id");
        conversations.push(format!("/v1/conversations/{id}"));
    }
    let [oldest, middle, latest, soon, later] = conversations.as_slice() else {
        panic!("five conversations");
    };
    let day = |days: i64| at(now + Duration::days(days));
    let steps = [
        (
            Method::PATCH,
            oldest,
            json!({"occurred_at": day(-25)}),
            "moving the first",
        ),
        (Method::DELETE, latest, Value::Null, "deleting the last"),
        (
            Method::PATCH,
            middle,
            json!({"thank_you_status": "sent"}),
            "thanking",
        ),
        (
            Method::PATCH,
            soon,
            json!({"occurred_at": day(-1)}),
            "holding a planned one",
        ),
        (
            Method::PATCH,
            later,
            json!({"occurred_at": day(6)}),
            "moving the planned one",
        ),
        (
            Method::PATCH,
            middle,
            json!({"participant_ids": [bob["id"]]}),
            "leaving one",
        ),
    ];
    // (count, owed, first, last, planned) after each step.
    let expected = [
        (3, 3, day(-25), day(-10), day(5)),
        (2, 2, day(-25), day(-20), day(5)),
        (2, 1, day(-25), day(-20), day(5)),
        (3, 2, day(-25), day(-1), day(9)),
        (3, 2, day(-25), day(-1), day(6)),
        (2, 2, day(-25), day(-1), day(6)),
    ];
    for ((method, path, body, step), (count, owed, first, last, planned)) in
        steps.into_iter().zip(expected)
    {
        app.send(&user, method, path, body).await;
        let stored = app.stored_ledger(&ada_path).await;
        let history = &stored.history;
        assert_eq!(history.conversation_count, count, "{step}");
        assert_eq!(history.thank_yous_owed, owed, "{step}");
        assert_eq!(history.first_conversation_at.map(at), Some(first), "{step}");
        assert_eq!(history.last_conversation_at.map(at), Some(last), "{step}");
        assert_eq!(history.next_planned_at.map(at), Some(planned), "{step}");
        app.assert_ledger_exact(&user, step).await;
    }
    // The planned conversation passes with no read; the next write finds the row out of date.
    app.clock.set(now + Duration::days(7));
    app.send(&user, Method::DELETE, oldest, Value::Null).await;
    let stored = app.stored_ledger(&ada_path).await;
    assert_eq!(stored.history.conversation_count, 2, "{stored:?}");
    assert_eq!(stored.history.first_conversation_at.map(at), Some(day(-1)));
    assert_eq!(stored.history.last_conversation_at.map(at), Some(day(6)));
    assert_eq!(stored.history.next_planned_at, None);
    app.assert_ledger_exact(&user, "a write on a row out of date")
        .await;
    app.assert_nothing_stale(&user, "a write on a row out of date")
        .await;
}

#[tokio::test]
async fn concurrent_tag_writes_lose_no_count() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let creates = (0..16).map(|i| {
        let body =
            json!({"full_name": format!("Contact {i}"), "tags": ["vip", format!("t{}", i % 2)]});
        let (app, user) = (&app, &user);
        async move { app.send(user, Method::POST, "/v1/contacts", body).await }
    });
    let created = futures_util::future::join_all(creates).await;
    let ids: Vec<String> = created
        .iter()
        .map(|c| c["id"].as_str().expect("created").to_owned())
        .collect();
    let changes = ids.iter().enumerate().map(|(i, id)| {
        let (app, user) = (&app, &user);
        async move {
            if i % 2 == 0 {
                app.send(
                    user,
                    Method::DELETE,
                    &format!("/v1/contacts/{id}"),
                    Value::Null,
                )
                .await
            } else {
                let body = json!({"tags": ["vip", "new"]});
                app.send(user, Method::PATCH, &format!("/v1/contacts/{id}"), body)
                    .await
            }
        }
    });
    futures_util::future::join_all(changes).await;
    let tags = app.send(&user, Method::GET, "/v1/tags", Value::Null).await;
    let counts: Vec<(String, i64)> = tags["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().expect("a tag").to_owned(),
                t["contacts"].as_i64().expect("a count"),
            )
        })
        .collect();
    // Eight left, all `vip` and `new`; `t0` went with the deleted, `t1` with the change.
    assert_eq!(counts, [("new".to_owned(), 8), ("vip".to_owned(), 8)]);
    app.assert_ledger_exact(&user, "the concurrent tag writes")
        .await;
}

#[tokio::test]
async fn a_database_written_before_the_ledger_is_filled_in_by_the_migration() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let ada = app
        .send(
            &user,
            Method::POST,
            "/v1/contacts",
            json!({"full_name": "Ada", "cadence_days": 30}),
        )
        .await;
    let bob = app.new_contact(&user, "Bob").await;
    // SQL's `lower` leaves the É as it is; the application's name key does not.
    let emile = app
        .send(
            &user,
            Method::POST,
            "/v1/contacts",
            json!({"full_name": "Émile Zola", "cadence_days": 7}),
        )
        .await;
    for (when, with) in [
        ("2026-01-10T10:00:00Z", json!([ada["id"], bob["id"]])),
        ("2026-02-20T10:00:00Z", json!([ada["id"]])),
        ("2026-03-10T10:00:00Z", json!([bob["id"], emile["id"]])),
    ] {
        let body = json!({"occurred_at": when, "channel": "call", "summary": "Call",
            "participant_ids": with});
        app.send(&user, Method::POST, "/v1/conversations", body)
            .await;
    }
    let offer = json!({"contact_id": ada["id"], "kind": "article", "title": "A read",
        "status": "offered"});
    app.send(&user, Method::POST, "/v1/value-offers", offer)
        .await;
    let idea = json!({"contact_id": bob["id"], "kind": "article", "title": "An idea",
        "topics": ["ai", "web"]});
    app.send(&user, Method::POST, "/v1/value-offers", idea)
        .await;
    let ask = json!({"contact_id": emile["id"], "kind": "advice", "title": "A word",
        "status": "asked", "asked_at": "2026-02-01T10:00:00Z"});
    app.send(&user, Method::POST, "/v1/asks", ask).await;
    let before = app.relationships(&user).await;
    let follow_ups = "/v1/follow-ups?within_days=30&limit=100";
    let listed = app.send(&user, Method::GET, follow_ups, Value::Null).await;
    let kinds: BTreeSet<&str> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|item| item["kind"].as_str())
        .collect();
    // Every kind whose due date the migration fills in is on the list.
    for kind in ["thank_you", "deliver_offer", "ask_follow_up"] {
        assert!(kinds.contains(kind), "{kind} missing: {listed}");
    }

    // Back to the schema before the ledger: its columns go, the records stay.
    let position = Migrator::migrations()
        .iter()
        .position(|m| m.name() == ledger::MIGRATIONS[0])
        .expect("the ledger migration");
    let later = (Migrator::migrations().len() - position) as u32;
    rapport::db::migrate_down(&app.db, later)
        .await
        .expect("roll back to before the ledger");
    ledger::migrate(&app.db, app.clock.now())
        .await
        .expect("migrate up again");

    app.assert_nothing_stale(&user, "the migration").await;
    app.assert_ledger_exact(&user, "the migration").await;
    let stored = ledger::verify(&app.db, app.clock.now())
        .await
        .expect("verify");
    assert!(stored.is_empty(), "{stored:?}");
    assert_eq!(app.relationships(&user).await, before);
    app.assert_lists_agree(&user, "the migration").await;
    let relisted = app.send(&user, Method::GET, follow_ups, Value::Null).await;
    assert_eq!(relisted, listed);
}

/// The plan the database picks for `statement`, one line per step. On PostgreSQL, sequential
/// scans and sorts are priced out first, so a plan still holding one has no index to use
/// instead; on the few rows of a test a sequential scan would otherwise always win.
pub(crate) async fn plan_of(app: &TestApp, statement: sea_orm::Statement) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};

    let backend = app.db.backend();
    let explain = match backend {
        DbBackend::Postgres => "EXPLAIN",
        _ => "EXPLAIN QUERY PLAN",
    };
    let statement = sea_orm::Statement {
        sql: format!("{explain} {}", statement.sql),
        ..statement
    };
    let txn = app.db.writer().begin().await.expect("begin");
    if backend == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .expect("price out sequential scans");
        txn.execute_unprepared("SET LOCAL enable_sort = off")
            .await
            .expect("price out sorts");
    }
    let rows = txn.query_all_raw(statement).await.expect("explain");
    txn.rollback().await.expect("rollback");
    rows.iter()
        .map(|row| match backend {
            DbBackend::Postgres => row.try_get::<String>("", "QUERY PLAN"),
            _ => row.try_get::<String>("", "detail"),
        })
        .collect::<Result<_, _>>()
        .expect("plan lines")
}

/// On PostgreSQL, the plan `statement` keeps on a connection of `Db::generic_reader`: made
/// once without its values (`PREPARE`, then `EXPLAIN EXECUTE`, under that pool's settings),
/// with nothing priced out.
async fn generic_plan_of(app: &TestApp, statement: sea_orm::Statement) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait, Value};

    let values = statement.values.map(|v| v.0).unwrap_or_default();
    let (types, literals): (Vec<&str>, Vec<String>) = values
        .iter()
        .map(|value| match value {
            Value::Uuid(Some(id)) => ("uuid", format!("'{id}'")),
            Value::ChronoDate(Some(date)) => ("date", format!("'{date}'")),
            Value::ChronoDateTimeUtc(Some(at)) => ("timestamptz", format!("'{}'", at.to_rfc3339())),
            Value::Int(Some(n)) => ("int4", n.to_string()),
            Value::BigInt(Some(n)) => ("int8", n.to_string()),
            Value::BigUnsigned(Some(n)) => ("int8", n.to_string()),
            Value::String(Some(text)) => ("text", format!("'{}'", text.replace('\'', "''"))),
            other => panic!("a value this helper cannot write: {other:?}"),
        })
        .unzip();
    let txn = app.db.writer().begin().await.expect("begin");
    for (name, value) in rapport::db::GENERIC_PLANS {
        txn.execute_unprepared(&format!("SET LOCAL {name} = {value}"))
            .await
            .expect("the generic pool's setting");
    }
    txn.execute_unprepared(&format!(
        "PREPARE generic_plan ({}) AS {}",
        types.join(", "),
        statement.sql
    ))
    .await
    .expect("prepare");
    let explain = format!("EXPLAIN EXECUTE generic_plan ({})", literals.join(", "));
    let rows = txn
        .query_all_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            explain,
        ))
        .await
        .expect("explain");
    txn.execute_unprepared("DEALLOCATE generic_plan")
        .await
        .expect("deallocate");
    txn.rollback().await.expect("rollback");
    rows.iter()
        .map(|row| row.try_get::<String>("", "QUERY PLAN"))
        .collect::<Result<_, _>>()
        .expect("plan lines")
}

/// On PostgreSQL the follow-up page and the suggestions run on connections that keep one plan
/// per statement, made without the values (`Db::generic_reader`). On an owner who holds every
/// row of the database, which a plan without values cannot tell from any other, each of
/// those plans still searches the indexes the statements were written for: no table walked,
/// no stream sorted, from the start and from a cursor at each kind. (SQLite plans every
/// statement that way; the plan tests above are of those plans.)
#[tokio::test]
async fn the_plans_kept_for_follow_ups_and_suggestions_search_their_indexes() {
    use chrono::NaiveDate;
    use rapport::domain::follow_ups::FollowUpKind;
    use rapport::domain::relationship::Today;
    use rapport::services::intelligence::stream_statements;
    use sea_orm::{ConnectionTrait, DbBackend};

    let app = spawn_app().await;
    let backend = app.db.backend();
    if backend != DbBackend::Postgres {
        return;
    }
    let setting = |conn, name: &'static str| async move {
        let conn: &rapport::db::Reader = conn;
        conn.query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            format!("SHOW {name}"),
        ))
        .await
        .expect("show")
        .expect("a row")
        .try_get_by_index::<String>(0)
        .expect("a setting")
    };
    for (name, value) in rapport::db::GENERIC_PLANS {
        assert_eq!(
            setting(app.db.generic_reader(), name).await,
            value,
            "{name}"
        );
    }
    assert_eq!(setting(app.db.reader(), "plan_cache_mode").await, "auto");

    let owner_id = seeded_owner(&app).await;
    let today = Today::new(app.clock.now(), "Europe/Paris");
    let date = today.date();
    let kinds = [
        (
            FollowUpKind::ThankYou,
            "idx_participant_owner_thank_you_due",
        ),
        (
            FollowUpKind::NextStep,
            "idx_conversation_owner_open_next_step",
        ),
        (FollowUpKind::AskFollowUp, "idx_ask_owner_follow_up_due"),
        (FollowUpKind::CheckIn, "idx_contact_owner_next_check_in"),
        (
            FollowUpKind::DeliverOffer,
            "idx_value_offer_owner_deliver_due",
        ),
    ];
    let probe = [
        "idx_contact_owner_refresh",
        "idx_contact_owner_last_conversation",
    ];
    let streams: Vec<&str> = kinds.iter().map(|(_, index)| *index).chain(probe).collect();
    let cursors = std::iter::once(None).chain(
        kinds
            .iter()
            .map(|(kind, _)| Some((date, *kind, Uuid::now_v7(), Uuid::now_v7()))),
    );
    let mut statements = Vec::new();
    for after in cursors {
        let (_, whole) = stream_statements(backend, owner_id, &today, 7, after);
        // One sort: the merge of the streams, a page and one more row of each.
        statements.push((streams.clone(), 1, whole.expect("the page's statement")));
    }
    let day = NaiveDate::from_ymd_opt(2026, 3, 4).expect("a date");
    for (indexes, statement) in suggestion_statements(&app, owner_id, day) {
        statements.push((indexes, 0, statement));
    }

    for (indexes, merges, statement) in statements {
        let plan = generic_plan_of(&app, statement.clone()).await;
        let text = plan.join("\n");
        let walked = plan
            .iter()
            .any(|line| line.contains("Seq Scan") || line.contains("Gather"));
        let sorts = plan
            .iter()
            .filter(|line| {
                line.trim_start()
                    .trim_start_matches("->  ")
                    .starts_with("Sort  (")
            })
            .count();
        let searched = indexes
            .iter()
            .all(|index| text.contains(&format!("using {index} on")));
        assert!(
            !walked && sorts == merges && searched,
            "{indexes:?}\n{}\n{text}",
            statement.sql
        );
    }
}

#[tokio::test]
async fn every_contact_list_filter_and_sort_is_an_ordered_index_scan() {
    use chrono::NaiveDate;
    use rapport::domain::relationship::{Health, Reciprocity};
    use rapport::services::contacts::{
        After, ContactFilter, PagePlan, Part, SortKey, page_queries,
    };
    use sea_orm::{QuerySelect, QueryTrait};

    let app = spawn_app().await;
    let user = app.create_user().await;
    for name in ["Ada", "Bob", "Cy"] {
        app.send(
            &user,
            Method::POST,
            "/v1/contacts",
            json!({"full_name": name, "cadence_days": 7}),
        )
        .await;
    }
    let today = NaiveDate::from_ymd_opt(2026, 3, 4).expect("a date");
    let base = ContactFilter {
        limit: 50,
        ..ContactFilter::default()
    };
    let mut filters = Vec::new();
    for sort in [
        SortKey::FullName,
        SortKey::CreatedAt,
        SortKey::UpdatedAt,
        SortKey::NextCheckInOn,
        SortKey::LastConversationAt,
    ] {
        for descending in [false, true] {
            filters.push(ContactFilter {
                sort,
                descending,
                ..base.clone()
            });
        }
    }
    for sort in [SortKey::NextCheckInOn, SortKey::LastConversationAt] {
        for value in [Some(739_000), None] {
            for descending in [false, true] {
                filters.push(ContactFilter {
                    sort,
                    descending,
                    after: Some(After::Derived(value, Uuid::now_v7())),
                    ..base.clone()
                });
            }
        }
    }
    for health in [Health::None, Health::Ok, Health::Due, Health::Cold] {
        filters.push(ContactFilter {
            health: Some(health),
            ..base.clone()
        });
    }
    for reciprocity in [
        Reciprocity::Giving,
        Reciprocity::Balanced,
        Reciprocity::Taking,
    ] {
        filters.push(ContactFilter {
            reciprocity: Some(reciprocity),
            ..base.clone()
        });
    }
    for one_off in [true, false] {
        filters.push(ContactFilter {
            one_off: Some(one_off),
            ..base.clone()
        });
    }
    for health in [Health::None, Health::Ok, Health::Due, Health::Cold] {
        for sort in [
            SortKey::FullName,
            SortKey::NextCheckInOn,
            SortKey::LastConversationAt,
        ] {
            for descending in [false, true] {
                filters.push(ContactFilter {
                    health: Some(health),
                    sort,
                    descending,
                    ..base.clone()
                });
            }
        }
        for sort in [SortKey::NextCheckInOn, SortKey::LastConversationAt] {
            filters.push(ContactFilter {
                health: Some(health),
                sort,
                after: Some(After::Derived(Some(739_000), Uuid::now_v7())),
                ..base.clone()
            });
        }
    }
    let backend = app.db.backend();
    // A query that walks an index in the page's order and checks its filters on the rows.
    let walks = |plan: &[String]| {
        let text = plan.join("\n");
        let full_scan = plan
            .iter()
            .any(|line| line.starts_with("SCAN contact") || line.contains("Seq Scan on contact"));
        let sorted = plan
            .iter()
            .any(|line| line.contains("TEMP B-TREE") || line.trim_start().starts_with("Sort"));
        (!full_scan && text.contains("idx_contact_owner"), sorted)
    };
    for filter in &filters {
        let PagePlan { in_range, parts } =
            page_queries(owner(&user), filter, today).expect("the page's queries");
        if let Some(in_range) = in_range {
            // The count of the range stops at its bound, in the health's range.
            let plan = plan_of(&app, backend.build(&in_range)).await;
            let text = plan.join("\n");
            assert!(
                text.contains("idx_contact_owner_next_check_in")
                    || (backend == sea_orm::DbBackend::Postgres
                        && !text.contains("Seq Scan on contact")),
                "{filter:?}\n{text}"
            );
        }
        for part in parts {
            let (walk, collect) = match part {
                Part::Walk(query) => (query.limit(51).build(backend), None),
                Part::Health { walk, collect } => (
                    walk.limit(51).build(backend),
                    Some(collect.limit(51).build(backend)),
                ),
                Part::Cadences(part) => {
                    // The cadences, then each one's range: searches of the cadences' index
                    // (on PostgreSQL, not a scan of the table: see the collect query below).
                    let cadences = part.cadences(backend);
                    let page = part.page(&[7, 30], 51).expect("two cadences");
                    for statement in [cadences, backend.build(&page)] {
                        let plan = plan_of(&app, statement.clone()).await;
                        let text = plan.join("\n");
                        let searched = match backend {
                            sea_orm::DbBackend::Postgres => !text.contains("Seq Scan on contact"),
                            _ => {
                                !plan.iter().any(|line| line.contains("SCAN contact"))
                                    && text.matches("idx_contact_owner_cadence_check_in").count()
                                        >= 2
                            }
                        };
                        assert!(searched, "{filter:?}\n{}\n{text}", statement.sql);
                    }
                    continue;
                }
            };
            let plan = plan_of(&app, walk.clone()).await;
            let (indexed, sorted) = walks(&plan);
            // One-offs are few: they may be found through their own index, then sorted (which
            // SQLite does; PostgreSQL, with sorts priced out here, walks the sort's index).
            let few = filter.one_off == Some(true);
            assert!(
                indexed && (few || !sorted),
                "{filter:?}\n{}\n{}",
                walk.sql,
                plan.join("\n")
            );
            // The rows of a health not found along the sort's index: in its range. PostgreSQL
            // chooses between the range and the owner's rows by its statistics, which a table
            // of three rows does not have.
            if let Some(collect) = collect {
                let plan = plan_of(&app, collect.clone()).await;
                let text = plan.join("\n");
                let ranged = match backend {
                    sea_orm::DbBackend::Postgres => !text.contains("Seq Scan on contact"),
                    _ => {
                        text.contains("SEARCH contact USING INDEX idx_contact_owner_next_check_in")
                    }
                };
                assert!(ranged, "{filter:?}\n{}\n{text}", collect.sql);
            }
        }
    }
}

/// The ids of `items`, in order.
fn ids(items: &[Value]) -> Vec<Value> {
    items.iter().map(|c| c["id"].clone()).collect()
}

/// Every page of `user`'s contacts of each health, by each of `SORTS`, `limit` at a time,
/// lists what the whole list holds of that health, in the same order.
async fn assert_health_pages(app: &TestApp, user: &TestUser, limit: usize, step: &str) {
    const SORTS: [&str; 7] = [
        "created_at",
        "-created_at",
        "full_name",
        "last_conversation_at",
        "-last_conversation_at",
        "next_check_in_on",
        "-next_check_in_on",
    ];
    for sort in SORTS {
        let everyone = app
            .all_items(user, &format!("/v1/contacts?limit=100&sort={sort}"))
            .await;
        for health in ["none", "ok", "due", "cold"] {
            let expected: Vec<Value> = everyone
                .iter()
                .filter(|c| c["relationship"]["health"] == health)
                .map(|c| c["id"].clone())
                .collect();
            let path = format!("/v1/contacts?limit={limit}&sort={sort}&health={health}");
            let found = ids(&app.all_items(user, &path).await);
            assert_eq!(found, expected, "{step}: {health} by {sort}");
        }
    }
}

#[tokio::test]
async fn a_health_is_listed_alike_whether_few_or_many_contacts_hold_it() {
    use rapport::bench_seed::{self, Size};
    use rapport::services::contacts::SORTED_AT_MOST;

    let app = spawn_app().await;
    // Few: contacts with a cadence of a week among some without, and two with other cadences.
    // Those never met are ok before the seventh day, due from it for four days, then cold;
    // those met follow their last conversation, some of them on the same day.
    let user = app.create_user().await;
    let start = app.clock.now();
    for i in 0..20 {
        app.new_contact(&user, &format!("A filler {i:02}")).await;
    }
    let mut met = Vec::new();
    for (name, cadence) in [
        ("Zoe", 7),
        ("Zack", 7),
        ("Zeno", 7),
        ("Yan", 7),
        ("Yara", 7),
        ("Xia", 3),
        ("Xu", 14),
    ] {
        let body = json!({"full_name": name, "cadence_days": cadence});
        let created = app.send(&user, Method::POST, "/v1/contacts", body).await;
        met.push(created["id"].clone());
    }
    for (i, hours) in [30, 30, 50, 75, 76, 120].into_iter().enumerate() {
        let body = json!({"occurred_at": at(start + Duration::hours(hours)), "channel": "call",
            "summary": "Catching up", "participant_ids": [met[i + 1]]});
        app.send(&user, Method::POST, "/v1/conversations", body)
            .await;
    }
    // One met and archived: in no list of the contacts not archived.
    let archived = format!("/v1/contacts/{}", met[3].as_str().expect("an id"));
    let body = json!({"archived_at": at(start)});
    app.send(&user, Method::PATCH, &archived, body).await;
    for days in [1, 6, 8, 10, 13, 20] {
        app.clock.set(start + Duration::days(days));
        assert_health_pages(&app, &user, 2, &format!("day {days}")).await;
    }
    app.clock.set(start);
    // Many: the benchmark's network, where every health but one holds more contacts than a page
    // sorts, so that its pages walk the sort's index.
    let contacts = 3 * usize::try_from(SORTED_AT_MOST).expect("a count");
    let size = Size {
        users: 1,
        contacts_per_user: contacts,
    };
    bench_seed::seed(&app.db, size, app.clock.now())
        .await
        .expect("seed");
    let login = app.login(&bench_seed::email(0), bench_seed::PASSWORD).await;
    let tokens: Value = login.json().await.expect("tokens");
    let token = |name: &str| tokens[name].as_str().expect("a token").to_owned();
    let mut seeded = TestUser {
        id: String::new(),
        email: bench_seed::email(0),
        password: bench_seed::PASSWORD.to_owned(),
        access_token: token("access_token"),
        refresh_token: token("refresh_token"),
    };
    let me = app.send(&seeded, Method::GET, "/v1/me", Value::Null).await;
    seeded.id = me["id"].as_str().expect("an id").to_owned();
    assert_health_pages(&app, &seeded, 50, "seeded").await;
}

#[tokio::test]
async fn follow_up_pages_of_every_size_list_what_one_page_lists() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let start = app.clock.now();
    let mut rng = Rng(0xf0110);
    let mut contacts = Vec::new();
    for i in 0..14 {
        // Contacts created on different days, some on the same one.
        app.clock.set(start - Duration::days(40 - (i / 3) * 3));
        let body = json!({"full_name": format!("Contact {i}"), "cadence_days": 1 + i % 5});
        let created = app.send(&user, Method::POST, "/v1/contacts", body).await;
        contacts.push(created["id"].as_str().expect("an id").to_owned());
    }
    for i in 0..30 {
        app.clock
            .set(start - Duration::hours(rng.below(24 * 25) as i64));
        let with = vec![
            contacts[rng.below(contacts.len())].clone(),
            contacts[rng.below(contacts.len())].clone(),
        ];
        let mut body = json!({"occurred_at": at(app.clock.now() - Duration::hours(rng.below(30) as i64)),
            "channel": "call", "summary": format!("Call {i}"), "participant_ids": with,
            "thank_you_status": if i % 3 == 0 { "sent" } else { "owed" }});
        if i % 4 == 0 {
            body["next_step"] = json!("Send the deck");
            body["next_step_due_on"] = json!(
                (start + Duration::days(rng.below(9) as i64 - 3))
                    .date_naive()
                    .to_string()
            );
        }
        app.send(&user, Method::POST, "/v1/conversations", body)
            .await;
        let contact_id = contacts[rng.below(contacts.len())].clone();
        if i % 2 == 0 {
            let offer = json!({"contact_id": contact_id, "kind": "article", "title": "A read"});
            app.send(&user, Method::POST, "/v1/value-offers", offer)
                .await;
        } else {
            let ask = json!({"contact_id": contact_id, "kind": "advice", "title": "Advice",
                "status": "asked"});
            app.send(&user, Method::POST, "/v1/asks", ask).await;
        }
    }
    app.clock.set(start);
    for archived in &contacts[..2] {
        app.send(
            &user,
            Method::PATCH,
            &format!("/v1/contacts/{archived}"),
            json!({"archived_at": at(start)}),
        )
        .await;
    }
    let key = |item: &Value| {
        format!(
            "{} {} {} {}",
            item["due_on"], item["kind"], item["source_id"], item["contact_id"]
        )
    };
    // Local dates that are UTC dates, then ones 12:45 or 13:45 ahead, then 8 or 7 behind.
    for zone in ["UTC", "Pacific/Chatham", "America/Los_Angeles"] {
        app.send(&user, Method::PATCH, "/v1/me", json!({"time_zone": zone}))
            .await;
        let one_page = app
            .send(
                &user,
                Method::GET,
                "/v1/follow-ups?within_days=30&limit=100",
                Value::Null,
            )
            .await;
        assert_eq!(one_page["has_more"], false);
        let everything: Vec<String> = one_page["data"]
            .as_array()
            .expect("a page")
            .iter()
            .map(key)
            .collect();
        let kinds: BTreeSet<&str> = one_page["data"]
            .as_array()
            .expect("a page")
            .iter()
            .filter_map(|item| item["kind"].as_str())
            .collect();
        assert_eq!(kinds.len(), 5, "every kind is listed in {zone}: {kinds:?}");
        assert!(
            one_page["data"]
                .as_array()
                .expect("a page")
                .iter()
                .all(|item| !contacts[..2]
                    .contains(&item["contact_id"].as_str().unwrap_or_default().to_owned())),
            "archived contacts have no follow-ups"
        );
        for limit in [1, 2, 3, 7] {
            let path = format!("/v1/follow-ups?within_days=30&limit={limit}");
            let paged: Vec<String> = app.all_items(&user, &path).await.iter().map(key).collect();
            assert_eq!(paged, everything, "pages of {limit} in {zone}");
        }
    }
}

#[tokio::test]
async fn a_goal_streak_counts_every_week_on_its_local_days() {
    let app = spawn_app().await;
    let now = app.clock.now();
    // The account must be older than the streak: weeks before it never count.
    app.clock.set(now - Duration::weeks(20));
    let user = app.create_user().await;
    app.clock.set(now);
    let zone = "Pacific/Auckland";
    app.send(
        &user,
        Method::PATCH,
        "/v1/me",
        json!({"time_zone": zone, "weekly_conversation_goal": 2}),
    )
    .await;
    let ada = app.new_contact(&user, "Ada").await;
    let tz: chrono_tz::Tz = zone.parse().expect("a zone");
    let today = now.with_timezone(&tz).date_naive();
    let this_week = rapport::domain::stats::week_start(today);
    // Two conversations in each of the 11 weeks before this one, on the first and the last
    // local minute of the week; one in the 12th; two again before that. None this week.
    for weeks_back in 1..=14_i64 {
        let monday = rapport::domain::relationship::add_days(this_week, -7 * weeks_back);
        let start = rapport::domain::relationship::start_of_day(monday, tz);
        let end = start + Duration::weeks(1) - Duration::minutes(1);
        let times = if weeks_back == 12 {
            vec![start]
        } else {
            vec![start, end]
        };
        for at_time in times {
            let body = json!({"occurred_at": at(at_time), "channel": "call", "summary": "Call",
                "participant_ids": [ada["id"]]});
            app.send(&user, Method::POST, "/v1/conversations", body)
                .await;
        }
    }
    let goals = app.send(&user, Method::GET, "/v1/goals", Value::Null).await;
    assert_eq!(goals["streak_weeks"], 11, "{goals}");
    // Meeting the goal this week extends the streak to this week.
    for _ in 0..2 {
        let body = json!({"occurred_at": at(now - Duration::minutes(1)), "channel": "call",
            "summary": "Call", "participant_ids": [ada["id"]]});
        app.send(&user, Method::POST, "/v1/conversations", body)
            .await;
    }
    let goals = app.send(&user, Method::GET, "/v1/goals", Value::Null).await;
    assert_eq!(goals["streak_weeks"], 12, "{goals}");
}

/// The bench seed's one owner of 2,000 contacts, analyzed by the seed: PostgreSQL chooses among
/// the indexes led by the owner by its statistics, and prices them alike on a few rows.
async fn seeded_owner(app: &TestApp) -> Uuid {
    use rapport::bench_seed::{self, Size};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let size = Size {
        users: 1,
        contacts_per_user: 2_000,
    };
    bench_seed::seed(&app.db, size, app.clock.now())
        .await
        .expect("seed");
    entity::user::Entity::find()
        .filter(entity::user::Column::Email.eq(bench_seed::email(0)))
        .one(app.db.reader())
        .await
        .expect("read")
        .expect("the seeded owner")
        .id
}

/// The statements of a suggestions page for `owner_id` on `today`, each with the indexes it
/// must search: the group walk and the ledger's probe, two groups' candidates with every base
/// level, and the first and a later page of two idea topics.
fn suggestion_statements(
    app: &TestApp,
    owner_id: Uuid,
    today: chrono::NaiveDate,
) -> Vec<(Vec<&'static str>, sea_orm::Statement)> {
    use rapport::domain::suggestions::base_levels;
    use rapport::services::intelligence::suggestions::{candidates, groups, topic_pages};

    let backend = app.db.backend();
    let candidates = candidates(
        owner_id,
        &[(40, 7, today), (0, 30, today - chrono::Days::new(12))],
        &base_levels(),
        today,
        11,
    )
    .expect("groups and levels");
    let topics = topic_pages(
        owner_id,
        &[
            ("ai".to_owned(), None),
            ("web".to_owned(), Some((app.clock.now(), Uuid::now_v7()))),
        ],
        32,
    )
    .expect("topics");
    vec![
        (
            vec![
                "idx_contact_suggest_due",
                "idx_contact_owner_refresh",
                "idx_contact_owner_last_conversation",
            ],
            groups(backend, owner_id, Some(app.clock.now()), today, 11),
        ),
        (
            vec![
                "idx_contact_suggest_due",
                "idx_contact_suggest_name",
                "idx_value_offer_owner_contact",
            ],
            backend.build(&candidates),
        ),
        (vec!["idx_idea_topic_owner_topic"], backend.build(&topics)),
    ]
}

#[tokio::test]
async fn every_suggestion_read_is_an_ordered_index_search() {
    use chrono::NaiveDate;

    let app = spawn_app().await;
    let user = app.create_user().await;
    for (name, cadence) in [("Ada", json!(7)), ("Bob", json!(30)), ("Cy", json!(null))] {
        app.send(
            &user,
            Method::POST,
            "/v1/contacts",
            json!({"full_name": name, "cadence_days": cadence}),
        )
        .await;
    }
    let today = NaiveDate::from_ymd_opt(2026, 3, 4).expect("a date");
    let backend = app.db.backend();
    // PostgreSQL chooses among the indexes led by the owner by its statistics: on a table of
    // three rows it prices them alike, and may take one that serves a statement less well.
    // There, the plans are those of an owner of a seeded network, analyzed by the seed.
    let owner_id = if backend == sea_orm::DbBackend::Postgres {
        seeded_owner(&app).await
    } else {
        owner(&user)
    };
    let statements = suggestion_statements(&app, owner_id, today);
    for (indexes, statement) in statements {
        let plan = plan_of(&app, statement.clone()).await;
        let text = plan.join("\n");
        // SQLite scans only the recursive table `g`, its seed rows and the subqueries;
        // every read of `contact` is a search.
        let scan = plan.iter().any(|line| {
            let line = line.trim_start();
            let allowed = [
                "SCAN g",
                "SCAN CONSTANT ROW",
                "SCAN candidate",
                "SCAN topic",
                "SCAN stale",
            ];
            (line.starts_with("SCAN ") && !allowed.iter().any(|ok| line.starts_with(ok)))
                || line.contains("Seq Scan on contact")
        });
        // PostgreSQL: an index scan of `contact` without a condition reads the whole index.
        let unbounded = plan.iter().zip(plan.iter().skip(1)).any(|(line, next)| {
            line.contains("Scan using")
                && line.contains(" on contact")
                && !next.contains("Index Cond")
        });
        let sorted = plan
            .iter()
            .any(|line| line.contains("TEMP B-TREE") || line.trim_start().starts_with("Sort"));
        assert!(
            !scan && !unbounded && !sorted && indexes.iter().all(|index| text.contains(index)),
            "{}\n{text}",
            statement.sql
        );
    }
}

/// Each kind of follow-up is read in the list's own order (due date, then id) by a search of
/// one index bounded by the owner and the window's last day, from the start and from a cursor
/// at each kind: never a walk of the owner's rows, never a sort. The page's one statement,
/// the streams with their names, summaries, next steps' participants and the ledger's probe,
/// reads every table by a search too; it sorts only to merge the streams, at most a page and
/// one more row of each.
#[tokio::test]
async fn every_follow_up_stream_is_an_ordered_index_search() {
    use rapport::domain::follow_ups::FollowUpKind;
    use rapport::domain::relationship::Today;
    use rapport::services::intelligence::stream_statements;

    let app = spawn_app().await;
    let user = app.create_user().await;
    let today = Today::new(app.clock.now(), "Europe/Paris");
    let date = today.date();
    let index = |kind| match kind {
        FollowUpKind::CheckIn => ("idx_contact_owner_next_check_in", "next_check_in_on"),
        FollowUpKind::NextStep => ("idx_conversation_owner_open_next_step", "next_step_due_on"),
        FollowUpKind::ThankYou => ("idx_participant_owner_thank_you_due", "thank_you_due_on"),
        FollowUpKind::DeliverOffer => ("idx_value_offer_owner_deliver_due", "deliver_due_on"),
        FollowUpKind::AskFollowUp => ("idx_ask_owner_follow_up_due", "follow_up_due_on"),
    };
    let kinds = [
        FollowUpKind::ThankYou,
        FollowUpKind::NextStep,
        FollowUpKind::AskFollowUp,
        FollowUpKind::CheckIn,
        FollowUpKind::DeliverOffer,
    ];
    let cursors = std::iter::once(None).chain(
        kinds
            .iter()
            .map(|kind| Some((date, *kind, Uuid::now_v7(), Uuid::now_v7()))),
    );
    let mut read = 0;
    for after in cursors {
        let (statements, whole) =
            stream_statements(app.db.backend(), owner(&user), &today, 7, after);
        let whole = whole.expect("the page's statement");
        let plan = plan_of(&app, whole.clone()).await;
        let text = plan.join("\n");
        // SQLite scans only subqueries: the streams, their merged page, the union's arms.
        let scan = plan.iter().any(|line| {
            let line = line.trim_start();
            let subquery = ["SCAN stream", "SCAN page", "SCAN follow_up"];
            (line.starts_with("SCAN ") && !subquery.iter().any(|ok| line.starts_with(ok)))
                || line.contains("Seq Scan")
        });
        // The next steps' participants: by the primary key, from the list of conversations.
        let participants_by_key = match app.db.backend() {
            sea_orm::DbBackend::Postgres => plan.iter().zip(plan.iter().skip(1)).any(|(line, next)| {
                line.contains("conversation_participant_pkey")
                    && next.contains("Index Cond: ((owner_id = ")
                    && next.contains("(conversation_id = page")
            }),
            _ => plan.iter().any(|line| {
                line.starts_with("SEARCH conversation_participant USING COVERING INDEX sqlite_autoindex_conversation_participant_1 (owner_id=? AND conversation_id=?)")
            }),
        };
        assert!(
            !scan && participants_by_key,
            "after {after:?}\n{}\n{text}",
            whole.sql
        );
        for (kind, statement) in statements {
            let (name, column) = index(kind);
            let plan = plan_of(&app, statement.clone()).await;
            let text = plan.join("\n");
            let scan = plan
                .iter()
                .any(|line| line.trim_start().starts_with("SCAN ") || line.contains("Seq Scan"));
            let sorted = plan
                .iter()
                .any(|line| line.contains("TEMP B-TREE") || line.trim_start().starts_with("Sort"));
            let bounded = match app.db.backend() {
                sea_orm::DbBackend::Postgres => plan
                    .iter()
                    .any(|line| line.contains("Index Cond") && line.contains(column)),
                _ => plan.iter().any(|line| {
                    line.contains(name)
                        && (line.contains(&format!("{column}<"))
                            || line.contains(&format!("{column}>")))
                }),
            };
            assert!(
                !scan && !sorted && bounded && text.contains(name),
                "{kind:?} after {after:?}\n{}\n{text}",
                statement.sql
            );
            read += 1;
        }
    }
    assert_eq!(read, 30);
}

/// A time-zone change re-dates open follow-ups a hundred rows per statement, each row found
/// by its primary key: never a walk of the owner's rows for each statement, which the owner's
/// equality made SQLite's planner choose.
#[tokio::test]
async fn re_dating_follow_ups_finds_each_row_by_its_primary_key() {
    use chrono::NaiveDate;
    use rapport::services::due_dates::{Row, redate};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let date = NaiveDate::from_ymd_opt(2026, 3, 4);
    let some = || (0..3).map(|_| Uuid::now_v7()).collect::<Vec<_>>();
    let tables: [(&str, Vec<Row>); 3] = [
        (
            "conversation_participant",
            some()
                .into_iter()
                .map(|id| Row::Participant(id, Uuid::now_v7()))
                .collect(),
        ),
        ("value_offer", some().into_iter().map(Row::Offer).collect()),
        ("ask", some().into_iter().map(Row::Ask).collect()),
    ];
    for (table, rows) in tables {
        let statement = redate(app.db.backend(), owner(&user), date, &rows).expect("a statement");
        let plan = plan_of(&app, statement.clone()).await;
        let text = plan.join("\n");
        let walked = plan.iter().any(|line| {
            line.trim_start().starts_with("SCAN ")
                || line.contains("Seq Scan")
                || line.contains("idx_")
        });
        let by_key = match app.db.backend() {
            sea_orm::DbBackend::Postgres => text.contains(&format!("{table}_pkey")),
            _ => text.contains(&format!("sqlite_autoindex_{table}_1")),
        };
        assert!(!walked && by_key, "{}\n{text}", statement.sql);
    }
}

#[tokio::test]
async fn the_idea_suggested_is_the_one_a_search_of_every_idea_finds() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let start = app.clock.now();
    let mut rng = Rng(0x1dea5);
    let all_topics = ["ai", "golf", "rust", "space", "web"];
    let pick_topics = |rng: &mut Rng, most: usize| -> Vec<&str> {
        let mut picked: Vec<&str> = (0..=rng.below(most))
            .filter_map(|_| rng.pick(&all_topics).copied())
            .collect();
        picked.sort_unstable();
        picked.dedup();
        picked
    };
    // Due contacts (cadence 1, added long ago), each with interests: all are suggested. Ideas
    // have at most two topics, so no idea covers a contact with more interests, whose choice
    // then reads every idea on them.
    app.clock.set(start - Duration::days(30));
    let mut due = Vec::new();
    for i in 0..12 {
        let body = json!({"full_name": format!("Due {i}"), "cadence_days": 1,
            "interests": pick_topics(&mut rng, 6)});
        let created = app.send(&user, Method::POST, "/v1/contacts", body).await;
        due.push(created["id"].as_str().expect("an id").to_owned());
    }
    // Contacts with nothing due, who hold most of the ideas.
    let mut holders = Vec::new();
    for i in 0..4 {
        let body = json!({"full_name": format!("Holder {i}")});
        let created = app.send(&user, Method::POST, "/v1/contacts", body).await;
        holders.push(created["id"].as_str().expect("an id").to_owned());
    }
    // 150 ideas, more than one read of a topic, some created at the same instant.
    let mut ideas = Vec::new();
    for i in 0..150_i64 {
        app.clock
            .set(start - Duration::days(20) + Duration::minutes(i / 2));
        let owner_contact = if i % 25 == 0 {
            due[rng.below(due.len())].clone()
        } else {
            holders[rng.below(holders.len())].clone()
        };
        let body = json!({"contact_id": owner_contact, "kind": "article",
            "title": format!("Idea {i}"), "topics": pick_topics(&mut rng, 2)});
        let created = app
            .send(&user, Method::POST, "/v1/value-offers", body)
            .await;
        ideas.push(created["id"].as_str().expect("an id").to_owned());
    }
    app.clock.set(start);
    app.assert_suggestions_agree(&user, "150 ideas").await;
    // Ideas given, or their topics changed, stop or start matching.
    for (i, idea) in ideas.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let body = if i % 2 == 0 {
            json!({"status": "offered"})
        } else {
            json!({"topics": pick_topics(&mut rng, 4)})
        };
        app.send(
            &user,
            Method::PATCH,
            &format!("/v1/value-offers/{idea}"),
            body,
        )
        .await;
    }
    app.assert_suggestions_agree(&user, "changes to a third of the ideas")
        .await;
    let differences = ledger::verify(&app.db, app.clock.now())
        .await
        .expect("verify");
    assert!(differences.is_empty(), "{differences:?}");
}

#[tokio::test]
async fn every_statistics_count_is_an_index_range_search() {
    use rapport::services::intelligence::stats::counters;

    let app = spawn_app().await;
    let user = app.create_user().await;
    let now = app.clock.now();
    // A year of history, a contact met and one offer and ask a week, so that PostgreSQL's
    // planner, given statistics, can tell a week's range from the owner's whole history.
    for week in 0..52 {
        app.clock.set(now - Duration::weeks(week));
        let body = json!({"full_name": format!("Contact {week}")});
        let created = app.send(&user, Method::POST, "/v1/contacts", body).await;
        let contact = created["id"].as_str().expect("an id").to_owned();
        let body = json!({"occurred_at": at(app.clock.now()), "channel": "call",
            "summary": "Call", "participant_ids": [contact], "thank_you_status": "sent"});
        app.send(&user, Method::POST, "/v1/conversations", body)
            .await;
        let offer = json!({"contact_id": contact, "kind": "article", "title": "A read",
            "status": "offered"});
        app.send(&user, Method::POST, "/v1/value-offers", offer)
            .await;
        let ask = json!({"contact_id": contact, "kind": "advice", "title": "Advice",
            "status": "asked"});
        app.send(&user, Method::POST, "/v1/asks", ask).await;
    }
    app.clock.set(now);
    if app.db.backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::ConnectionTrait;
        app.db
            .writer()
            .execute_unprepared("ANALYZE")
            .await
            .expect("analyze");
    }
    let bounds = [
        (0, now - Duration::days(14), now - Duration::days(7)),
        (1, now - Duration::days(7), now + Duration::days(1)),
    ];
    let backend = app.db.backend();
    let c = counters(owner(&user), now);
    let expected = [
        (
            &c.held,
            "idx_conversation_owner_occurred_at_status",
            "occurred_at",
        ),
        (&c.people, "idx_participant_owner_occurred", "occurred_at"),
        (&c.offered, "idx_value_offer_owner_offered", "offered_at"),
        (&c.asked, "idx_ask_owner_asked", "asked_at"),
    ];
    for (counter, index, instant) in expected {
        let statement = backend.build(&counter.statement(&bounds).expect("ranges"));
        let tables = ["conversation", "value_offer", "ask"];
        assert_searches(&app, statement, &tables, index, instant).await;
    }
}

/// Asserts that the plan of `statement` reads `tables` only by searching `index`, every search
/// bounded on `column`. SQLite: no `SCAN` of a table (the subqueries that wrap the arms of a
/// union are scanned, not tables) and a range on `column` in every `SEARCH`. PostgreSQL: no
/// sequential scan, and `column` in every index condition.
async fn assert_searches(
    app: &TestApp,
    statement: sea_orm::Statement,
    tables: &[&str],
    index: &str,
    column: &str,
) {
    let plan = plan_of(app, statement.clone()).await;
    let text = plan.join("\n");
    let scan = plan.iter().any(|line| {
        let line = line.trim_start();
        tables
            .iter()
            .any(|table| line.starts_with(&format!("SCAN {table}")))
            || line.contains("Seq Scan")
    });
    let searched = match app.db.backend() {
        sea_orm::DbBackend::Postgres => plan
            .iter()
            .filter(|line| line.contains("Index Cond"))
            .all(|line| line.contains(column)),
        _ => plan
            .iter()
            .filter(|line| line.trim_start().starts_with("SEARCH "))
            .all(|line| {
                line.contains(&format!("{column}>")) || line.contains(&format!("{column}<"))
            }),
    };
    assert!(
        !scan && searched && text.contains(index),
        "{}\n{text}",
        statement.sql
    );
}

/// The check a read makes for rows that time has put out of date is a search of one index per
/// kind, never a walk of the owner's contacts (which an `OR` of the two made on PostgreSQL).
#[tokio::test]
async fn the_check_for_out_of_date_rows_is_two_index_searches() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let now = app.clock.now();
    for i in 0..40 {
        let body = json!({"full_name": format!("Contact {i}")});
        let created = app.send(&user, Method::POST, "/v1/contacts", body).await;
        // Most met last month; a few have a conversation planned for next week.
        let days = if i % 8 == 0 { 7 } else { -30 };
        let body = json!({"occurred_at": at(now + Duration::days(days)), "channel": "call",
            "summary": "Call", "participant_ids": [created["id"]]});
        app.send(&user, Method::POST, "/v1/conversations", body)
            .await;
    }
    if app.db.backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::ConnectionTrait;
        app.db
            .writer()
            .execute_unprepared("ANALYZE")
            .await
            .expect("analyze");
    }
    let backend = app.db.backend();
    let [planned, ahead] = ledger::stale_arms(owner(&user), now, Some(1));
    for (arm, index, column) in [
        (planned, "idx_contact_owner_refresh", "refresh_at"),
        (
            ahead,
            "idx_contact_owner_last_conversation",
            "last_conversation_at",
        ),
    ] {
        assert_searches(&app, backend.build(&arm), &["contact"], index, column).await;
    }
}

/// The activity reads: a range of one owner's period rows is a search of the primary key, and
/// the count of a contact's conversations in a period that a write makes is a search of the
/// participant history index by owner, contact and instant.
#[tokio::test]
async fn every_activity_read_is_an_index_search() {
    use rapport::domain::stats::Granularity;
    use rapport::services::activity;

    let app = spawn_app().await;
    let user = app.create_user().await;
    let now = app.clock.now();
    // A year of weekly meetings of twenty contacts: a week holds twenty participant rows of
    // the owner, one of each contact, so that PostgreSQL's planner, given statistics, can
    // tell a contact's week from the owner's.
    let contacts = app.weekly_meetups(&user, 0..52).await;
    let backend = app.db.backend();
    let today = now.date_naive();
    let periods = activity::periods_query(owner(&user), "week", today - Duration::weeks(12), today);
    let mut presence = BTreeMap::new();
    for contact in contacts.iter().take(2) {
        let contact = contact.parse().expect("a uuid");
        presence.insert((contact, Granularity::Week, today), 1);
        presence.insert((contact, Granularity::Month, today), -1);
    }
    let probe = activity::presence_probe(owner(&user), chrono_tz::UTC, &presence).expect("arms");
    use sea_orm::QueryTrait;
    for (statement, index, searched_by) in [
        (
            backend.build(&periods.into_query()),
            match backend {
                sea_orm::DbBackend::Postgres => "activity_pkey",
                _ => "sqlite_autoindex_activity_1",
            },
            "starts_on",
        ),
        (
            backend.build(&probe),
            "idx_participant_owner_contact_history",
            "occurred_at",
        ),
    ] {
        let tables = ["activity", "conversation_participant"];
        assert_searches(&app, statement, &tables, index, searched_by).await;
    }

    // A new conversation's participants are read with the presence counts as columns: each a
    // search of the same index per contact row, never a walk of the owner's participants.
    let ids: Vec<Uuid> = contacts
        .iter()
        .take(3)
        .map(|c| c.parse().expect("a uuid"))
        .collect();
    let mut change = activity::Change::default();
    let owed = rapport::domain::records::ThankYouStatus::Owed;
    change.conversation(1, now, owed, &ids);
    let columns = activity::PresenceColumns::of(&change, chrono_tz::UTC);
    let read = ledger::ledger_rows_read(
        owner(&user),
        Some(&ids),
        (Some(&columns), None),
        chrono_tz::UTC,
    );
    let statement = backend.build(&read.statement);
    assert_eq!(
        statement
            .sql
            .matches("FROM \"conversation_participant\"")
            .count(),
        2,
        "one count per period of people (week, month): {}",
        statement.sql
    );
    let plan = plan_of(&app, statement.clone()).await.join("\n");
    let walked = [
        "SCAN conversation_participant",
        "Seq Scan on conversation_participant",
    ];
    assert!(
        !walked.iter().any(|scan| plan.contains(scan))
            && plan.contains("idx_participant_owner_contact_history"),
        "{}\n{plan}",
        statement.sql
    );
}

/// Reading a contact, a page of contacts and a contact's write find the contacts' tags by
/// their primary key, `(owner_id, contact_id, tag)`: never a walk of the owner's tags by the
/// index that leads with the owner and the tag (which SQLite's planner chose to read them in
/// the order of the tag). The statements are the ones the requests ran, with their values.
#[tokio::test]
async fn a_contacts_tags_are_found_by_contact_never_by_owner() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let body = json!({"full_name": format!("Contact {i}"), "tags": ["ai", "golf", "web"]});
        let created = app.send(&user, Method::POST, "/v1/contacts", body).await;
        ids.push(created["id"].as_str().expect("an id").to_owned());
    }
    if app.db.backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::ConnectionTrait;
        app.db
            .writer()
            .execute_unprepared("ANALYZE")
            .await
            .expect("analyze");
    }
    app.db.log_statements();
    let one = format!("/v1/contacts/{}", ids[0]);
    app.send(&user, Method::GET, &one, Value::Null).await;
    app.send(&user, Method::GET, "/v1/contacts?limit=5", Value::Null)
        .await;
    let retagged = json!({"tags": ["ai", "rust"]});
    app.send(&user, Method::PATCH, &one, retagged).await;
    let statements: Vec<sea_orm::Statement> = app
        .db
        .take_statements()
        .into_iter()
        .filter(|statement| statement.sql.contains("\"contact_tag\""))
        .filter(|statement| !statement.sql.starts_with("INSERT"))
        .collect();
    assert!(statements.len() >= 3, "{statements:?}");
    for statement in statements {
        let plan = plan_of(&app, statement.clone()).await.join("\n");
        let walked = [
            "idx_contact_tag_owner_tag",
            "SCAN contact_tag",
            "Seq Scan on contact_tag",
        ];
        assert!(
            !walked.iter().any(|step| plan.contains(step)),
            "{}\n{plan}",
            statement.sql
        );
    }
}

/// A conversation's update or delete reads its participants' first, last and next planned
/// conversations again with their rows: for each, the first row of an ordered range of the
/// participant index, however long the contact's history (no sort, no walk).
#[tokio::test]
async fn the_instants_a_conversation_write_reads_again_are_one_index_row_each() {
    let app = spawn_app().await;
    let user = app.create_user().await;
    let now = app.clock.now();
    // Forty weeks of history and four of planned meetings.
    let contacts = app.weekly_meetups(&user, -4..40).await;
    let ids: Vec<Uuid> = contacts
        .iter()
        .take(3)
        .map(|c| c.parse().expect("a uuid"))
        .collect();
    let read =
        ledger::ledger_rows_read(owner(&user), Some(&ids), (None, Some(now)), chrono_tz::UTC);
    let statement = app.db.backend().build(&read.statement);
    assert_eq!(
        statement
            .sql
            .matches("FROM \"conversation_participant\"")
            .count(),
        3,
        "first, last and planned: {}",
        statement.sql
    );
    let plan = plan_of(&app, statement.clone()).await;
    let text = plan.join("\n");
    let walked_or_sorted = [
        "SCAN conversation_participant",
        "Seq Scan on conversation_participant",
        "TEMP B-TREE",
        "Sort",
    ];
    let searches = plan
        .iter()
        .filter(|line| line.contains("idx_participant_owner_contact_history"))
        .count();
    assert!(
        !walked_or_sorted.iter().any(|step| text.contains(step)) && searches == 3,
        "{}\n{text}",
        statement.sql
    );
}

/// Statistics over ranges and granularities in a zone 12:45 or 13:45 ahead of UTC, checked
/// against counts made here from every conversation, offer and ask the API lists, after a
/// contact with history is deleted and another archived, and again after planned
/// conversations have become past.
#[tokio::test]
async fn statistics_of_any_range_count_what_the_records_hold() {
    use chrono::NaiveDate;
    use std::collections::{HashMap, HashSet};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let zone = "Pacific/Chatham";
    app.send(&user, Method::PATCH, "/v1/me", json!({"time_zone": zone}))
        .await;
    let tz: chrono_tz::Tz = zone.parse().expect("a zone");
    let start = app.clock.now();
    let mut rng = Rng(0x57a75);
    app.clock.set(start - Duration::days(120));
    let mut contacts = Vec::new();
    for i in 0..8 {
        let body = json!({"full_name": format!("Contact {i}")});
        let created = app.send(&user, Method::POST, "/v1/contacts", body).await;
        contacts.push(created["id"].as_str().expect("an id").to_owned());
    }
    let statuses = ["owed", "sent", "not_needed"];
    for i in 0..45 {
        // Most in the past 100 days, some planned up to 10 days ahead.
        let hours = rng.below(24 * 110) as i64 - 24 * 100;
        app.clock
            .set(start - Duration::days(101) + Duration::hours(rng.below(24) as i64));
        let mut with: Vec<String> = (0..=rng.below(3))
            .map(|_| contacts[rng.below(contacts.len())].clone())
            .collect();
        with.sort();
        with.dedup();
        let mut body = json!({"occurred_at": at(start + Duration::hours(hours)),
            "channel": "call", "summary": format!("Call {i}"), "participant_ids": with});
        if hours < 0 {
            body["thank_you_status"] = json!(statuses[rng.below(statuses.len())]);
        }
        app.send(&user, Method::POST, "/v1/conversations", body)
            .await;
        app.clock
            .set(start - Duration::hours(rng.below(24 * 100) as i64));
        let contact_id = contacts[rng.below(contacts.len())].clone();
        if i % 2 == 0 {
            let offer = json!({"contact_id": contact_id, "kind": "article", "title": "A read",
                "status": if i % 4 == 0 { "offered" } else { "idea" }});
            app.send(&user, Method::POST, "/v1/value-offers", offer)
                .await;
        } else {
            let ask = json!({"contact_id": contact_id, "kind": "advice", "title": "Advice",
                "status": if i % 3 == 0 { "planned" } else { "asked" }});
            app.send(&user, Method::POST, "/v1/asks", ask).await;
        }
    }
    app.clock.set(start);
    app.send(
        &user,
        Method::DELETE,
        &format!("/v1/contacts/{}", contacts[0]),
        Value::Null,
    )
    .await;
    app.send(
        &user,
        Method::PATCH,
        &format!("/v1/contacts/{}", contacts[1]),
        json!({"archived_at": at(start)}),
    )
    .await;

    let instant = |v: &Value| -> Option<DateTime<Utc>> { v.as_str()?.parse().ok() };
    let local = |at: DateTime<Utc>| at.with_timezone(&tz).date_naive();
    for later in [0, 6] {
        app.clock.set(start + Duration::days(later));
        let now = app.clock.now();
        let conversations = app.all_items(&user, "/v1/conversations?limit=100").await;
        let offers = app.all_items(&user, "/v1/value-offers?limit=100").await;
        let asks = app.all_items(&user, "/v1/asks?limit=100").await;
        // Past conversations with a participant: (local date, thank-you status, people).
        let held: Vec<(NaiveDate, String, Vec<String>)> = conversations
            .iter()
            .filter_map(|c| {
                let at = instant(&c["occurred_at"]).filter(|at| *at <= now)?;
                let people: Vec<String> = c["participant_ids"]
                    .as_array()?
                    .iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect();
                let status = c["thank_you_status"].as_str()?.to_owned();
                (!people.is_empty()).then(|| (local(at), status, people))
            })
            .collect();
        let mut first_met: HashMap<String, NaiveDate> = HashMap::new();
        for (on, _, people) in &held {
            for person in people {
                let first = first_met.entry(person.clone()).or_insert(*on);
                *first = (*first).min(*on);
            }
        }
        let dated = |items: &[Value], field: &str| -> Vec<NaiveDate> {
            items
                .iter()
                .filter_map(|item| instant(&item[field]).filter(|at| *at <= now).map(local))
                .collect()
        };
        let (offered, asked) = (dated(&offers, "offered_at"), dated(&asks, "asked_at"));
        let expect = |from: NaiveDate, to: NaiveDate| -> Value {
            let inside = |d: &NaiveDate| (from..=to).contains(d);
            let held: Vec<_> = held.iter().filter(|(on, ..)| inside(on)).collect();
            let people: HashSet<&String> = held.iter().flat_map(|(_, _, p)| p).collect();
            let count = |status: &str| held.iter().filter(|(_, s, _)| s == status).count();
            let (sent, owed) = (count("sent"), count("owed"));
            json!({
                "conversations": held.len(),
                "distinct_people": people.len(),
                "new_people": first_met.values().filter(|d| inside(d)).count(),
                "offers_given": offered.iter().filter(|d| inside(d)).count(),
                "asks_made": asked.iter().filter(|d| inside(d)).count(),
                "thank_you_rate": (sent + owed > 0).then(|| sent as f64 / (sent + owed) as f64),
            })
        };
        let today = local(now);
        let queries = [
            String::new(),
            format!("from={}&to={today}", today - Duration::days(100)),
            format!(
                "from={}&to={}&granularity=month",
                today - Duration::days(95),
                today - Duration::days(3)
            ),
            format!(
                "from={}&to={}",
                today - Duration::days(9),
                today + Duration::days(5)
            ),
        ];
        for query in queries {
            let stats = app
                .send(
                    &user,
                    Method::GET,
                    &format!("/v1/stats?{query}"),
                    Value::Null,
                )
                .await;
            let date = |v: &Value| -> NaiveDate {
                v.as_str().and_then(|s| s.parse().ok()).expect("a date")
            };
            let buckets = stats["buckets"].as_array().expect("buckets");
            assert!(!buckets.is_empty());
            for bucket in buckets {
                let (from, to) = (date(&bucket["starts_on"]), date(&bucket["ends_on"]));
                let mut counted = bucket.clone();
                let counted = counted.as_object_mut().expect("a bucket");
                counted.remove("starts_on");
                counted.remove("ends_on");
                assert_eq!(
                    Value::Object(counted.clone()),
                    expect(from, to),
                    "{query}: {from}..{to}, {later} days on"
                );
            }
            let (from, to) = (date(&stats["from"]), date(&stats["to"]));
            assert_eq!(stats["total"], expect(from, to), "{query}, {later} days on");
            assert!(
                stats["total"]["conversations"].as_u64() > Some(0),
                "{query}"
            );
        }
    }
}

/// A new ask's follow-up and a new idea's delivery are dated in the owner's zone as their
/// insert reads it under the lock, not in the zone the request's authentication read before:
/// when a change of zone commits in between (here: each written with a stale UTC hint for an
/// owner in Auckland, 13 hours ahead, at 20:00 UTC, already the next day there), the stored
/// due dates are Auckland's.
#[tokio::test]
async fn a_new_ask_or_idea_is_dated_in_the_zone_its_insert_reads() {
    use chrono::Timelike;
    use rapport::domain::follow_ups::{stored_ask_due, stored_deliver_due};
    use rapport::domain::records::{AskStatus, OfferStatus};
    use rapport::services::asks::{self, AskFields};
    use rapport::services::offers::{self, OfferFields};

    let app = spawn_app().await;
    let user = app.create_user().await;
    let zone = "Pacific/Auckland";
    let me = app
        .send(&user, Method::PATCH, "/v1/me", json!({"time_zone": zone}))
        .await;
    assert_eq!(me["time_zone"], zone);
    let ada = app.new_contact(&user, "Ada").await;
    let now = app.clock.now();
    let asked_at = (now - Duration::days(2))
        .with_hour(20)
        .and_then(|at| at.with_minute(0))
        .expect("20:00 UTC");
    let contact_id: Uuid = ada["id"].as_str().expect("an id").parse().expect("a uuid");
    let fields = AskFields {
        contact_id,
        title: "Advice".to_owned(),
        status: AskStatus::Asked,
        asked_at: Some(asked_at),
        ..AskFields::default()
    };
    let stale = (now, chrono_tz::UTC);
    let ask = asks::create(&app.db, owner(&user), fields, stale, None)
        .await
        .expect("the ask");
    let auckland: chrono_tz::Tz = zone.parse().expect("a zone");
    let (there, utc) = (
        stored_ask_due("asked", Some(asked_at), now, auckland),
        stored_ask_due("asked", Some(asked_at), now, chrono_tz::UTC),
    );
    assert_ne!(there, utc, "the two zones date the ask apart");
    assert_eq!(ask.follow_up_due_on, there, "answered as stored");
    let stored = app
        .send(
            &user,
            Method::GET,
            &format!("/v1/asks/{}", ask.id),
            Value::Null,
        )
        .await;
    assert_eq!(stored["id"], ask.id.to_string());

    let idea = OfferFields {
        contact_id,
        title: "An article".to_owned(),
        status: OfferStatus::Idea,
        ..OfferFields::default()
    };
    let offer = offers::create(
        &app.db,
        owner(&user),
        idea,
        (asked_at, chrono_tz::UTC),
        None,
    )
    .await
    .expect("the idea");
    let (there, utc) = (
        stored_deliver_due("idea", asked_at, auckland),
        stored_deliver_due("idea", asked_at, chrono_tz::UTC),
    );
    assert_ne!(there, utc, "the two zones date the idea apart");
    assert_eq!(offer.deliver_due_on, there, "answered as stored");
    app.assert_ledger_exact(&user, "an ask and an idea written with a stale zone")
        .await;
}
