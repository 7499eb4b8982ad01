-- 0004: the per-key cap on queued and running jobs (QUIRE_MAX_JOBS_PER_KEY, issue 16) counts a
-- key's active jobs on every submit. This partial index holds only queued and running rows, so the
-- count follows the jobs the key has waiting or running, not the size of the table.
CREATE INDEX jobs_key_active_idx ON jobs (profile, api_key_id) WHERE status IN ('queued', 'running');
