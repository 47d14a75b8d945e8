#!/usr/bin/env python3
"""Benchmarks with their ceilings, measured in the same run on the same machine.

Seeds a database with `rapport seed-bench`, starts the release server on it, and loads each
scenario with wrk at 1, 8 and 32 connections. In the same run it measures the framework
ceiling (a bare actix-web server answering a static JSON object, examples/framework_ceiling.rs)
and the storage ceiling (point selects and insert transactions straight through rapport's
pools, examples/storage_ceiling.rs), and reports each scenario's requests/s next to them, with
p50, p99, the server's idle and peak RSS, start-up time and the binary's size. Writes
BENCHMARKS.md (or target/bench/BENCHMARKS.quick.md with --quick) and raw JSON to target/bench/.
The full run ends with the network-size tables of scripts/network_bench.py on each backend.

    scripts/bench.sh            # full: 100 users x 1,000 contacts, 5 s per run, SQLite then PostgreSQL
    scripts/bench.sh --quick    # smoke: a small seed, 1 s per run, SQLite only, under a minute
    python3 scripts/bench.py --render   # rewrite BENCHMARKS.md from target/bench/results.json
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness import ROOT, Server, binary, drop_postgres, free_port, postgres_admin_url, request, scratch_postgres_url

QUICK = "--quick" in sys.argv
DURATION = 1 if QUICK else 5
WARM_UP = 1  # seconds before each full run, not measured
CONNECTIONS = [1, 8] if QUICK else [1, 8, 32]
SEED = ["--users", "2", "--contacts", "200"] if QUICK else ["--users", "100", "--contacts", "1000"]
OUT = ROOT / "target" / "bench"
EXAMPLES = ROOT / "target" / "release" / "examples"
LUA = ROOT / "scripts" / "bench.lua"
BEGIN = "<!-- bench.py: measured results begin -->"
END = "<!-- bench.py: measured results end -->"


def wrk_once(url, connections, headers, body, duration):
    """`body`: None, a JSON body to POST, or (method, body, alternate body)."""
    method, alt = "POST", None
    if isinstance(body, tuple):
        method, body, alt = body
    env = dict(os.environ, BENCH_BODY=json.dumps(body) if body is not None else "", BENCH_METHOD=method,
               BENCH_BODY_ALT=json.dumps(alt) if alt is not None else "")
    command = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{duration or DURATION}s", "--timeout", "10s", "--latency", "-s", str(LUA)]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run(command + [url], env=env, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def socket_errors(result):
    kinds = ("connect", "read", "write", "timeout")
    return ", ".join(f"{result[k]} {k}" for k in kinds if result[k]) or "none"


def wrk(url, connections, headers=(), body=None, duration=None):
    """One wrk run. Any answer outside 2xx fails the benchmark. A run with socket errors is
    measured again once, and the repeat must be clean: wrk over loopback sees the odd reset
    connection in a run of 10^5 requests even against the bare framework (the failing run's
    errors are kept in the result as `repeated_after`), while a server that keeps dropping
    connections fails both runs."""
    result = wrk_once(url, connections, headers, body, duration)
    if result["non_2xx"]:
        raise SystemExit(f"{url}: {result['non_2xx']} non-2xx, socket errors: {socket_errors(result)}")
    if result["socket_errors"]:
        first = result
        print(f"{url} at {connections} connections: socket errors ({socket_errors(first)}) in {first['requests']} requests; measuring again", file=sys.stderr)
        result = wrk_once(url, connections, headers, body, duration)
        if result["non_2xx"] or result["socket_errors"]:
            raise SystemExit(f"{url}: {result['non_2xx']} non-2xx, socket errors: {socket_errors(result)} (after {socket_errors(first)} in the run before)")
        result["repeated_after"] = {k: first[k] for k in ("requests", "connect", "read", "write", "timeout")}
    return result


def seed(url):
    env = dict(os.environ, RAPPORT_DATABASE_URL=url, RAPPORT_LOG_FILTER="warn")
    started = time.monotonic()
    out = subprocess.run([binary(), "seed-bench", *SEED], env=env, capture_output=True, text=True, check=True)
    # The summary line, not a log line the run may print before it (a slow index build is
    # logged at WARN on a slow machine).
    summary = [line for line in out.stdout.splitlines() if line.startswith("seeded ")]
    if not summary:
        sys.exit(f"bench: seed-bench printed no summary line:\n{out.stdout}")
    return time.monotonic() - started, summary[0]


def startup_ms(url):
    """Median time from spawning the server to its first /readyz 200, over five starts."""
    times = []
    for _ in range(5):
        server = Server(url)
        started = time.monotonic()
        while True:
            try:
                if request(server.base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.001)
        times.append((time.monotonic() - started) * 1000)
        server.stop()
    return statistics.median(times)


def framework_ceiling():
    port = free_port()
    process = subprocess.Popen([str(EXAMPLES / "framework_ceiling"), f"127.0.0.1:{port}"])
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(500):
            try:
                request(base, "GET", "/")
                break
            except OSError:
                time.sleep(0.01)
        return {c: wrk(f"{base}/", c) for c in CONNECTIONS}
    finally:
        process.terminate()
        process.wait()


def storage_ceiling(url):
    env = dict(os.environ, RAPPORT_DATABASE_URL=url, RAPPORT_LOG_FILTER="warn")
    out = subprocess.run(
        [str(EXAMPLES / "storage_ceiling"), str(DURATION), "8"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def scenarios(base, token, pat, writer):
    """The scenarios; `writer` is another bench user's token, so that the thousands of
    conversations the POST scenario creates never grow the data the reads measure."""
    jwt = f"Authorization: Bearer {token}"
    status, _, page = request(base, "GET", "/v1/contacts?limit=50", token)
    assert status == 200, page
    contact = page["data"][0]["id"]
    cursor = None
    for _ in range(3 if QUICK else 18):  # the page after 150 (quick) or 900 contacts
        status, _, page = request(base, "GET", "/v1/contacts?limit=50" + (f"&cursor={cursor}" if cursor else ""), token)
        cursor = page["next_cursor"]
    contacts = [c["id"] for c in request(base, "GET", "/v1/contacts?limit=3", writer)[2]["data"]]
    participants = contacts[:3]
    conversation = {"occurred_at": "2026-03-01T10:00:00Z", "channel": "coffee", "summary": "Bench", "participant_ids": participants}
    # A conversation of the writer's whose third participant each PATCH removes or adds back:
    # the update that moves the most ledger state (a participant's counts and dates). With the
    # POST scenario's participants, whose histories by then hold the thousands of
    # conversations it created: an update costs the same whatever the history.
    edited_with = participants
    status, _, edited = request(base, "POST", "/v1/conversations", writer, dict(conversation, participant_ids=edited_with))
    assert status == 201, edited
    fewer = {"participant_ids": edited_with[:2]}
    return [
        ("GET /v1/contacts/{id} (JWT)", f"/v1/contacts/{contact}", jwt, None),
        ("GET /v1/me (personal token)", "/v1/me", f"Authorization: Bearer {pat}", None),
        ("GET /v1/contacts?limit=50 (first page)", "/v1/contacts?limit=50", jwt, None),
        ("GET /v1/contacts?limit=50 (deep cursor)", f"/v1/contacts?limit=50&cursor={cursor}", jwt, None),
        ("GET /v1/contacts?q=grace", "/v1/contacts?q=grace", jwt, None),
        ("POST /v1/conversations", "/v1/conversations", f"Authorization: Bearer {writer}", conversation),
        ("PATCH /v1/conversations/{id} (a participant)", f"/v1/conversations/{edited['id']}",
         f"Authorization: Bearer {writer}", ("PATCH", fewer, {"participant_ids": edited_with})),
        ("GET /v1/follow-ups", "/v1/follow-ups", jwt, None),
        ("GET /v1/suggestions", "/v1/suggestions", jwt, None),
        ("GET /v1/stats", "/v1/stats", jwt, None),
    ]


def rss(pid, field):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_backend(name, url, frame):
    seconds, seeded = seed(url)
    start_ms = startup_ms(url)
    storage = storage_ceiling(url)
    server = Server(url).wait_ready()
    login = lambda i: request(  # noqa: E731
        server.base, "POST", "/v1/auth/token", body={"email": f"bench-{i:03}@rapport.example", "password": "rapport-bench-2026"}
    )[2]["access_token"]
    token, writer = login(0), login(1)
    pat = request(server.base, "POST", "/v1/tokens", token, {"name": "bench", "scopes": ["read"]})[2]["token"]
    idle = rss(server.process.pid, "VmRSS")
    rows = []
    for label, path, header, body in scenarios(server.base, token, pat, writer):
        for c in CONNECTIONS:
            if not QUICK:
                # Discarded: it warms the scenario up, and its first requests wait until the
                # server has finished those wrk abandoned at the end of the previous run (up
                # to 32 whole-network reads), which would otherwise land in this run's tail.
                wrk(server.base + path, c, [header], body, duration=WARM_UP)
            result = wrk(server.base + path, c, [header], body)
            result.update(scenario=label, connections=c)
            if body is not None:
                result["ceiling"] = storage["insert_transactions_per_s"]
                result["ceiling_name"] = "storage insert tx/s"
            else:
                result["ceiling"] = frame[c]["rps"]
                result["ceiling_name"] = "framework"
            rows.append(result)
            print(f"  {name:8} {label:42} c={c:<2} {result['rps']:9.0f} req/s  p50 {result['p50_us'] / 1000:7.2f} ms"
                  f"  p99 {result['p99_us'] / 1000:7.2f} ms  ({result['rps'] / result['ceiling']:.0%} of {result['ceiling_name']})")
    peak = rss(server.process.pid, "VmHWM")
    server.stop()
    return {
        "backend": name, "seed_seconds": seconds, "seeded": seeded, "startup_ms": start_ms,
        "idle_rss_mb": idle, "peak_rss_mb": peak, "storage": storage, "rows": rows,
    }


def table(result):
    lines = [
        f"Seeded in {result['seed_seconds']:.1f} s: {result['seeded']}. Start-up to the first `/readyz` 200: "
        f"{result['startup_ms']:.0f} ms (median of 5). Server RSS: {result['idle_rss_mb']:.1f} MB idle, "
        f"{result['peak_rss_mb']:.1f} MB peak. Storage ceiling (8 tasks): "
        f"{result['storage']['point_selects_per_s']:,.0f} point selects/s, "
        f"{result['storage']['insert_transactions_per_s']:,.0f} insert transactions/s; one task streams "
        f"{result['storage']['rows_streamed_per_s']:,.0f} rows/s out of a {result['storage']['scan_rows']:,}-row "
        "index scan (one user's participant rows).",
        "",
        "| Scenario | Conn. | Requests/s | p50 ms | p99 ms | Ceiling | Ratio |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['scenario']} | {r['connections']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} | "
            f"{r['p99_us'] / 1000:.2f} | {r['ceiling_name']} {r['ceiling']:,.0f}/s | {r['rps'] / r['ceiling']:.0%} |"
        )
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="ascii") as info:
        memory = int(info.readline().split()[1]) / 1024 / 1024
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(" Copyright")[0]
    return f"{os.cpu_count()} × {cpu}, {memory:.0f} GiB, {platform.platform()}; load generator {wrk_version.strip()} on the same cores"


def render(raw):
    """Writes the Markdown report of a run's raw results."""
    body = [
        "# Benchmarks" if not QUICK else "# Benchmarks (quick smoke run; not for comparison)",
        "",
        f"Machine: {raw['machine']}. Release binary: {raw['binary_mb']:.1f} MB. Each run lasts {DURATION} s.",
        "",
        "Framework ceiling (examples/framework_ceiling.rs, a static ~250-byte JSON object): "
        + ", ".join(
            f"{r['rps']:,.0f} req/s at {c} connection{'s' if int(c) > 1 else ''} "
            f"(p50 {r['p50_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms)"
            for c, r in raw["framework"].items()
        )
        + ". Its p99 is the latency the shared cores alone add: the load generator and the server "
        "take turns on them.",
    ]
    for result in raw["results"]:
        body += ["", f"## {result['backend']}", "", table(result)]
    if raw.get("network"):
        from network_bench import tables

        body += [
            "",
            "## Network size",
            "",
            "One user at each size (`scripts/network_bench.py`), in the same run: compare with the "
            "framework ceiling above.",
        ]
        for run in raw["network"]:
            body += ["", tables(run)]
    generated = "\n".join(body[1:]).strip() + "\n"
    if QUICK:
        target = OUT / "BENCHMARKS.quick.md"
        target.write_text(body[0] + "\n\n" + generated)
    else:
        # The measured part of BENCHMARKS.md sits between two markers; the text around it
        # (method, targets, what each optimisation bought) is kept as written.
        target = ROOT / "BENCHMARKS.md"
        text = target.read_text() if target.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        target.write_text(f"{head}{BEGIN}\n{generated}{END}{tail}")
    return target


def main():
    raw_path = OUT / ("results.quick.json" if QUICK else "results.json")
    if "--render" in sys.argv:
        # Rewrites the report from the last run's raw results, measuring nothing.
        target = render(json.loads(raw_path.read_text()))
        print(f"bench: wrote {target.relative_to(ROOT)} from {raw_path.relative_to(ROOT)}")
        return
    OUT.mkdir(parents=True, exist_ok=True)
    size_mb = Path(binary()).stat().st_size / 1e6
    frame = framework_ceiling()
    print("  framework ceiling: " + ", ".join(f"c={c} {r['rps']:,.0f} req/s" for c, r in frame.items()))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run_backend("sqlite", f"sqlite://{tmp}/bench.db?mode=rwc", frame))
    if postgres_admin_url() and not QUICK:
        name = f"rapport_bench_{uuid.uuid4().hex[:12]}"
        try:
            results.append(run_backend("postgres", scratch_postgres_url(name), frame))
        finally:
            drop_postgres(name)
    network = []
    if not QUICK:
        # The growth of each read with one user's network, on each backend measured above.
        from network_bench import run

        network.append(run(postgres=False))
        if postgres_admin_url():
            network.append(run(postgres=True))
    raw = {"machine": machine(), "binary_mb": size_mb, "framework": frame, "results": results, "network": network}
    raw_path.write_text(json.dumps(raw, indent=2))
    target = render(raw)
    print(f"bench: wrote {target.relative_to(ROOT)} and raw results in target/bench/")


if __name__ == "__main__":
    main()
