#!/usr/bin/env python3
"""tests/chaos/chaos.py — chaos under load (issue 7); docs/reliability.md, "Chaos under load".

Phase 1, one service: concurrent clients submit --jobs PDFs (the public corpus, docker/sample/sample.pdf
and generated bad PDFs), each with its own Idempotency-Key, retrying with the same key on connection
errors and 503 until accepted, while the service is SIGKILLed --kills times at random moments
(mid-upload, mid-conversion, anywhere) and restarted, and PostgreSQL is restarted --pg-restarts times
(`pg_ctl restart -m fast`, one `-m immediate`). Then: quiesce, `quire sweep`, and check every accepted
job (checks.py has the definitions), the data root, the workers and readiness.
Phase 2, two replicas sharing one database and one data root: one is SIGKILLed while it holds running
jobs and not restarted; the other must take them over once their leases expire.

  tests/chaos/chaos.py [--bin build/app/quire] [--jobs 300 --kills 6 --pg-restarts 2] [--replica-jobs 80]
  tests/chaos/chaos.py --jobs 1000 --kills 20 --pg-restarts 5          # the long form

PostgreSQL: with QUIRE_TEST_PG_DIR + QUIRE_TEST_DATABASE_URL (scripts/test exports both) that cluster is
used and restarted; otherwise the harness starts its own. Exit status 0 only when nothing was violated.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import data_root_orphans, verify  # noqa: E402
from pgctl import Postgres  # noqa: E402
from service import Service, alive  # noqa: E402
from workload import Chaos, Clients, Progress  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = time.monotonic()


def log(msg):
    print(f"chaos [{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def bad_pdfs(corpus_pdf):
    """PDFs that pass the API's checks (%PDF- header) but that the engine refuses."""
    out = {"bad_garbage.pdf": b"%PDF-1.4\nthis is not a pdf at all\n%%EOF\n",
           "bad_truncated.pdf": corpus_pdf[:600],
           "bad_nopages.pdf": b"%PDF-1.4\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n"
                              b"2 0 obj <</Type/Pages/Kids[]/Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"}
    return out


def reference(binary, path):
    """`quire convert`'s answer for one file: {"md": bytes} or {"code": error code}."""
    r = subprocess.run([binary, "convert", path], capture_output=True)
    if r.returncode == 0:
        return {"md": r.stdout}
    err = r.stderr.decode(errors="replace")
    marker = "error: "
    if marker not in err:
        raise RuntimeError(f"quire convert {path}: exit {r.returncode}: {err}")
    return {"code": err.split(marker, 1)[1].split(":", 1)[0].strip()}


def load_files(binary, eval_dir, work):
    """{name: {"pdf", "weight", "md"|"code"}}; each distinct file's reference is computed once."""
    paths = {}
    corpus = os.path.join(eval_dir, "corpus")
    if os.path.isdir(corpus):
        for n in sorted(os.listdir(corpus)):
            if n.endswith(".pdf"):
                paths[n] = os.path.join(corpus, n)
    paths["sample.pdf"] = os.path.join(ROOT, "docker", "sample", "sample.pdf")
    seed = open(paths.get("mixed_brief.pdf", paths["sample.pdf"]), "rb").read()
    for n, data in bad_pdfs(seed).items():
        p = os.path.join(work, n)
        with open(p, "wb") as f:
            f.write(data)
        paths[n] = p
    if shutil.which("mutool"):  # an encrypted PDF: pdf_encrypted
        p = os.path.join(work, "bad_encrypted.pdf")
        if subprocess.run(["mutool", "clean", "-E", "aes-128", "-U", "secret", "-O", "secret",
                           paths["sample.pdf"], p], capture_output=True).returncode == 0:
            paths["bad_encrypted.pdf"] = p
    files = {}
    for n, p in paths.items():
        f = {"pdf": open(p, "rb").read()}
        f.update(reference(binary, p))
        # Scans (OCR, seconds each) are rarer: they are the long conversions a kill lands in.
        f["weight"] = 1 if n.startswith("scan_") else 2 if n.startswith("bad_") else 10
        files[n] = f
    return files


def pick(files, n, rng, tag):
    names = sorted(files)
    weights = [files[k]["weight"] for k in names]
    run = f"{tag}-{rng.randrange(16**8):08x}"
    return [(f"{run}-{i}", rng.choices(names, weights)[0]) for i in range(n)]


def serve_env(url, data_root, args, extra=None):
    env = {"QUIRE_PROFILE": "eval", "QUIRE_DATA_ROOT": data_root, "QUIRE_DATABASE_URL": url,
           "QUIRE_GPUS": "none", "QUIRE_CPU_CONVERTERS": str(args.converters),
           # Short leases so a dead service's jobs are rescued within seconds.
           "QUIRE_LEASE_SECONDS": str(args.lease), "QUIRE_HEARTBEAT_SECONDS": "1",
           "QUIRE_POLL_INTERVAL_SECONDS": "1", "QUIRE_READINESS_INTERVAL_SECONDS": "1",
           "QUIRE_RETRY_BACKOFF_SECONDS": "1", "QUIRE_SHUTDOWN_GRACE_SECONDS": "10",
           # Every kill mid-conversion spends an attempt of the jobs it interrupts; a good PDF must
           # not run out of attempts because of the harness.
           "QUIRE_MAX_ATTEMPTS": str(min(100, args.kills + args.pg_restarts + 5))}
    env.update(extra or {})
    return env


def migrate(binary, url):
    subprocess.run([binary, "migrate", "--database-url", url, "--profile", "eval"], check=True,
                   stdout=subprocess.DEVNULL)


def quiesce(url, services, deadline, what):
    """Waits until no job is queued or running, restarting any service that died on its own."""
    while time.monotonic() < deadline:
        for s in services:
            if s.watchdog():
                log(f"{s.name} exited on its own (status {s.unexpected_exits[-1]}); started again")
        rows = Postgres.psql(url, "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
        if int(rows[0][0]) == 0:
            return True
        time.sleep(0.5)
    log(f"{what}: jobs still queued or running at the deadline")
    return False


def sweep(binary, url, data_root):
    r = subprocess.run([binary, "sweep", "--database-url", url, "--profile", "eval", "--data-root", data_root,
                        "--orphan-grace-minutes", "0"], capture_output=True, text=True)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        return r.returncode, {"stderr": r.stderr}


def stray_workers(binary):
    """`quire worker` processes of this binary whose service is gone (parent is not a quire serve)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if len(cmd) >= 2 and cmd[0].decode(errors="replace") == binary and cmd[1] == b"worker" and alive(int(d)):
            out.append(int(d))
    return out


def end_checks(args, url, data_root, clients, files, port):
    """Sweep, then check every accepted job and the data root: (figures, violations, sweep report)."""
    violations = []
    rc, report = sweep(args.bin, url, data_root)
    figures, v = verify(url, data_root, clients.accepted, files, port, clients.history)
    violations += v
    orphans = data_root_orphans(url, data_root)
    figures["orphans"] = len(orphans)
    violations += [f"orphan after the sweep: {o}" for o in orphans[:10]]
    if rc != 0:
        violations.append(f"quire sweep exited {rc}: {report}")
    return figures, violations, report


def phase_one(args, pg, files, work, rng):
    url = pg.fresh_database("chaos")
    migrate(args.bin, url)
    data_root = os.path.join(work, "root1")
    os.makedirs(data_root)
    svc = Service("service", args.bin, serve_env(url, data_root, args), os.path.join(work, "serve1.log"))
    svc.start()
    if not svc.wait_ready(60):
        return {"phase": "one service"}, ["the service did not become ready"]
    items = pick(files, args.jobs, rng, "c1")
    clients = Clients(items, [svc], files, args.clients)
    progress = Progress(url, clients, args.jobs)
    chaos = Chaos(svc, pg, url, clients, progress, args.kills, args.pg_restarts, log, args.pg_outage)
    log(f"phase 1: {args.jobs} jobs from {args.clients} clients, {args.kills} kills, {args.pg_restarts} PostgreSQL restarts")
    clients.start()
    threads = chaos.run()
    deadline = time.monotonic() + args.timeout
    violations = []
    while time.monotonic() < deadline and (any(t.is_alive() for t in threads[:2]) or not clients.join(0)):
        if svc.watchdog():
            log(f"the service exited on its own (status {svc.unexpected_exits[-1]}); started again")
        time.sleep(0.5)
    if not clients.join(0) or any(t.is_alive() for t in threads[:2]):
        violations.append("clients or the chaos schedule did not finish before the deadline")
    log(f"submissions done: {clients.counts}")
    quiesce(url, [svc], deadline, "phase 1")
    chaos.stop.set()
    for t in threads:
        t.join(5)
    ready = svc.wait_ready(60)
    figures, v, report = end_checks(args, url, data_root, clients, files, svc.port)
    violations += v
    if not ready:
        violations.append("the service is not ready at the end")
    drain_rc = svc.terminate()
    if drain_rc != 0:
        violations.append(f"SIGTERM at the end: exit status {drain_rc}")
    strays = stray_workers(args.bin)
    violations += [f"orphaned quire worker pid {p} after the run" for p in strays]
    violations += [f"orphaned quire worker pid {p} survived a kill -9" for p in chaos.orphaned_workers]
    violations += [f"unexpected service exit (status {s})" for s in svc.unexpected_exits]
    violations += chaos.errors + [f"client: {p}" for p in clients.problems[:10]]
    if len(clients.accepted) != args.jobs:
        violations.append(f"only {len(clients.accepted)} of {args.jobs} submissions were accepted")
    figures.update({"phase": "one service", "jobs": args.jobs, "kills": chaos.done_kills,
                    "kill_moments": chaos.kill_modes, "service_starts": svc.starts,
                    "pg_restarts": sum(pg.restarts.values()), "pg_restart_modes": dict(pg.restarts),
                    "orphaned_workers": len(chaos.orphaned_workers) + len(strays), "ready_at_end": ready,
                    "sweep": report.get("reconcile", report), "clients": clients.counts})
    return figures, violations


def phase_two(args, pg, files, work, rng):
    url = pg.fresh_database("chaos_replicas")
    migrate(args.bin, url)
    data_root = os.path.join(work, "root2")  # one data root: the shared volume of the multi-host model
    os.makedirs(data_root)
    env = serve_env(url, data_root, args)
    a = Service("replica A", args.bin, env, os.path.join(work, "replica-a.log"))
    b = Service("replica B", args.bin, env, os.path.join(work, "replica-b.log"))
    a.start()
    b.start()
    if not (a.wait_ready(60) and b.wait_ready(60)):
        return {"phase": "two replicas"}, ["the replicas did not become ready"]
    a_pid = a.proc.pid
    items = pick(files, args.replica_jobs, rng, "c2")
    clients = Clients(items, [a, b], files, args.clients)
    log(f"phase 2: {args.replica_jobs} jobs to two replicas (one database, one data root)")
    clients.start()
    deadline = time.monotonic() + args.timeout
    held = []
    # Kill A once it holds running jobs and a third of the submissions are in. SIGSTOP first, so the
    # set of jobs it holds cannot change between the query and the SIGKILL.
    while time.monotonic() < deadline and not held:
        if clients.done_count() >= args.replica_jobs // 3 and a.running():
            a.proc.send_signal(signal.SIGSTOP)
            held = [r[0] for r in Postgres.psql(url, "SELECT id FROM jobs WHERE status = 'running' AND "
                                                     f"lease_owner LIKE '%/{a_pid}/%'")]
            if not held:
                a.proc.send_signal(signal.SIGCONT)
        if not held:
            time.sleep(0.05)
    survivors = a.kill9()
    log(f"replica A killed while holding {len(held)} running job(s); not restarted")
    violations = []
    if not held:
        violations.append("replica A never held a running job to kill it with")
    clients.join(max(0.0, deadline - time.monotonic()))
    quiesce(url, [b], deadline, "phase 2")
    events = Postgres.psql(url, "SELECT job_id, attempt, worker, reason FROM job_events WHERE to_status = 'succeeded'")
    b_pid = b.proc.pid if b.proc else -1
    finished_by = {r[0]: r[2] for r in events}
    taken_over = [j for j in held if f"/{b_pid}/" in finished_by.get(j, "")]
    for j in held:
        if j not in taken_over:
            violations.append(f"job {j} held by the killed replica was not finished by the other ({finished_by.get(j)})")
    figures, v, report = end_checks(args, url, data_root, clients, files, b.port)
    violations += v
    ready = b.ready()
    if not ready:
        violations.append("replica B is not ready at the end")
    if b.terminate() != 0:
        violations.append("replica B did not drain cleanly")
    violations += [f"orphaned quire worker pid {p} survived a kill -9" for p in survivors]
    violations += [f"unexpected exit of {s.name} (status {x})" for s in (a, b) for x in s.unexpected_exits]
    violations += [f"client: {p}" for p in clients.problems[:10]]
    figures.update({"phase": "two replicas", "jobs": args.replica_jobs, "held_by_killed_replica": len(held),
                    "taken_over_by_other": len(taken_over), "ready_at_end": ready,
                    "sweep": report.get("reconcile", report), "clients": clients.counts})
    return figures, violations


def print_summary(results, seconds):
    print("==================== chaos summary ====================")
    for figures, violations in results:
        print(f"[{figures.get('phase')}]")
        order = ["jobs", "accepted", "rows", "kills", "kill_moments", "service_starts", "pg_restarts",
                 "pg_restart_modes", "held_by_killed_replica", "taken_over_by_other", "succeeded", "failed_legit",
                 "lost", "duplicates", "phantom", "markdown_checked", "markdown_mismatch", "claims",
                 "lease_rescues", "retries", "orphans", "orphaned_workers", "ready_at_end", "sweep", "clients"]
        for k in order:
            if k in figures:
                print(f"  {k:24} {figures[k]}")
        print(f"  {'violations':24} {len(violations)}")
        for v in violations[:40]:
            print(f"    - {v}")
    print(f"  {'wall seconds':24} {seconds:.0f}")
    print("=======================================================")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.environ.get("QUIRE_BIN", os.path.join(ROOT, "build", "app", "quire")))
    p.add_argument("--jobs", type=int, default=300)
    p.add_argument("--kills", type=int, default=6)
    p.add_argument("--pg-restarts", type=int, default=2)
    p.add_argument("--pg-outage", type=float, default=0.0,
                   help="the last PostgreSQL restart becomes a stop, this many seconds away, and a start")
    p.add_argument("--replica-jobs", type=int, default=80, help="0 skips the two-replica phase")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--converters", type=int, default=2, help="CPU converters per service")
    p.add_argument("--lease", type=int, default=4, help="QUIRE_LEASE_SECONDS")
    p.add_argument("--timeout", type=float, default=900, help="seconds per phase before it counts as hung")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, data roots)")
    args = p.parse_args()
    args.bin = os.path.abspath(args.bin)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    random.seed(seed)
    work = tempfile.mkdtemp(prefix="quire-chaos.")
    os.chmod(work, 0o755)
    log(f"seed {seed}, binary {args.bin}, work dir {work}")
    pg_dir, admin = os.environ.get("QUIRE_TEST_PG_DIR"), os.environ.get("QUIRE_TEST_DATABASE_URL")
    pg = Postgres(pg_dir, admin) if pg_dir and admin else Postgres()
    pg.start()  # no-op for the cluster scripts/test started
    ok = False
    try:
        files = load_files(args.bin, os.environ.get("QUIRE_EVAL_DIR", os.path.join(ROOT, "..", "shared", "eval")), work)
        log(f"{len(files)} distinct files, references from quire convert: "
            f"{sum('md' in f for f in files.values())} good, {sum('code' in f for f in files.values())} bad")
        results = [phase_one(args, pg, files, work, rng)]
        if args.replica_jobs > 0:
            results.append(phase_two(args, pg, files, work, rng))
        print_summary(results, time.monotonic() - T0)
        ok = all(not v for _, v in results)
    finally:
        keep = args.keep or not ok
        if pg.owned:
            pg.stop(remove=not keep)
        if keep:
            log(f"logs and data roots kept in {work}" + (f", PostgreSQL data in {pg.dir}" if pg.owned else ""))
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
