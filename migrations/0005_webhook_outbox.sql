-- 0004: the webhook outbox (docs/api.md "Webhooks", notify/). A job whose spec names notify.url
-- gets one row here per terminal event (succeeded, failed, canceled, expired), written by a
-- trigger in the SAME statement as the status change: no path that finishes or expires a job
-- (complete, fail, cancel, rescue, the retention sweep, a hand edit) can miss one, and a job
-- whose transition rolls back leaves none. The delivery loop (notify/delivery_loop.cpp) claims due
-- rows with FOR UPDATE SKIP LOCKED, so replicas share the work.
CREATE TABLE webhook_deliveries (
  -- The Standard Webhooks `webhook-id`: stable for the event across retries, replicas and
  -- restarts, so receivers deduplicate on it. The primary key makes one row per event.
  id              text PRIMARY KEY,
  job_id          text NOT NULL,
  profile         text NOT NULL,
  event           text NOT NULL CHECK (event IN ('job.succeeded', 'job.failed', 'job.canceled', 'job.expired')),
  url             text NOT NULL,
  api_key_id      text NOT NULL,
  -- The job row as the transition left it: the body is rendered from it, so every attempt sends
  -- the event as it happened (not the job as it is later, e.g. already expired or deleted).
  job             jsonb NOT NULL,
  created_at      timestamptz NOT NULL,               -- the event's time
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- pending: when the next attempt is due. A claimed attempt pushes it past its own time bound,
  -- so a replica that dies mid-attempt leaves the row to be claimed again (at least once).
  next_attempt_at timestamptz NOT NULL,
  last_attempt_at timestamptz,
  last_status     integer,                            -- HTTP status of the last answer
  last_error      text,                               -- why the last attempt failed
  finished_at     timestamptz,                        -- delivered or given up
  CONSTRAINT finished_iff_done CHECK ((state = 'pending') = (finished_at IS NULL))
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (profile, next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_job_idx ON webhook_deliveries (job_id);
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;

CREATE FUNCTION quire_job_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (id, job_id, profile, event, url, api_key_id, job, created_at, next_attempt_at)
  VALUES ('msg_' || NEW.id || '_' || NEW.status, NEW.id, NEW.profile, 'job.' || NEW.status,
          NEW.spec #>> '{notify,url}', NEW.api_key_id, to_jsonb(NEW), NEW.updated_at, NEW.updated_at)
  ON CONFLICT (id) DO NOTHING;
  RETURN NULL;
END
$$;

-- The WHEN clause keeps jobs without notify.url (nearly all) free of any per-row function call.
CREATE TRIGGER jobs_webhook
  AFTER UPDATE OF status ON jobs
  FOR EACH ROW
  WHEN (NEW.status IS DISTINCT FROM OLD.status
        AND NEW.status IN ('succeeded', 'failed', 'canceled', 'expired')
        AND NEW.spec #>> '{notify,url}' IS NOT NULL)
  EXECUTE FUNCTION quire_job_webhook();
