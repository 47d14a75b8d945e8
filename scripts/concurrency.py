#!/usr/bin/env python3
"""Concurrency: conditional writes, idempotent retries and parallel writers.

1. 50 parallel PATCHes of one contact, all with the same If-Match: exactly one 200, the
   other 49 are 412, and the contact ends as the winner wrote it.
2. 20 parallel POSTs with one Idempotency-Key: one row, and 20 identical answers (status
   and body).
3. 8 writers x 500 contact inserts: no 5xx and exactly 4,000 rows.
4. A login flood, with the per-address limit raised out of the way: 150 simultaneous wrong
   passwords for one account, then 150 for 150 accounts. For one account exactly 5 are checked
   (401) and the rest refused unchecked (429); across accounts every password is checked (401)
   or, past the wait for a free core, refused with 503 `busy`. Nothing else, and the server's
   peak RSS stays under 80 MB.
SQLite always; PostgreSQL too when RAPPORT_TEST_DATABASE_URL names a server.
"""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from harness import PASSWORD, Server, all_ids, create, new_user, on_each_backend, request


def parallel(n, call):
    start = threading.Barrier(n)

    def run(i):
        start.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def check(backend, url):
    server = Server(url).wait_ready()
    base = server.base
    token = new_user(base)
    requests_made = 0

    contact = create(base, token, "/v1/contacts", {"full_name": "Contended"})
    status, headers, _ = request(base, "GET", f"/v1/contacts/{contact['id']}", token)
    etag = headers["etag"]
    answers = parallel(
        50,
        lambda i: request(
            base, "PATCH", f"/v1/contacts/{contact['id']}", token, {"title": f"Writer {i}"}, {"If-Match": etag}
        ),
    )
    requests_made += 51
    statuses = sorted(a[0] for a in answers)
    if statuses != [200] + [412] * 49:
        raise SystemExit(f"{backend}: 50 PATCHes with one If-Match answered {statuses}")
    winner = next(a[2] for a in answers if a[0] == 200)
    _, _, final = request(base, "GET", f"/v1/contacts/{contact['id']}", token)
    requests_made += 1
    if final["title"] != winner["title"] or final["updated_at"] != winner["updated_at"]:
        raise SystemExit(f"{backend}: final state {final['title']} is not the winner's {winner['title']}")

    key = {"Idempotency-Key": "one-key-for-twenty"}
    answers = parallel(20, lambda i: request(base, "POST", "/v1/contacts", token, {"full_name": "Once"}, key))
    requests_made += 20
    distinct = {(a[0], str(a[2])) for a in answers}
    rows = [c for c in all_ids(base, token, "/v1/contacts?q=once")]
    if len(distinct) != 1 or answers[0][0] != 201 or len(rows) != 1:
        raise SystemExit(f"{backend}: one key gave {len(distinct)} distinct answers and {len(rows)} rows")

    before = len(all_ids(base, token, "/v1/contacts"))

    def writer(w):
        failures = []
        for i in range(500):
            status, _, answer = request(base, "POST", "/v1/contacts", token, {"full_name": f"W{w} #{i}"})
            if status != 201:
                failures.append((status, answer))
        return failures

    failures = [f for fs in parallel(8, writer) for f in fs]
    requests_made += 4000
    after = len(all_ids(base, token, "/v1/contacts"))
    server.stop()
    if failures or after - before != 4000:
        raise SystemExit(f"{backend}: {len(failures)} failed inserts {failures[:3]}, {after - before} rows added")
    flood = login_flood(url)
    print(
        f"concurrency on {backend}: 50 PATCHes with one If-Match -> 1 x 200 + 49 x 412, winner kept; "
        f"20 POSTs with one key -> 1 row, 20 identical 201s; 8 x 500 inserts -> 0 errors, 4000 rows "
        f"({requests_made} requests); {flood}"
    )


def login_flood(url):
    """Section 4: returns its summary line."""
    server = Server(url, registrations_per_ip=1000, login_failures_per_ip=1000).wait_ready()
    base = server.base
    emails = [f"flood-{i}-{uuid.uuid4().hex[:8]}@example.com" for i in range(151)]
    for email in emails:
        body = {"email": email, "password": PASSWORD, "display_name": "Flood"}
        if request(base, "POST", "/v1/auth/register", body=body)[0] != 201:
            server.fail("could not register the flood's accounts")
    peak = [server.rss_kb()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_kb())
            done.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    wrong = lambda email: {"email": email, "password": "wrong password!"}  # noqa: E731
    one = parallel(150, lambda i: request(base, "POST", "/v1/auth/token", body=wrong(emails[0]))[0])
    many = parallel(150, lambda i: request(base, "POST", "/v1/auth/token", body=wrong(emails[i + 1]))[0])
    done.set()
    sampler.join()
    server.stop()
    counts = lambda statuses: {s: statuses.count(s) for s in sorted(set(statuses))}  # noqa: E731
    if sorted(set(one)) != [401, 429] or one.count(401) != 5:
        raise SystemExit(f"150 wrong logins for one account answered {counts(one)}: want 5 x 401, the rest 429")
    if set(many) - {401, 503} or many.count(401) < 20:
        raise SystemExit(f"150 wrong logins across accounts answered {counts(many)}: want 401, or 503 when busy")
    peak_mb = peak[0] / 1024
    if peak_mb >= 80:
        raise SystemExit(f"a login flood took the server's RSS to {peak_mb:.1f} MB (target < 80 MB)")
    return (
        f"login flood: one account {counts(one)}, 150 accounts {counts(many)}, "
        f"peak RSS {peak_mb:.1f} MB"
    )


if __name__ == "__main__":
    on_each_backend(check)
