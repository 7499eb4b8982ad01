"""The load and the chaos: concurrent submitting clients, a killer that SIGKILLs and restarts the service,
and a PostgreSQL restarter. Kills and restarts are paced by progress (accepted + finished jobs) so they
land across the whole run: during uploads, during conversions and while the queue drains."""
import http.client
import json
import random
import threading
import time

from pgctl import Postgres
from service import multipart, request


class Clients:
    """Submits every item with its own Idempotency-Key, retrying (same key) on connection errors and
    503 until a 202 (or 200 for a replay of a job that already finished). Any 4xx is recorded: every
    file the harness sends passes validation, bad PDFs fail later, in the worker."""

    def __init__(self, items, services, files, threads, headers=None, slow_fraction=0.1):
        self.items = list(items)          # [(key, file name)]
        self.services = services          # a client prefers services[i % n], moves on when it is gone
        self.files = files
        self.threads = threads
        self.headers = dict(headers or {})
        self.slow_fraction = slow_fraction
        self.lock = threading.Lock()
        self.accepted = {}                # key -> (job id, file name)
        self.history = {}                 # key -> what each try got ("conn", "503 database_unavailable", "202")
        self.counts = {"http_202": 0, "replays": 0, "connection_errors": 0, "retries_503": 0,
                       "server_errors": 0, "rejected_4xx": 0}
        self.problems = []
        self.slow_in_flight = 0
        self.next = 0
        self.rng = random.Random()
        self.pool = []

    def start(self):
        for _ in range(self.threads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self.pool.append(t)

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.pool:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.pool)

    def done_count(self):
        with self.lock:
            return len(self.accepted)

    def _take(self):
        with self.lock:
            if self.next >= len(self.items):
                return None
            i = self.next
            self.next += 1
            return i

    def _count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def _note(self, key, what):
        with self.lock:
            self.history.setdefault(key, []).append(what)

    @staticmethod
    def _code(data):
        try:
            return json.loads(data).get("error", {}).get("code", "")
        except (ValueError, AttributeError):
            return ""

    def _run(self):
        while (i := self._take()) is not None:
            self._submit(i, *self.items[i])

    def _submit(self, i, key, name):
        body, ctype = multipart(self.files[name]["pdf"], name)
        headers = dict(self.headers, **{"Content-Type": ctype, "Idempotency-Key": key})
        slow = self.rng.random() < self.slow_fraction
        target = i % len(self.services)
        while True:
            svc = self.services[target]
            try:
                if slow:
                    with self.lock:
                        self.slow_in_flight += 1
                try:
                    status, rh, data = request(svc.port, "POST", "/v1/convert/jobs", body, headers, timeout=60,
                                               chunks=8 if slow else 1, chunk_pause=0.05 if slow else 0.0)
                finally:
                    if slow:
                        with self.lock:
                            self.slow_in_flight -= 1
            except (OSError, http.client.HTTPException):
                self._count("connection_errors")
                self._note(key, f"{svc.name}: no answer")
                if not svc.running() and len(self.services) > 1:
                    target = (target + 1) % len(self.services)  # that replica is gone: use another
                time.sleep(0.2)
                continue
            self._note(key, f"{svc.name}: {status} {self._code(data)}".rstrip())
            if status in (200, 202):
                job = json.loads(data)["job"]
                with self.lock:
                    self.accepted[key] = (job["job_id"], name)
                    if status == 202:
                        self.counts["http_202"] += 1
                    if rh.get("x-idempotent-replay") == "true":
                        self.counts["replays"] += 1
                return
            if status == 503:
                self._count("retries_503")
                time.sleep(min(1.0, float(rh.get("retry-after", "1"))))
                continue
            if status >= 500:  # not expected: recorded, then retried with the same key
                self._count("server_errors")
                with self.lock:
                    self.problems.append(f"{key}: HTTP {status}: {data[:200]!r}")
                time.sleep(0.5)
                continue
            self._count("rejected_4xx")
            with self.lock:
                self.problems.append(f"{key} ({name}): HTTP {status}: {data[:200]!r}")
            return


class Progress:
    """accepted + terminal jobs over twice the job count: 0 at the start, 1 when everything finished."""

    def __init__(self, url, clients, total):
        self.url, self.clients, self.total = url, clients, total
        self.terminal = 0
        self.lock = threading.Lock()

    def refresh(self):
        try:
            n = int(Postgres.psql(self.url, "SELECT count(*) FROM jobs WHERE status IN "
                                            "('succeeded', 'failed', 'canceled', 'expired')", retry_for=2)[0][0])
            with self.lock:
                self.terminal = n
        except RuntimeError:
            pass  # PostgreSQL is restarting: keep the last figure

    def value(self):
        with self.lock:
            return (self.clients.done_count() + self.terminal) / (2.0 * self.total)


class Chaos:
    """Runs `kills` SIGKILL+restart cycles of `service` and `pg_restarts` PostgreSQL restarts, each at a
    progress threshold plus jitter. Kill moments rotate through: random, mid-conversion (this process
    holds a running job) and mid-upload (a slow client is sending)."""

    MODES = ("mid_upload", "mid_conversion", "random")  # uploads end first: try them first

    def __init__(self, service, pg, url, clients, progress, kills, pg_restarts, log, outage=0.0):
        self.service, self.pg, self.url = service, pg, url
        self.clients, self.progress = clients, progress
        self.kills, self.pg_restarts = kills, pg_restarts
        self.outage = outage  # > 0: the last restart is an outage this long instead (longer than a lease)
        self.log = log
        self.done_kills = 0
        self.kill_modes = {m: 0 for m in self.MODES}
        self.orphaned_workers = []
        self.pg_down_seconds = []
        self.errors = []
        self.stop = threading.Event()
        self.rng = random.Random()

    def run(self):
        threads = [threading.Thread(target=self._killer, daemon=True),
                   threading.Thread(target=self._restarter, daemon=True),
                   threading.Thread(target=self._progress, daemon=True)]
        for t in threads:
            t.start()
        return threads

    def _progress(self):
        while not self.stop.is_set():
            self.progress.refresh()
            self.stop.wait(0.5)

    def _wait_progress(self, threshold):
        while not self.stop.is_set() and self.progress.value() < threshold:
            self.stop.wait(0.1)
        self.stop.wait(self.rng.uniform(0.0, 1.0))
        return not self.stop.is_set()

    def _moment(self, mode, timeout=8.0):
        """Waits (bounded) for the moment the mode asks for; returns whether it was found."""
        if mode == "random":
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            if mode == "mid_upload" and self.clients.slow_in_flight > 0:
                return True
            if mode == "mid_conversion" and self.service.running():
                pid = self.service.proc.pid if self.service.proc else 0
                try:
                    rows = Postgres.psql(self.url, "SELECT count(*) FROM jobs WHERE status = 'running' AND "
                                                   f"lease_owner LIKE '%/{pid}/%'", retry_for=1)
                    if int(rows[0][0]) > 0:
                        return True
                except RuntimeError:
                    pass
            time.sleep(0.05)
        return False

    def _killer(self):
        for k in range(self.kills):
            if not self._wait_progress((k + 1) / (self.kills + 1)):
                return
            mode = self.MODES[k % len(self.MODES)]
            if not self._moment(mode):
                mode = "random"  # no such moment came (e.g. nothing uploading any more)
            survivors = self.service.kill9()
            self.kill_modes[mode] += 1
            self.done_kills += 1
            self.orphaned_workers += survivors
            self.log(f"kill {self.done_kills}/{self.kills} ({mode}); {len(survivors)} worker(s) outlived it")
            time.sleep(self.rng.uniform(0.0, 1.0))
            self.service.start()

    def _restarter(self):
        for r in range(self.pg_restarts):
            if not self._wait_progress((r + 0.5) / (self.pg_restarts + 0.5)):
                return
            mode = "immediate" if r == self.pg_restarts // 2 else "fast"
            if self.outage > 0 and r == self.pg_restarts - 1 and r != self.pg_restarts // 2:
                mode = "outage"
            try:
                down = self.pg.outage(self.outage) if mode == "outage" else self.pg.restart(mode)
                self.pg_down_seconds.append(down)
                self.log(f"PostgreSQL restart {r + 1}/{self.pg_restarts} ({mode}, {down:.1f} s)")
            except Exception as e:  # noqa: BLE001 - a failed restart is a harness error, reported
                self.errors.append(f"PostgreSQL restart failed: {e}")
