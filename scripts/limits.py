#!/usr/bin/env python3
"""Limits: oversized, deep and huge inputs are refused quickly and leave the server standing.

- a body over max_body_bytes is 413, whether Content-Length announces it or not (chunked);
- a request head over max_header_bytes (16 KiB by default), or with more than 64 header
  fields, is 431 with the problem `headers_too_large`;
- limit=101 is 400;
- 10,000 participant_ids is 413 or 422, answered in well under a second;
- JSON nested 100,000 deep, and a body of 25,000 keys just under the limit, are refused with a
  4xx and the server still answers /healthz; its resident memory is measured before and after
  and may not grow by more than 32 MB.
SQLite (the limits do not depend on the backend).
"""

import http.client
import json
import tempfile
import time
import uuid

from harness import Server, create, new_user, request

MAX_BODY = 512 * 1024


def chunked_post(base, path, token, payload):
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for start in range(0, len(payload), 16384):
            piece = payload[start : start + 16384]
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer and close before reading everything: read its answer
    try:
        return conn.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        return f"no answer ({type(error).__name__})"  # a dropped connection is not a 413
    finally:
        conn.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(f"sqlite://{tmp}/rapport.db?mode=rwc", max_body_bytes=MAX_BODY).wait_ready()
        base = server.base
        token = new_user(base)
        contact = create(base, token, "/v1/contacts", {"full_name": "Ada"})["id"]
        checks = []
        rss_before = server.rss_kb()

        big = json.dumps({"full_name": "x" * (MAX_BODY + 10)}).encode()
        status = request(base, "POST", "/v1/contacts", token, raw=big, headers={"Content-Type": "application/json"})[0]
        checks.append(("body over max_body_bytes (Content-Length)", status, {413}))
        checks.append(("body over max_body_bytes (chunked)", chunked_post(base, "/v1/contacts", token, big), {413}))
        key = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        status = request(base, "POST", "/v1/contacts", token, raw=big, headers=key)[0]
        checks.append(("body over max_body_bytes with an Idempotency-Key", status, {413}))

        def head_refusal(headers):
            status, _, answer = request(base, "GET", "/v1/me", token, headers=headers)
            code = answer.get("code") if isinstance(answer, dict) else repr(answer)
            return f"{status} {code}"

        expected = {"431 headers_too_large"}
        checks.append(("a 20 KB header", head_refusal({"X-Pad": "p" * 20_000}), expected))
        checks.append(("70 header fields", head_refusal({f"X-F{i}": "v" for i in range(70)}), expected))

        checks.append(("limit=101", request(base, "GET", "/v1/contacts?limit=101", token)[0], {400}))

        ids = [str(uuid.uuid4()) for _ in range(10_000)]
        body = {"occurred_at": "2026-03-01T10:00:00Z", "channel": "call", "summary": "Crowd", "participant_ids": ids}
        started = time.monotonic()
        status = request(base, "POST", "/v1/conversations", token, body)[0]
        elapsed = time.monotonic() - started
        checks.append((f"10,000 participant_ids ({elapsed * 1000:.0f} ms)", status, {413, 422}))
        if elapsed > 1.0:
            raise SystemExit(f"10,000 participant_ids took {elapsed:.2f} s")
        body["participant_ids"] = ids[:51]
        checks.append(("51 participant_ids", request(base, "POST", "/v1/conversations", token, body)[0], {422}))

        deep = b"[" * 100_000 + b"]" * 100_000
        status = request(base, "PATCH", f"/v1/contacts/{contact}", token, raw=deep, headers={"Content-Type": "application/json"})[0]
        checks.append(("JSON nested 100,000 deep", status, {400, 413}))
        many = json.dumps({f"k{i}": i for i in range(25_000)}).encode()
        if len(many) >= MAX_BODY:
            raise SystemExit(f"the 25,000-key body is {len(many)} bytes, not under {MAX_BODY}")
        status = request(base, "PATCH", f"/v1/contacts/{contact}", token, raw=many, headers={"Content-Type": "application/json"})[0]
        checks.append((f"{len(many):,}-byte object of 25,000 unknown keys", status, {422}))
        for _ in range(50):
            request(base, "PATCH", f"/v1/contacts/{contact}", token, raw=many, headers={"Content-Type": "application/json"})
        checks.append(("server alive afterwards (/healthz)", request(base, "GET", "/healthz")[0], {200}))
        rss_after = server.rss_kb()
        server.stop()

        failed = [c for c in checks if c[1] not in c[2]]
        for name, status, expected in checks:
            print(f"  {'ok ' if status in expected else 'BAD'} {name}: {status} (expected {sorted(expected)})")
        growth_mb = (rss_after - rss_before) / 1024
        print(
            f"limits: {len(checks)} checks, {len(checks) + 50} requests; RSS {rss_before / 1024:.1f} MB "
            f"before, {rss_after / 1024:.1f} MB after (+{growth_mb:.1f} MB)"
        )
        if failed:
            raise SystemExit(f"{len(failed)} limit checks failed")
        if growth_mb > 32:
            raise SystemExit(f"resident memory grew by {growth_mb:.1f} MB")


if __name__ == "__main__":
    main()
