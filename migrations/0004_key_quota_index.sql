-- 0004: the per-key cap on queued and running jobs (QUIRE_MAX_JOBS_PER_KEY, issue 16) counts a
-- key's active jobs on every submit. This partial index holds only queued and running rows, so the
-- count follows the jobs the key has waiting or running, not the size of the table. The key leads:
-- with the profile first, a claim planned while the queue was empty chose this index and then read
-- the whole queue for each claim (pg_job_concurrency).
CREATE INDEX jobs_key_active_idx ON jobs (api_key_id, profile) WHERE status IN ('queued', 'running');
