-- 0001: the job store. States and legal transitions: storage/job_state.hpp (kept in step with the
-- quire_job_transition_legal trigger below; tests/pg checks both). Docs: docs/storage.md.

-- The database clock. Every statement of the job store uses quire_now() instead of now() so tests
-- can pin time per connection (SET quire.now = '…') and never sleep; in production the setting is
-- absent and this is now() (the transaction start time).
CREATE FUNCTION quire_now() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(current_setting('quire.now', true), '')::timestamptz, now())
$$;

-- Binds the database to one profile: a service of another profile refuses to become ready.
CREATE TABLE quire_deployment (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  profile    text NOT NULL CHECK (profile ~ '^[a-z][a-z0-9_-]{0,31}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
  id               text PRIMARY KEY CHECK (id ~ '^[a-z2-7]{26}$'),
  profile          text NOT NULL,
  status           text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'expired')),
  expired_from     text CHECK (expired_from IN ('succeeded', 'failed', 'canceled')),
  status_reason    text NOT NULL DEFAULT 'submitted',  -- why the latest transition happened
  created_at       timestamptz NOT NULL DEFAULT quire_now(),
  updated_at       timestamptz NOT NULL DEFAULT quire_now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  expires_at       timestamptz,
  attempt          integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
  next_attempt_at  timestamptz NOT NULL DEFAULT quire_now(),
  lease_owner      text,
  lease_expires_at timestamptz,
  heartbeat_at     timestamptz,
  priority         integer NOT NULL DEFAULT 0,
  spec             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(spec) = 'object'),
  api_key_id       text NOT NULL DEFAULT '',
  source_filename  text NOT NULL DEFAULT '',
  input_bytes      bigint NOT NULL CHECK (input_bytes >= 0),
  input_sha256     text NOT NULL CHECK (input_sha256 ~ '^[0-9a-f]{64}$'),
  input_deleted_at timestamptz,
  result_bytes     bigint CHECK (result_bytes >= 0),
  result_sha256    text CHECK (result_sha256 ~ '^[0-9a-f]{64}$'),
  pages_total      integer CHECK (pages_total >= 0),
  pages_done       integer NOT NULL DEFAULT 0 CHECK (pages_done >= 0),
  error_code       text,
  error_message    text,
  error_retryable  boolean,
  pinned           boolean NOT NULL DEFAULT false,

  CONSTRAINT attempt_range CHECK (attempt BETWEEN 0 AND max_attempts),
  -- a lease exists exactly while running, and a running job has started
  CONSTRAINT lease_iff_running CHECK (
    (status = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL AND heartbeat_at IS NOT NULL)),
  CONSTRAINT running_started CHECK (status <> 'running' OR (started_at IS NOT NULL AND attempt >= 1)),
  -- terminal ⇔ finished_at; the result is recorded exactly for succeeded jobs (and their tombstones)
  CONSTRAINT finished_iff_terminal CHECK (
    (status IN ('succeeded', 'failed', 'canceled', 'expired')) = (finished_at IS NOT NULL)),
  CONSTRAINT succeeded_has_result CHECK (
    status <> 'succeeded' OR (result_sha256 IS NOT NULL AND result_bytes IS NOT NULL)),
  CONSTRAINT result_only_when_succeeded CHECK (
    (result_sha256 IS NULL) = (result_bytes IS NULL)
    AND (result_sha256 IS NULL OR status = 'succeeded' OR coalesce(expired_from, '') = 'succeeded')),
  CONSTRAINT failed_has_error CHECK (
    status <> 'failed' OR (error_code IS NOT NULL AND error_message IS NOT NULL AND error_retryable IS NOT NULL)),
  CONSTRAINT error_complete CHECK ((error_code IS NULL) = (error_message IS NULL)),
  CONSTRAINT expired_from_iff_expired CHECK ((status = 'expired') = (expired_from IS NOT NULL)),
  CONSTRAINT pages_bounded CHECK (pages_total IS NULL OR pages_done <= pages_total)
);

-- claim: queued jobs of a profile by priority, then age
CREATE INDEX jobs_claim_idx ON jobs (profile, priority DESC, created_at, id) WHERE status = 'queued';
-- rescue: running jobs by lease expiry
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
-- list: newest first, stable keyset cursor
CREATE INDEX jobs_list_idx ON jobs (profile, created_at DESC, id DESC);
-- retention: finished, unpinned jobs by finish time
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL AND NOT pinned;

-- The audit trail: one row per status change (written by the trigger, so hand edits are recorded too).
CREATE TABLE job_events (
  seq         bigserial PRIMARY KEY,
  job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  at          timestamptz NOT NULL,
  from_status text,
  to_status   text NOT NULL,
  attempt     integer NOT NULL,
  worker      text,
  reason      text NOT NULL
);
CREATE INDEX job_events_job_idx ON job_events (job_id, seq);
CREATE INDEX job_events_at_idx ON job_events (at);

-- Idempotency-Key records, scoped per API key, kept idempotency_ttl.
CREATE TABLE idempotency_keys (
  api_key_id  text NOT NULL,
  key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- Refuses any status change that storage/job_state.hpp does not list and records the event.
-- It does NOT notify: a NOTIFY inside a writing transaction takes a database-wide lock held
-- through the WAL flush, which serialises every committing submit (measured: ~300 commits/s on a
-- 5 ms-fsync disk, no group commit). job_store sends NOTIFY quire_work in its own, read-only
-- statement right after the commit instead (storage/job_store.cpp: announce_work).
CREATE FUNCTION quire_job_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status <> 'queued' THEN
      RAISE EXCEPTION 'jobs must be inserted as queued, not %', NEW.status USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO job_events (job_id, at, from_status, to_status, attempt, worker, reason)
    VALUES (NEW.id, NEW.updated_at, NULL, NEW.status, NEW.attempt, NULL, NEW.status_reason);
    RETURN NULL;
  END IF;
  IF NEW.status = OLD.status THEN
    RETURN NULL;
  END IF;
  IF NOT ((OLD.status, NEW.status) IN (
      ('queued', 'running'), ('running', 'succeeded'), ('running', 'queued'), ('running', 'failed'),
      ('queued', 'canceled'), ('running', 'canceled'),
      ('succeeded', 'expired'), ('failed', 'expired'), ('canceled', 'expired'))) THEN
    RAISE EXCEPTION 'illegal job transition % -> % (job %)', OLD.status, NEW.status, OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO job_events (job_id, at, from_status, to_status, attempt, worker, reason)
  VALUES (NEW.id, NEW.updated_at, OLD.status, NEW.status, NEW.attempt,
          coalesce(NEW.lease_owner, OLD.lease_owner), NEW.status_reason);
  RETURN NULL;
END
$$;

-- AFTER, not BEFORE: the event row references the job, which must exist first. An exception
-- raised here still aborts the whole statement.
CREATE TRIGGER jobs_transition
  AFTER INSERT OR UPDATE OF status ON jobs
  FOR EACH ROW EXECUTE FUNCTION quire_job_transition();
