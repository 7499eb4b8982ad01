#!/usr/bin/env python3
"""tests/chaos/lost_commit.py — one submit whose COMMIT reaches PostgreSQL but whose answer never comes back.

The chaos harness (chaos.py) met this once in a 1,000-job run with PostgreSQL restarts: a job that a
client had been promised (202) ended `failed` with `input_missing`. This reproduces the window on
purpose, deterministically: `quire serve` talks to PostgreSQL through a TCP proxy that, once armed,
forwards the COMMIT of a job insert and then cuts the connection before the server's answer is
relayed. The job row is committed; the service sees a broken connection (database_unavailable).
The client retries with the same Idempotency-Key, as it must, and gets the committed job back as a
replay. That job must still succeed: its input.pdf must not have been deleted by the failed try.

Then the same for a submit without a key, which the batcher commits as one autocommit INSERT (no
COMMIT statement): the proxy cuts after forwarding that INSERT. The client gets an error and has
no job id, but the row exists, so the job must run and succeed all the same.

  tests/chaos/lost_commit.py [--bin build/app/quire]     # exit 0: the job succeeded

PostgreSQL as in chaos.py (QUIRE_TEST_PG_DIR + QUIRE_TEST_DATABASE_URL, or its own).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgctl import Postgres  # noqa: E402
from service import Service, free_port, multipart, request  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class CommitCutter:
    """A TCP proxy to PostgreSQL. Armed, it cuts the first connection that sends COMMIT after a job
    insert (prepared statement insert_job/insert_jobs), right after forwarding that COMMIT; with
    autocommit set, the first that sends the batch INSERT (insert_jobs), right after forwarding it."""

    def __init__(self, target_port):
        self.target = target_port
        self.autocommit = False
        self.port = free_port()
        self.armed = threading.Event()
        self.cut = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            c, _ = self.sock.accept()
            s = socket.create_connection(("127.0.0.1", self.target))
            muted = threading.Event()  # set: nothing more goes back to the service on this connection
            threading.Thread(target=self._up, args=(c, s, muted), daemon=True).start()
            threading.Thread(target=self._down, args=(s, c, muted), daemon=True).start()

    def _up(self, c, s, muted):
        saw_insert = False
        try:
            while data := c.recv(65536):
                saw_insert = saw_insert or b"insert_job" in data
                commit = b"COMMIT" in data
                # Autocommit: the Bind/Execute of insert_jobs (its Parse, which carries the SQL text,
                # is a round trip of its own the first time a connection uses it).
                bulk_insert = b"insert_jobs" in data and b"INSERT INTO" not in data
                cut_here = bulk_insert if self.autocommit else commit and saw_insert
                if cut_here and self.armed.is_set() and not self.cut.is_set():
                    muted.set()
                    s.sendall(data)
                    time.sleep(0.5)  # the server commits; its answer is never relayed
                    self.cut.set()
                    break
                if commit:
                    saw_insert = False
                s.sendall(data)
        except OSError:
            pass
        for x in (c, s):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()

    def _down(self, s, c, muted):
        try:
            while data := s.recv(65536):
                if muted.is_set():
                    break  # the COMMIT's answer is dropped
                c.sendall(data)
        except OSError:
            pass


def finishes(svc, job, what):
    """Waits for the job to end; True when it succeeded."""
    final = {}
    for _ in range(120):
        status, _, data = request(svc.port, "GET", f"/v1/convert/jobs/{job}?wait_seconds=1")
        if status == 200:
            final = json.loads(data)["job"]
            if final["status"] in ("succeeded", "failed", "canceled"):
                break
    ok = final.get("status") == "succeeded"
    print(f"lost_commit: {what}; job {job} ended {final.get('status')}"
          f"{'' if ok else ' ' + json.dumps(final.get('error'))}")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.environ.get("QUIRE_BIN", os.path.join(ROOT, "build", "app", "quire")))
    args = p.parse_args()
    pg_dir, admin = os.environ.get("QUIRE_TEST_PG_DIR"), os.environ.get("QUIRE_TEST_DATABASE_URL")
    pg = Postgres(pg_dir, admin) if pg_dir and admin else Postgres()
    pg.start()
    work = tempfile.mkdtemp(prefix="quire-lost-commit.")
    svc = None
    try:
        url = pg.fresh_database("lost_commit")
        subprocess.run([args.bin, "migrate", "--database-url", url, "--profile", "eval"], check=True,
                       stdout=subprocess.DEVNULL)
        host_port = url.split("@", 1)[1].split("/", 1)[0]
        proxy = CommitCutter(int(host_port.rsplit(":", 1)[1]))
        proxied = url.replace(host_port, f"127.0.0.1:{proxy.port}")
        root = os.path.join(work, "root")
        os.makedirs(root)
        svc = Service("service", args.bin, {"QUIRE_PROFILE": "eval", "QUIRE_DATA_ROOT": root,
                                            "QUIRE_DATABASE_URL": proxied, "QUIRE_GPUS": "none",
                                            "QUIRE_CPU_CONVERTERS": "1", "QUIRE_READINESS_INTERVAL_SECONDS": "1"},
                      os.path.join(work, "serve.log"))
        svc.start()
        if not svc.wait_ready(60):
            print("lost_commit: the service did not become ready")
            return 1
        pdf = open(os.path.join(ROOT, "docker", "sample", "sample.pdf"), "rb").read()
        body, ctype = multipart(pdf, "sample.pdf")
        headers = {"Content-Type": ctype, "Idempotency-Key": "lost-commit-1"}
        proxy.armed.set()
        seen = []
        job = None
        for _ in range(100):
            status, _, data = request(svc.port, "POST", "/v1/convert/jobs", body, headers)
            seen.append(status)
            if status in (200, 202):
                job = json.loads(data)["job"]["job_id"]
                break
            time.sleep(0.3)
        if not proxy.cut.is_set() or job is None:
            print(f"lost_commit: the window was not produced (cut={proxy.cut.is_set()}, answers {seen})")
            return 1
        ok = finishes(svc, job, f"answers {seen}")

        # A plain submit: one autocommit INSERT, cut after it reached PostgreSQL.
        proxy.autocommit = True
        proxy.cut.clear()
        body, ctype = multipart(pdf, "lost-autocommit.pdf")
        status, _, data = request(svc.port, "POST", "/v1/convert/jobs", body, {"Content-Type": ctype})
        if not proxy.cut.is_set() or status in (200, 202):
            print(f"lost_commit: the autocommit window was not produced (cut={proxy.cut.is_set()}, answer {status})")
            return 1
        rows = Postgres.psql(url, "SELECT id FROM jobs WHERE source_filename = 'lost-autocommit.pdf'")
        if len(rows) != 1:
            print(f"lost_commit: the autocommit INSERT did not commit exactly one row: {rows}")
            return 1
        ok = finishes(svc, rows[0][0], f"autocommit answer {status}") and ok
        return 0 if ok else 1
    finally:
        if svc:
            svc.terminate()
        if pg.owned:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
