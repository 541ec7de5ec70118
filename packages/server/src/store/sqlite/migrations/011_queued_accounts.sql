-- A claim under account caps (maxConcurrentPerAccount) gives places account by account: it
-- skips from one account with queued runs of the service to the next, and takes each one's
-- oldest. Without this index it read the whole queue, counting each run's account's running
-- runs, on every claim: a backlog of thousands made every run cost seconds. Partial, like
-- runs_queued: only queued async runs are in it.
CREATE INDEX runs_queued_accounts ON runs (service_id, account_id, created_at) WHERE status = 'queued' AND mode = 'async';
