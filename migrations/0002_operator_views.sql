-- 0002: psql inspection views for operators (documented with example queries in docs/storage.md).
-- Read-only conveniences; the service never depends on them.

-- How many jobs in each state, per profile, and how old the oldest one is.
CREATE VIEW quire_overview AS
SELECT profile, status, count(*) AS jobs,
       min(created_at) AS oldest_created, max(updated_at) AS last_change,
       count(*) FILTER (WHERE pinned) AS pinned
FROM jobs GROUP BY profile, status;

-- Running jobs: who holds them, for how long, how far they got, how much lease is left.
CREATE VIEW quire_running AS
SELECT id, profile, lease_owner, attempt, max_attempts,
       quire_now() - started_at AS running_for,
       quire_now() - heartbeat_at AS since_heartbeat,
       lease_expires_at - quire_now() AS lease_left,
       pages_done, pages_total, source_filename
FROM jobs WHERE status = 'running' ORDER BY started_at;

-- Leases that ran out without a heartbeat: the holder died or hangs; rescue_expired() requeues them.
CREATE VIEW quire_stuck AS
SELECT id, profile, lease_owner, attempt, max_attempts, lease_expires_at,
       quire_now() - lease_expires_at AS expired_for, heartbeat_at
FROM jobs WHERE status = 'running' AND lease_expires_at < quire_now() ORDER BY lease_expires_at;

-- Queued jobs waiting for a retry (backoff) and when they become claimable.
CREATE VIEW quire_retrying AS
SELECT id, profile, attempt, max_attempts, next_attempt_at, error_code, error_message
FROM jobs WHERE status = 'queued' AND attempt > 0 ORDER BY next_attempt_at;

-- Failures and retries of the last 24 hours, newest first, from the audit trail.
CREATE VIEW quire_recent_failures AS
SELECT e.at, e.job_id, e.from_status, e.to_status, e.attempt, e.worker, e.reason,
       j.error_message, j.error_retryable
FROM job_events e JOIN jobs j ON j.id = e.job_id
WHERE e.at > quire_now() - interval '24 hours'
  AND (e.to_status = 'failed' OR (e.from_status = 'running' AND e.to_status = 'queued'))
ORDER BY e.at DESC;

-- The full history of every job, for `WHERE job_id = '…'`.
CREATE VIEW quire_job_history AS
SELECT e.job_id, e.seq, e.at, e.from_status, e.to_status, e.attempt, e.worker, e.reason
FROM job_events e ORDER BY e.job_id, e.seq;
