"""What the reliability scripts share: the release binary, servers started and stopped (or
killed), scratch PostgreSQL databases, and a small HTTP client. Standard library only."""

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "reliability-run-secret-0123456789abcdef"
PASSWORD = "correct horse battery"


@lru_cache(maxsize=1)
def binary():
    """The release binary, built when RAPPORT_BINARY does not name another one."""
    given = os.environ.get("RAPPORT_BINARY")
    if given:
        return given
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "release" / "rapport")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_admin_url():
    return os.environ.get("RAPPORT_TEST_DATABASE_URL")


def scratch_postgres_url(name):
    """A URL naming a database that does not exist yet (rapport creates it); drop it after."""
    admin = postgres_admin_url()
    if admin is None:
        sys.exit("set RAPPORT_TEST_DATABASE_URL to a PostgreSQL server's URL")
    return admin.rsplit("/", 1)[0] + "/" + name


def drop_postgres(name):
    subprocess.run(
        ["psql", postgres_admin_url(), "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def psql(url, sql):
    out = subprocess.run(["psql", url, "-Atc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Server:
    """One `rapport serve` process on a free port."""

    def __init__(self, database_url, **settings):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            RAPPORT_BIND=f"127.0.0.1:{self.port}",
            RAPPORT_DATABASE_URL=database_url,
            RAPPORT_JWT_SECRET=SECRET,
            RAPPORT_LOG_FILTER="warn",
            RAPPORT_REGISTRATIONS_PER_IP="1000000",
        )
        for key, value in settings.items():
            env[f"RAPPORT_{key.upper()}"] = str(value)
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([binary()], env=env, stdout=self.log, stderr=self.log)

    def wait_ready(self, timeout=30.0):
        """Polls /readyz until it answers 200; the process must not exit meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"exited with {self.process.returncode} before it was ready")
            try:
                if request(self.base, "GET", "/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        self.fail("not ready in time")

    def fail(self, why):
        self.log.seek(0)
        sys.stderr.write(self.log.read().decode(errors="replace")[-4000:])
        if self.process.poll() is None:
            self.kill9()
        raise SystemExit(f"rapport on port {self.port} {why}")

    def rss_kb(self):
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def kill9(self):
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def request(base, method, path, token=None, body=None, headers=None, raw=None, timeout=30):
    """One HTTP request on a fresh connection: (status, headers, parsed JSON or bytes)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    sent = dict(headers or {})
    payload = raw
    if body is not None:
        payload = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    if token:
        sent["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        parsed = json.loads(data) if "json" in kind and data else data
        return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed
    finally:
        conn.close()


def new_user(base):
    """Registers a user with a unique email and returns an access token."""
    email = f"user-{uuid.uuid4().hex}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": "Reliability"}
    status, _, answer = request(base, "POST", "/v1/auth/register", body=body)
    if status != 201:
        raise SystemExit(f"registering a user answered {status}: {answer}")
    status, _, tokens = request(base, "POST", "/v1/auth/token", body={"email": email, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"logging in answered {status}: {tokens}")
    return tokens["access_token"]


def create(base, token, path, body, headers=None):
    status, _, answer = request(base, "POST", path, token, body, headers)
    if status != 201:
        raise SystemExit(f"POST {path} answered {status}: {answer}")
    return answer


def all_ids(base, token, path):
    """Every id of a paginated list."""
    ids, cursor = [], None
    while True:
        query = path + ("&" if "?" in path else "?") + "limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, _, page = request(base, "GET", query, token)
        if status != 200:
            raise SystemExit(f"GET {query} answered {status}: {page}")
        ids.extend(item["id"] for item in page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def backends(tmp):
    """(name, database URL, cleanup) for SQLite and, when configured, PostgreSQL."""
    yield "sqlite", f"sqlite://{tmp}/rapport.db?mode=rwc", lambda: None
    if postgres_admin_url():
        name = f"rapport_check_{uuid.uuid4().hex[:12]}"
        yield "postgres", scratch_postgres_url(name), lambda: drop_postgres(name)


def on_each_backend(check):
    """Runs `check(backend, database_url)` on SQLite and, when configured, on PostgreSQL,
    dropping each scratch database afterwards."""
    if not postgres_admin_url():
        script = Path(sys.argv[0]).stem
        print(f"SKIPPED {script} on postgres: RAPPORT_TEST_DATABASE_URL is not set")
    with tempfile.TemporaryDirectory() as tmp:
        for backend, url, cleanup in backends(tmp):
            try:
                check(backend, url)
            finally:
                cleanup()
