#!/usr/bin/env python3
"""Durability under kill -9: every acknowledged write survives, nothing is half-written.

Eight clients create conversations (1–3 participants each) as fast as the server answers and
record every id acknowledged with 201. Once a few hundred are in, the server is killed with
SIGKILL mid-load and started again on the same database. Then every acknowledged id must be
there exactly once, no conversation may lack participants and no participant row may lack its
conversation, and on SQLite `PRAGMA integrity_check` must say `ok`. SQLite always runs; so does
PostgreSQL when RAPPORT_TEST_DATABASE_URL names a server.
"""

import random
import sqlite3
import threading

from harness import Server, all_ids, create, new_user, on_each_backend, psql, request

WRITERS = 8
KILL_AFTER = 400


def load(server, token, contacts, acknowledged, lock, enough):
    rng = random.Random()
    while True:
        body = {
            "occurred_at": "2026-03-01T10:00:00Z",
            "channel": "coffee",
            "summary": "Load",
            "participant_ids": rng.sample(contacts, rng.randint(1, 3)),
        }
        try:
            status, _, answer = request(server.base, "POST", "/v1/conversations", token, body, timeout=10)
        except OSError:
            return  # the server is gone
        if status == 201:
            with lock:
                acknowledged.append(answer["id"])
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()
        elif status >= 500:
            raise SystemExit(f"a write failed with {status}: {answer}")


def check(backend, url):
    server = Server(url).wait_ready()
    token = new_user(server.base)
    contacts = [create(server.base, token, "/v1/contacts", {"full_name": f"C{i}"})["id"] for i in range(6)]
    acknowledged, lock, enough = [], threading.Lock(), threading.Event()
    writers = [
        threading.Thread(target=load, args=(server, token, contacts, acknowledged, lock, enough))
        for _ in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    enough.wait(timeout=120)
    server.kill9()
    for writer in writers:
        writer.join()
    with lock:
        acked = list(acknowledged)

    server = Server(url).wait_ready()
    stored = all_ids(server.base, token, "/v1/conversations")
    server.stop()
    duplicates = len(stored) - len(set(stored))
    missing = set(acked) - set(stored)
    if duplicates or missing:
        raise SystemExit(f"{backend}: {len(missing)} acknowledged conversations lost, {duplicates} duplicated")

    orphans_sql = (
        "SELECT (SELECT COUNT(*) FROM conversation c WHERE NOT EXISTS "
        "(SELECT 1 FROM conversation_participant p WHERE p.conversation_id = c.id)), "
        "(SELECT COUNT(*) FROM conversation_participant p WHERE NOT EXISTS "
        "(SELECT 1 FROM conversation c WHERE c.id = p.conversation_id))"
    )
    if backend == "sqlite":
        path = url.removeprefix("sqlite://").split("?")[0]
        with sqlite3.connect(path) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            empty, orphan = db.execute(orphans_sql).fetchone()
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
        f"0 half-written, integrity_check {integrity}"
    )


if __name__ == "__main__":
    on_each_backend(check)
