-- Retries, completion webhooks and retention (issue 7, second half).

-- A queued run is not claimed before `run_after` (a retry waiting out its backoff).
ALTER TABLE runs ADD COLUMN run_after BIGINT;
-- Where to POST the record when the run ends; `callback_pending` until a delivery is made of it.
ALTER TABLE runs ADD COLUMN callback_url TEXT;
ALTER TABLE runs ADD COLUMN callback_pending BOOLEAN NOT NULL DEFAULT FALSE;
-- What the caller asked to keep the run for (it can only shorten the account's period).
ALTER TABLE runs ADD COLUMN retain_seconds BIGINT;
CREATE INDEX runs_callback_pending ON runs (completed_at) WHERE callback_pending;
CREATE INDEX runs_ended ON runs (completed_at) WHERE completed_at IS NOT NULL;

ALTER TABLE run_logs ADD COLUMN attempt INTEGER;

ALTER TABLE accounts ADD COLUMN retention_seconds BIGINT;
ALTER TABLE accounts ADD COLUMN webhook_secret TEXT;

-- One row per attempt of a run that ended (finally, or to be retried).
CREATE TABLE run_attempts (
  run_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  response_status INTEGER,
  error TEXT,
  error_code TEXT,
  node_id TEXT,
  started_at BIGINT,
  ended_at BIGINT NOT NULL,
  retry_at BIGINT,
  PRIMARY KEY (run_id, attempt)
);

-- One delivery (one webhook message) per run with a callback URL.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  url TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  give_up_at BIGINT NOT NULL,
  completed_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_delivery_attempts (
  delivery_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  attempted_at BIGINT NOT NULL,
  duration_ms BIGINT NOT NULL,
  status_code INTEGER,
  error TEXT,
  PRIMARY KEY (delivery_id, attempt)
);

-- What is left of a purged run: enough to answer 410 rather than 404, until `expires_at`.
CREATE TABLE run_tombstones (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  purged_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX run_tombstones_expiry ON run_tombstones (expires_at);
