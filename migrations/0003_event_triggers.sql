-- 0003: cheaper event bookkeeping on the accept path (bench/README.md, session 4).
--
-- 1. job_events without a foreign key to jobs. Event rows are written only by the triggers below,
--    for the job rows being inserted or updated, in the same statement: they cannot name a job
--    that does not exist. The key's check (a SELECT ... FOR KEY SHARE of the job row for every
--    event row) was about a tenth of the database's CPU per accepted submit. What else it gave,
--    ON DELETE CASCADE, the jobs_deleted statement trigger keeps: deleting jobs (the tombstone
--    sweep, or by hand) deletes their events in the same statement.
-- 2. Submit events from one statement trigger per INSERT (a batch of submits is one INSERT)
--    instead of a PL/pgSQL call and an INSERT per row. jobs_transition keeps status changes.
-- tests/pg/test_job_transitions.cpp checks both.
ALTER TABLE job_events DROP CONSTRAINT job_events_job_id_fkey;

CREATE FUNCTION quire_jobs_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM job_events e USING deleted_jobs d WHERE e.job_id = d.id;
  RETURN NULL;
END
$$;

CREATE TRIGGER jobs_deleted
  AFTER DELETE ON jobs REFERENCING OLD TABLE AS deleted_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION quire_jobs_deleted();

CREATE FUNCTION quire_jobs_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted_jobs WHERE status <> 'queued') THEN
    RAISE EXCEPTION 'jobs must be inserted as queued' USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO job_events (job_id, at, from_status, to_status, attempt, worker, reason)
  SELECT id, updated_at, NULL, status, attempt, NULL, status_reason FROM inserted_jobs;
  RETURN NULL;
END
$$;

DROP TRIGGER jobs_transition ON jobs;
CREATE TRIGGER jobs_inserted
  AFTER INSERT ON jobs REFERENCING NEW TABLE AS inserted_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION quire_jobs_inserted();
CREATE TRIGGER jobs_transition
  AFTER UPDATE OF status ON jobs
  FOR EACH ROW EXECUTE FUNCTION quire_job_transition();

-- The transition function without its INSERT branch (jobs_inserted does that now).
CREATE OR REPLACE FUNCTION quire_job_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
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
