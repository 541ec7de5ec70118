-- Accounts, users and secrets (issue 6). Times are epoch milliseconds, as everywhere.

-- A key may lapse, and may be limited to some services (a JSON array of ids; NULL: every one).
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN services TEXT;
-- Who made it ("user alice@example.com", "key cwk-abc123"), for the audit trail and the list.
ALTER TABLE api_keys ADD COLUMN created_by TEXT;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  -- Lower-cased on the way in, so one address is one user.
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
  account_id TEXT NOT NULL REFERENCES accounts (id),
  created_at INTEGER NOT NULL,
  disabled_at INTEGER
);

-- The cookie holds a random secret; only its SHA-256 is stored, as for keys.
CREATE TABLE sessions (
  hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  ip TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Single-use links (the first-run setup link), stored as hashes.
CREATE TABLE auth_tokens (
  hash TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);

-- Values are sealed with AES-256-GCM under the server's master key; service_id '' means every
-- service of the account (a primary key cannot hold NULL in PostgreSQL).
CREATE TABLE env_vars (
  account_id TEXT NOT NULL REFERENCES accounts (id),
  service_id TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL,
  sealed TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT,
  PRIMARY KEY (account_id, service_id, name)
);

CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  at INTEGER NOT NULL,
  account_id TEXT,
  actor TEXT NOT NULL,
  ip TEXT,
  action TEXT NOT NULL,
  target TEXT,
  details TEXT
);
CREATE INDEX audit_events_at ON audit_events (at DESC, id DESC);

-- Server-wide facts, such as the check value that tells whether the master key is the one the
-- variables were sealed with.
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
