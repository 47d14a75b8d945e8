#!/usr/bin/env python3
"""Durability under kill -9: every acknowledged write survives, nothing is half-written, and
retries with the same Idempotency-Key never create anything twice.

Eight clients create conversations (1–3 participants each) as fast as the server answers, each
request with an Idempotency-Key of its own and the key as its summary, and record every key
sent and every id acknowledged with 201. Once a few hundred are in, the server is killed with
SIGKILL mid-load and started again on the same database. Then:
- every acknowledged id is there exactly once; no conversation lacks participants and no
  participant row lacks its conversation; on SQLite `PRAGMA integrity_check` says `ok`;
- every request that was in flight at the kill is retried with its key and body until it is
  no longer 409 (a claim left by the killed process is released at start-up on SQLite and
  after two minutes on PostgreSQL): each retry is 201, and 50 acknowledged ones retried are
  replayed with the same id;
- no summary (key) appears twice among the stored conversations.
SQLite always runs; so does PostgreSQL when RAPPORT_TEST_DATABASE_URL names a server.
"""

import random
import sqlite3
import threading
import time
import uuid
from collections import Counter

from harness import Server, all_ids, create, new_user, on_each_backend, psql, request

WRITERS = 8
KILL_AFTER = 400
RETRY_FOR = 180  # seconds: longer than a PostgreSQL claim's two-minute abandonment


def body_for(key, contacts, rng):
    return {
        "occurred_at": "2026-03-01T10:00:00Z",
        "channel": "coffee",
        "summary": key,
        "participant_ids": rng.sample(contacts, rng.randint(1, 3)),
    }


def load(server, token, contacts, state, enough):
    rng = random.Random()
    while True:
        key = uuid.uuid4().hex
        body = body_for(key, contacts, rng)
        with state["lock"]:
            state["sent"][key] = body
        try:
            status, _, answer = request(
                server.base, "POST", "/v1/conversations", token, body, {"Idempotency-Key": key}, timeout=10
            )
        except OSError:
            return  # the server is gone
        with state["lock"]:
            if status == 201:
                state["acked"][key] = answer["id"]
                if len(state["acked"]) >= KILL_AFTER:
                    enough.set()
            else:
                state["errors"].append((status, answer))
                enough.set()
                return


def retry(server, token, key, body):
    """The answer to `body` under `key` once it is no longer 409 (a claim still held)."""
    deadline = time.monotonic() + RETRY_FOR
    while True:
        status, headers, answer = request(
            server.base, "POST", "/v1/conversations", token, body, {"Idempotency-Key": key}
        )
        if status != 409 or time.monotonic() > deadline:
            return status, headers, answer
        time.sleep(1)


def check(backend, url):
    server = Server(url, idempotency_wait_ms=100).wait_ready()
    token = new_user(server.base)
    contacts = [create(server.base, token, "/v1/contacts", {"full_name": f"C{i}"})["id"] for i in range(6)]
    state = {"lock": threading.Lock(), "sent": {}, "acked": {}, "errors": []}
    enough = threading.Event()
    writers = [threading.Thread(target=load, args=(server, token, contacts, state, enough)) for _ in range(WRITERS)]
    for writer in writers:
        writer.start()
    reached = enough.wait(timeout=120)
    server.kill9()
    for writer in writers:
        writer.join()
    if state["errors"]:
        raise SystemExit(f"{backend}: a write failed before the kill: {state['errors'][:3]}")
    if not reached or len(state["acked"]) < KILL_AFTER:
        raise SystemExit(f"{backend}: only {len(state['acked'])} writes acknowledged before the kill (want {KILL_AFTER})")
    acked = dict(state["acked"])
    in_flight = [k for k in state["sent"] if k not in acked]

    server = Server(url, idempotency_wait_ms=100).wait_ready()
    stored = all_ids(server.base, token, "/v1/conversations")
    duplicates = len(stored) - len(set(stored))
    missing = set(acked.values()) - set(stored)
    if duplicates or missing:
        server.stop()
        raise SystemExit(f"{backend}: {len(missing)} acknowledged conversations lost, {duplicates} duplicated")

    started = time.monotonic()
    for key in in_flight:
        status, _, answer = retry(server, token, key, state["sent"][key])
        if status != 201:
            server.fail(f"the retry of an in-flight request answered {status} {answer}")
    replayed = 0
    for key in random.sample(sorted(acked), 50):
        status, headers, answer = retry(server, token, key, state["sent"][key])
        if status != 201 or headers.get("idempotent-replayed") != "true" or answer["id"] != acked[key]:
            server.fail(f"the retry of an acknowledged request answered {status} {headers} {answer}")
        replayed += 1
    retried_in = time.monotonic() - started
    summaries = Counter()
    cursor = None
    while True:
        query = "/v1/conversations?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, _, page = request(server.base, "GET", query, token)
        if status != 200:
            server.fail(f"listing conversations answered {status}")
        summaries.update(item["summary"] for item in page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    server.stop()
    twice = [s for s, n in summaries.items() if n > 1]
    if twice:
        raise SystemExit(f"{backend}: {len(twice)} requests created twice by their retries, e.g. {twice[:3]}")

    orphans_sql = (
        "SELECT (SELECT COUNT(*) FROM conversation c WHERE NOT EXISTS "
        "(SELECT 1 FROM conversation_participant p WHERE p.conversation_id = c.id)), "
        "(SELECT COUNT(*) FROM conversation_participant p WHERE NOT EXISTS "
        "(SELECT 1 FROM conversation c WHERE c.id = p.conversation_id))"
    )
    if backend == "sqlite":
        path = url.removeprefix("sqlite://").split("?")[0]
        db = sqlite3.connect(path)
        try:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            empty, orphan = db.execute(orphans_sql).fetchone()
        finally:
            db.close()
        if integrity != "ok":
            raise SystemExit(f"sqlite: integrity_check says {integrity}")
    else:
        empty, orphan = (int(n) for n in psql(url, orphans_sql).split("|"))
        integrity = "n/a"
    if empty or orphan:
        raise SystemExit(f"{backend}: {empty} conversations without participants, {orphan} orphan participants")
    print(
        f"durability on {backend}: killed with SIGKILL after {len(acked)} acknowledged writes "
        f"({WRITERS} writers); all {len(acked)} found exactly once among {len(stored)} stored, "
        f"0 half-written, integrity_check {integrity}; {len(in_flight)} in-flight requests retried "
        f"with their keys -> 201 each, {replayed} acknowledged ones replayed, 0 created twice "
        f"(retries took {retried_in:.1f} s)"
    )


if __name__ == "__main__":
    on_each_backend(check)
