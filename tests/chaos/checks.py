"""The end-of-run verdict of the chaos harness: compares what the clients were promised (every 202)
with the database, the audit trail, the data root and the API.

Definitions (docs/reliability.md, "Chaos under load"):
  lost        an accepted job (a 202 carried its id) that has no row, or that did not end as its
              file demands: `succeeded` for a good PDF, `failed` with `quire convert`'s error code
              for a bad one; also a succeeded job whose Markdown the API cannot serve.
  duplicate   a job that "ran to completion twice": more than one transition into a terminal state
              in job_events (succeeded/failed), or a published result that is not the one the
              completing attempt wrote (manifest.json's `attempt` differs from the attempt of the
              `succeeded` event: a late or second attempt overwrote it).
  phantom     a job row no client was given (an accept the client never saw, which the
              Idempotency-Key retry should have turned into a replay of the same job).
  orphan      after `quire sweep`: a job directory without a row, anything left in tmp/, or a file
              in a job directory that the job's state does not explain.
"""
import hashlib
import json
import os

from pgctl import Postgres
from service import request

TERMINAL = ("succeeded", "failed", "canceled", "expired")


def job_rows(url):
    rows = Postgres.psql(url, "SELECT id, status, coalesce(error_code, ''), attempt, coalesce(result_sha256, ''), "
                              "coalesce(lease_owner, '') FROM jobs")
    return {r[0]: {"status": r[1], "error": r[2], "attempt": int(r[3]), "sha": r[4]} for r in rows}


def job_events(url):
    rows = Postgres.psql(url, "SELECT job_id, coalesce(from_status, ''), to_status, attempt, coalesce(worker, ''), "
                              "reason FROM job_events ORDER BY seq")
    ev = {}
    for r in rows:
        ev.setdefault(r[0], []).append({"from": r[1], "to": r[2], "attempt": int(r[3]), "worker": r[4],
                                        "reason": r[5]})
    return ev


def verify(url, data_root, accepted, files, port, history=None, api_headers=None):
    """accepted: {idempotency key: (job_id, file name)}; files: {name: {"md": bytes} | {"code": str}}.
    Returns (figures dict, list of violation strings)."""
    violations = []
    rows = job_rows(url)
    events = job_events(url)
    keys = Postgres.psql(url, "SELECT count(*), count(DISTINCT job_id) FROM idempotency_keys")[0]
    f = {"accepted": len(accepted), "rows": len(rows), "succeeded": 0, "failed_legit": 0, "lost": 0,
         "duplicates": 0, "phantom": 0, "markdown_checked": 0, "markdown_mismatch": 0,
         "claims": 0, "lease_rescues": 0, "retries": 0, "orphans": 0}
    ids = {}
    for key, (job_id, name) in accepted.items():
        if job_id in ids and ids[job_id] != key:
            violations.append(f"two idempotency keys got one job {job_id}")
        ids[job_id] = key
    if int(keys[0]) != len(rows) or int(keys[1]) != len(rows):
        violations.append(f"idempotency_keys has {keys[0]} keys for {keys[1]} jobs, jobs has {len(rows)} rows")
    phantom = sorted(set(rows) - set(ids))
    f["phantom"] = len(phantom)
    for p in phantom[:5]:
        violations.append(f"phantom job {p} ({rows[p]['status']}): no client was given its id")

    def tries(key):  # what the client saw and the job's audit trail, for a violation's message
        trail = ", ".join(f"{e['from'] or '-'}->{e['to']}@{e['attempt']} ({e['reason']})"
                          for e in events.get(ids_rev.get(key, ""), []))
        return "; client saw: " + ", ".join((history or {}).get(key, [])[-8:]) + "; events: " + trail

    ids_rev = {k: j for j, k in ids.items()}
    for job_id, key in ids.items():
        name = accepted[key][1]
        want = files[name]
        row = rows.get(job_id)
        ev = events.get(job_id, [])
        f["claims"] += sum(1 for e in ev if e["to"] == "running")
        f["lease_rescues"] += sum(1 for e in ev if e["reason"] == "lease_expired")
        f["retries"] += sum(1 for e in ev if e["from"] == "running" and e["to"] == "queued")
        terminal = [e for e in ev if e["to"] in ("succeeded", "failed", "canceled")]
        if len(terminal) > 1:
            f["duplicates"] += 1
            violations.append(f"job {job_id} ({name}) reached a terminal state {len(terminal)} times: "
                              + ", ".join(f"{e['to']}@{e['attempt']}" for e in terminal))
            continue
        if row is None:
            f["lost"] += 1
            violations.append(f"job {job_id} ({name}) was accepted but has no row" + tries(key))
            continue
        if "code" in want:
            if row["status"] == "failed" and row["error"] == want["code"]:
                f["failed_legit"] += 1
            else:
                f["lost"] += 1
                violations.append(f"job {job_id} ({name}) is {row['status']}/{row['error'] or '-'}, "
                                  f"expected failed/{want['code']}" + tries(key))
            continue
        if row["status"] != "succeeded":
            f["lost"] += 1
            violations.append(f"job {job_id} ({name}) is {row['status']}/{row['error'] or '-'}, expected succeeded"
                              + tries(key))
            continue
        f["succeeded"] += 1
        done = [e for e in ev if e["to"] == "succeeded"]
        if len(done) != 1:  # exactly one `succeeded` transition per succeeded job
            f["duplicates"] += 1
            violations.append(f"job {job_id} ({name}) has {len(done)} succeeded events" + tries(key))
            continue
        try:
            with open(os.path.join(data_root, "jobs", job_id[:2], job_id, "manifest.json")) as mf:
                manifest = json.load(mf)
            if manifest.get("attempt") != done[0]["attempt"]:
                f["duplicates"] += 1
                violations.append(f"job {job_id}: manifest written by attempt {manifest.get('attempt')}, "
                                  f"completed by attempt {done[0]['attempt']}")
        except (OSError, ValueError) as e:
            violations.append(f"job {job_id}: manifest.json unreadable: {e}")
        try:
            status, _, body = request(port, "GET", f"/v1/convert/jobs/{job_id}/result/markdown",
                                      headers=api_headers, timeout=30)
        except OSError as e:
            status, body = 0, str(e).encode()
        if status != 200:
            f["lost"] += 1
            violations.append(f"job {job_id} ({name}): result/markdown answered {status}: {body[:200]!r}")
            continue
        f["markdown_checked"] += 1
        if body != want["md"] or hashlib.sha256(body).hexdigest() != row["sha"]:
            f["markdown_mismatch"] += 1
            violations.append(f"job {job_id} ({name}): Markdown differs from quire convert's")
    return f, violations


def data_root_orphans(url, data_root):
    """What is left in the data root that no row explains (run after `quire sweep`)."""
    rows = job_rows(url)
    found = []
    tmp = os.path.join(data_root, "tmp")
    for e in sorted(os.listdir(tmp)):
        found.append(f"tmp/{e}")
    # Inputs: inputs/<shard>/<id>.pdf (earlier versions: jobs/<shard>/<id>/input.pdf).
    inputs_dir = os.path.join(data_root, "inputs")
    for shard in sorted(os.listdir(inputs_dir)) if os.path.isdir(inputs_dir) else []:
        for name in sorted(os.listdir(os.path.join(inputs_dir, shard))):
            job_id, ext = os.path.splitext(name)
            if ext != ".pdf" or job_id not in rows:
                found.append(f"inputs/{shard}/{name} (no row)")
    jobs_dir = os.path.join(data_root, "jobs")
    for shard in sorted(os.listdir(jobs_dir)):
        for job_id in sorted(os.listdir(os.path.join(jobs_dir, shard))):
            d = os.path.join(jobs_dir, shard, job_id)
            row = rows.get(job_id)
            if row is None:
                found.append(f"jobs/{shard}/{job_id} (no row)")
                continue
            allowed = {"input.pdf", "manifest.json"}
            if row["status"] == "succeeded":
                allowed |= {"result.md", "assets"}
            for name in os.listdir(d):
                if name not in allowed:
                    found.append(f"jobs/{shard}/{job_id}/{name} ({row['status']})")
    return found
