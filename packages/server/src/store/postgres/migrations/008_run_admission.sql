-- Idempotency keys (issue 7): a key names the run its first call recorded, for its account, until
-- it expires. The primary key is what makes concurrent duplicates safe: of several calls claiming
-- one key, exactly one inserts its row, in the transaction that records its run; the others wait
-- for that transaction, then find the key taken.
CREATE TABLE idempotency_keys (
  account_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  -- SHA-256 of what was asked (endpoint, method, service, path, query, body): a key sent again
  -- with another request is refused, not answered with a run it did not ask for.
  fingerprint TEXT NOT NULL,
  -- The run goes, the key goes: a purged or lapsed run leaves no key naming nothing. Checked at
  -- commit: the key is claimed first, before the run it names is written.
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, idempotency_key)
);
CREATE INDEX idempotency_keys_run ON idempotency_keys (run_id);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The accounts' back-pressure limits count their queued and running runs before each run is
-- recorded: this keeps that count to the few active rows, however many runs an account has kept.
CREATE INDEX runs_account_active ON runs (account_id, status) WHERE status IN ('queued', 'running');
