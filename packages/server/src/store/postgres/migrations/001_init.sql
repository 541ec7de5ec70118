CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  is_default BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_one_default ON accounts (is_default) WHERE is_default;

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  kind TEXT NOT NULL CHECK (kind IN ('standard', 'one_time')),
  name TEXT,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  internal BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  use_count BIGINT NOT NULL DEFAULT 0,
  revoked_at BIGINT,
  spent_at BIGINT,
  spent_run_id TEXT
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  key_id TEXT,
  service_id TEXT,
  method TEXT NOT NULL DEFAULT 'POST',
  path TEXT NOT NULL DEFAULT '',
  query TEXT,
  mode TEXT CHECK (mode IN ('sync', 'async')),
  status TEXT NOT NULL CHECK (status IN ('provisioned', 'queued', 'running', 'completed', 'failed', 'timed_out', 'cancelled')),
  input BYTEA,
  input_content_type TEXT,
  request_headers TEXT NOT NULL DEFAULT '{}',
  correlation_id TEXT,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  completed_at BIGINT,
  response_status INTEGER,
  response_content_type TEXT,
  response_body BYTEA,
  error TEXT,
  error_code TEXT,
  node_id TEXT,
  lease_expires_at BIGINT,
  attempt INTEGER NOT NULL DEFAULT 0,
  expires_at BIGINT
);
CREATE INDEX runs_queued ON runs (service_id, created_at) WHERE status = 'queued' AND mode = 'async';
CREATE INDEX runs_active ON runs (node_id, status) WHERE status IN ('queued', 'running');
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX runs_provisioned ON runs (expires_at) WHERE status = 'provisioned';
CREATE INDEX runs_account ON runs (account_id, created_at);

CREATE TABLE run_logs (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  time_us BIGINT NOT NULL,
  level TEXT NOT NULL,
  source TEXT NOT NULL,
  message TEXT NOT NULL,
  fields TEXT,
  PRIMARY KEY (run_id, seq)
);
