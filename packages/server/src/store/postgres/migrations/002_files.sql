-- Uploaded files: the metadata only; the bytes live in the files backend (local disk or S3).
CREATE TABLE files (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id),
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'uploading', 'ready')),
  backend TEXT NOT NULL CHECK (backend IN ('local', 's3')),
  storage_key TEXT NOT NULL,
  content_type TEXT,
  declared_size BIGINT,
  size BIGINT,
  sha256 TEXT,
  node_id TEXT,
  created_at BIGINT NOT NULL,
  upload_expires_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  upload_started_at BIGINT,
  completed_at BIGINT
);
CREATE INDEX files_account ON files (account_id, created_at);
CREATE INDEX files_expiry ON files (expires_at);
CREATE INDEX files_unfinished ON files (upload_expires_at) WHERE status <> 'ready';
