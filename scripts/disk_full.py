#!/usr/bin/env python3
"""SQLite on a full disk: no write is acknowledged without its row, and writing resumes once
space is freed.

The database lives on a 16 MiB ext4 image mounted through a loop device. Contacts with ~19 KB
notes are created until the filesystem is full; then every answer must be 201 with a row that
reads back, or 507 `storage_full`, never 201 without the row and never 500; `/readyz` must
answer 503 while writes fail. A filler file is then deleted: the next write must succeed, be
readable, and still be there after a restart, and `PRAGMA integrity_check` must say `ok`.

Needs root and a loop device (`mount -o loop`); where the machine allows neither, it says so
and exits 0, and the suite's `storage_full` tests (SQLite's `max_page_count`, the same
SQLITE_FULL) still run.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from harness import Server, new_user, request

NOTES = "n" * 19_000
WRITES_AFTER_FULL = 30


def mkfs_available():
    """mkfs.ext4, installed from Debian's e2fsprogs when missing."""
    if shutil.which("mkfs.ext4") is None and shutil.which("apt-get") is not None:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "e2fsprogs"], env=env, capture_output=True)
    return shutil.which("mkfs.ext4") is not None


def mount(image, mountpoint):
    subprocess.run(["truncate", "-s", "16M", image], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True, capture_output=True)
    try:
        done = subprocess.run(["mount", "-o", "loop", image, mountpoint], capture_output=True, text=True)
    except FileNotFoundError:
        return False, "no mount command"
    return done.returncode == 0, done.stderr.strip()


def post(server, token, i):
    body = {"full_name": f"Contact {i}", "notes": NOTES}
    return request(server.base, "POST", "/v1/contacts", token, body, timeout=30)


def readable(server, token, contact_id):
    return request(server.base, "GET", f"/v1/contacts/{contact_id}", token)[0] == 200


def main():
    if os.geteuid() != 0:
        print("SKIPPED disk full: needs root for a loop mount")
        return
    if not mkfs_available():
        print("SKIPPED disk full: mkfs.ext4 is not installed and could not be")
        return
    with tempfile.TemporaryDirectory() as tmp:
        image, mountpoint = os.path.join(tmp, "disk.img"), os.path.join(tmp, "disk")
        os.mkdir(mountpoint)
        mounted, why = mount(image, mountpoint)
        if not mounted:
            print(f"SKIPPED disk full: no loop mount here ({why})")
            return
        try:
            run(mountpoint)
        finally:
            subprocess.run(["umount", mountpoint], check=False)


def run(mountpoint):
    path = os.path.join(mountpoint, "rapport.db")
    url = f"sqlite://{path}?mode=rwc"
    server = Server(url).wait_ready()
    token = new_user(server.base)
    # Space to free later: a file that takes half of the filesystem, enough for the write
    # after it and for the checkpoint that folds the WAL into the database file at shutdown.
    # (With the disk still full, SQLite cannot even open a WAL database again: the sqlite3
    # shell dies with SIGBUS mapping the -shm file, and so would the server.)
    filler = os.path.join(mountpoint, "filler")
    with open(filler, "wb") as f:
        f.write(os.urandom(8 * 1024 * 1024))

    acknowledged, full, i = [], 0, 0
    while full == 0 and i < 2000:
        status, _, answer = post(server, token, i)
        i += 1
        if status == 201:
            acknowledged.append(answer["id"])
        elif status == 507 and answer.get("code") == "storage_full":
            full += 1
        else:
            server.fail(f"answered {status} {answer} while the disk was filling")
    if not full:
        server.fail("never answered 507 storage_full: the disk did not fill")
    ready_while_full = request(server.base, "GET", "/readyz")[0]

    # Keep writing on the full disk: each answer is 507, or a 201 whose row reads back.
    refused = 0
    for _ in range(WRITES_AFTER_FULL):
        status, _, answer = post(server, token, i)
        i += 1
        if status == 201:
            if not readable(server, token, answer["id"]):
                server.fail(f"acknowledged contact {answer['id']} is not there")
            acknowledged.append(answer["id"])
        elif status == 507 and answer.get("code") == "storage_full":
            refused += 1
        else:
            server.fail(f"answered {status} {answer} on a full disk")
    if ready_while_full != 503:
        server.fail(f"/readyz answered {ready_while_full} while writes failed for lack of space")

    os.remove(filler)
    status, _, answer = post(server, token, i)
    if status != 201 or not readable(server, token, answer["id"]):
        server.fail(f"after space was freed the write answered {status} {answer}")
    acknowledged.append(answer["id"])
    ready_after = request(server.base, "GET", "/readyz")[0]
    if ready_after != 200:
        server.fail(f"/readyz answered {ready_after} after space was freed")
    server.stop()

    server = Server(url).wait_ready()
    missing = [c for c in acknowledged if not readable(server, token, c)]
    server.stop()
    if missing:
        raise SystemExit(f"disk full: {len(missing)} of {len(acknowledged)} acknowledged contacts lost after a restart")
    db = sqlite3.connect(path)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    if integrity != "ok":
        raise SystemExit(f"disk full: integrity_check says {integrity}")
    print(
        f"disk full on SQLite (16 MiB ext4 loop mount): {len(acknowledged)} acknowledged writes all "
        f"found after a restart; {full + refused} refused with 507 storage_full; /readyz 503 while "
        f"full and 200 after space was freed; integrity_check {integrity}"
    )


if __name__ == "__main__":
    sys.exit(main())
