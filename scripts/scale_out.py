#!/usr/bin/env python3
"""Scale-out on PostgreSQL: two stateless instances behind one database.

Two `rapport serve` processes start at the same moment on a database that does not exist
yet; both must come up (database creation and migrations are serialised, not raced). Then a
token issued by one works on the other, an Idempotency-Key used on one replays on the other,
and a write on one is read on the other. Needs RAPPORT_TEST_DATABASE_URL (any database on the
server; a scratch one is created and dropped); without it the script says so and exits 0.
"""

import uuid
from pathlib import Path

from harness import Server, create, drop_postgres, new_user, postgres_admin_url, psql, request, scratch_postgres_url


# The migrations the schema has: one file each in migration/src.
MIGRATIONS = len(list((Path(__file__).resolve().parent.parent / "migration" / "src").glob("m*.rs")))


def fail(why):
    raise SystemExit(f"scale-out: {why}")


def expect(holds, what, *seen):
    if not holds:
        fail(f"{what}: got {seen}")


def main():
    if not postgres_admin_url():
        print("SKIPPED scale-out: RAPPORT_TEST_DATABASE_URL is not set (PostgreSQL only)")
        return
    name = f"rapport_scale_{uuid.uuid4().hex[:12]}"
    url = scratch_postgres_url(name)
    try:
        a, b = Server(url), Server(url)
        a.wait_ready()
        b.wait_ready()
        applied = int(psql(url, "SELECT COUNT(*) FROM seaql_migrations"))
        if applied != MIGRATIONS:
            fail(f"{applied} migrations recorded, {MIGRATIONS} exist: applied twice or not at all")
        token = new_user(a.base)
        status, _, me = request(b.base, "GET", "/v1/me", token)
        expect(status == 200, "a token from A on B", status, me)

        key = {"Idempotency-Key": f"scale-{uuid.uuid4()}"}
        first = create(a.base, token, "/v1/contacts", {"full_name": "Shared"}, key)
        status, headers, again = request(b.base, "POST", "/v1/contacts", token, {"full_name": "Shared"}, key)
        expect(status == 201 and headers.get("idempotent-replayed") == "true", "B replays A's key", status, headers)
        expect(again == first, "B replays A's response", again, first)

        status, _, read = request(b.base, "GET", f"/v1/contacts/{first['id']}", token)
        expect(status == 200 and read["full_name"] == "Shared", "A's write read on B", status, read)
        status, _, patched = request(b.base, "PATCH", f"/v1/contacts/{first['id']}", token, {"title": "CTO"})
        expect(status == 200, "a PATCH on B", status, patched)
        status, _, seen = request(a.base, "GET", f"/v1/contacts/{first['id']}", token)
        expect(status == 200 and seen["title"] == "CTO", "B's write read on A", status, seen)
        a.stop()
        b.stop()
        print(
            f"scale-out on postgres: 2 instances started together on a new database "
            f"({applied} migrations applied once); a token, an idempotent replay and writes "
            f"crossed between them (7 requests checked)"
        )
    finally:
        drop_postgres(name)


if __name__ == "__main__":
    main()
