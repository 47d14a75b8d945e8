#!/usr/bin/env python3
"""How read latency grows with the size of one user's network.

For each size N (default 1,000, 10,000 and 100,000 contacts), seeds a fresh database with one
user (`rapport seed-bench --users 1 --contacts N`: 5 conversations, 2 offers and 1 ask per
contact), starts the release server on it, and measures each read with wrk over one keep-alive
connection for a few seconds after a one-second warm-up at 8 connections: sequential requests,
p50 and p99. Prints a Markdown table with the seeding time and the growth from the smallest to
the largest size, then the throughput of follow-ups and suggestions at 8 connections
(`THROUGHPUT_CONNECTIONS`) for each size. `scripts/bench.sh` runs it on both backends and
writes its tables into BENCHMARKS.md with the rest of the run.

    python3 scripts/network_bench.py                     # SQLite
    RAPPORT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        python3 scripts/network_bench.py --postgres      # PostgreSQL
    python3 scripts/network_bench.py --sizes 1000,20000  # other sizes
"""

import datetime
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import wrk
from harness import Server, binary, drop_postgres, request, scratch_postgres_url

DURATION = 3
WARM_UP = 1
THROUGHPUT_CONNECTIONS = 8
THROUGHPUT = ["GET /v1/follow-ups?limit=25", "GET /v1/suggestions?limit=10"]
SIZES = [1000, 10000, 100000]
if "--sizes" in sys.argv:
    SIZES = [int(n) for n in sys.argv[sys.argv.index("--sizes") + 1].split(",")]


def seed(url, contacts):
    env = dict(os.environ, RAPPORT_DATABASE_URL=url, RAPPORT_LOG_FILTER="warn")
    started = time.monotonic()
    subprocess.run([binary(), "seed-bench", "--users", "1", "--contacts", str(contacts)], env=env,
                   capture_output=True, text=True, check=True)
    return time.monotonic() - started


def two_years_to(today):
    """The query of the longest range `/v1/stats` allows, by week: the two years ending `today`."""
    try:
        start = today.replace(year=today.year - 2)
    except ValueError:  # 29 February: two years back from 1 March is within the bound
        start = datetime.date(today.year - 2, 3, 1)
    return f"from={start.isoformat()}&to={today.isoformat()}&granularity=week"


def reads(base, token):
    page = request(base, "GET", "/v1/contacts?limit=1", token)[2]
    contact = page["data"][0]["id"]
    two_years = two_years_to(datetime.date.today())
    return [
        ("GET /v1/follow-ups?limit=25", "/v1/follow-ups?limit=25"),
        ("GET /v1/suggestions?limit=10", "/v1/suggestions?limit=10"),
        ("GET /v1/stats", "/v1/stats"),
        ("GET /v1/stats (two years by week)", f"/v1/stats?{two_years}"),
        ("GET /v1/goals", "/v1/goals"),
        ("GET /v1/contacts?limit=50&sort=-last_conversation_at", "/v1/contacts?limit=50&sort=-last_conversation_at"),
        ("GET /v1/contacts?limit=50&sort=next_check_in_on", "/v1/contacts?limit=50&sort=next_check_in_on"),
        ("GET /v1/contacts?health=due&limit=50", "/v1/contacts?health=due&limit=50"),
        # A health sorted against the dates it follows: its contacts lie at the far end of the
        # sort's index, read cadence by cadence.
        ("GET /v1/contacts?health=due&limit=50&sort=-last_conversation_at",
         "/v1/contacts?health=due&limit=50&sort=-last_conversation_at"),
        ("GET /v1/contacts?health=cold&limit=50&sort=-next_check_in_on",
         "/v1/contacts?health=cold&limit=50&sort=-next_check_in_on"),
        ("GET /v1/contacts?reciprocity=taking&limit=50", "/v1/contacts?reciprocity=taking&limit=50"),
        ("GET /v1/contacts?one_off=true&limit=50", "/v1/contacts?one_off=true&limit=50"),
        ("GET /v1/contacts/{id}", f"/v1/contacts/{contact}"),
        ("GET /v1/contacts/{id}/timeline", f"/v1/contacts/{contact}/timeline"),
        ("GET /v1/contacts?limit=50 (stored sort)", "/v1/contacts?limit=50"),
        ("GET /v1/tags", "/v1/tags"),
    ]


def measure(contacts, postgres):
    name = f"rapport_network_{uuid.uuid4().hex[:12]}"
    directory = tempfile.TemporaryDirectory()
    url = scratch_postgres_url(name) if postgres else f"sqlite://{Path(directory.name) / 'network.db'}?mode=rwc"
    try:
        seconds = seed(url, contacts)
        server = Server(url).wait_ready()
        try:
            status, _, tokens = request(server.base, "POST", "/v1/auth/token", None,
                                        {"email": "bench-000@rapport.example", "password": "rapport-bench-2026"})
            assert status == 200, tokens
            token = tokens["access_token"]
            results, rates = {}, {}
            auth = [f"Authorization: Bearer {token}"]
            for label, path in reads(server.base, token):
                # Discarded: the first requests of a read may wait for the pool to open a
                # connection, which a running server has long done.
                wrk(server.base + path, THROUGHPUT_CONNECTIONS, auth, duration=WARM_UP)
                result = wrk(server.base + path, 1, auth, duration=DURATION)
                results[label] = (result["p50_us"] / 1000, result["p99_us"] / 1000)
                if label in THROUGHPUT:
                    rates[label] = wrk(server.base + path, THROUGHPUT_CONNECTIONS, auth, duration=DURATION)["rps"]
            return seconds, results, rates
        finally:
            server.stop()
    finally:
        if postgres:
            drop_postgres(name)
        directory.cleanup()


def run(postgres, sizes=None):
    """Measures every size on one backend: a JSON-ready record for `tables`."""
    sizes = sizes or SIZES
    measured = {}
    for n in sizes:
        seconds, results, rates = measure(n, postgres)
        measured[str(n)] = {"seed_seconds": seconds, "reads": results, "rates": rates}
    return {"backend": "PostgreSQL" if postgres else "SQLite", "sizes": sizes, "measured": measured}


def tables(run):
    """The run's two Markdown tables: latency by size with the growth, throughput by size."""
    sizes, m = run["sizes"], run["measured"]
    first, last = m[str(sizes[0])], m[str(sizes[-1])]
    header = " | ".join(f"{n:,} contacts p50 (p99)" for n in sizes)
    lines = [
        f"{run['backend']}, one user, sequential requests on one keep-alive connection, {DURATION} s each",
        "",
        f"| endpoint | {header} | growth |",
        "|---|" + "---|" * len(sizes) + "---|",
    ]
    for label in first["reads"]:
        cells = [f"{m[str(n)]['reads'][label][0]:.2f} ms ({m[str(n)]['reads'][label][1]:.1f})" for n in sizes]
        growth = last["reads"][label][0] / max(first["reads"][label][0], 0.001)
        lines.append(f"| `{label}` | " + " | ".join(cells) + f" | {growth:.1f}x |")
    lines.append("| seeding (`seed-bench`) | " + " | ".join(f"{m[str(n)]['seed_seconds']:.1f} s" for n in sizes) + " | |")
    lines += [
        "",
        f"Throughput at {THROUGHPUT_CONNECTIONS} connections, {DURATION} s each",
        "",
        "| endpoint | " + " | ".join(f"{n:,} contacts" for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for label in THROUGHPUT:
        lines.append(f"| `{label}` | " + " | ".join(f"{m[str(n)]['rates'][label]:,.0f} req/s" for n in sizes) + " |")
    return "\n".join(lines)


def main():
    print("\n" + tables(run("--postgres" in sys.argv)))


if __name__ == "__main__":
    main()
