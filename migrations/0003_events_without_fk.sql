-- 0003: job_events without a foreign key to jobs.
--
-- Event rows are written only by the jobs_transition trigger, for the job row being inserted or
-- updated, in the same statement: they cannot name a job that does not exist. The foreign key's
-- check (a SELECT ... FOR KEY SHARE of the job row for every event row) was about a tenth of the
-- database's CPU per accepted submit (bench/README.md, session 4). What else it gave, ON DELETE
-- CASCADE, this statement trigger keeps: deleting jobs (the tombstone sweep, or by hand) deletes
-- their events in the same statement. tests/pg/test_job_transitions.cpp checks both.
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
