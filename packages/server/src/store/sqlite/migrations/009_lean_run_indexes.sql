-- Every index on runs is written by every run, three times over (recorded, started, ended).
-- runs_account (account_id, created_at) is a prefix of runs_account_listing, which serves the
-- same lookups (an index is read in either direction): it only cost writes.
DROP INDEX runs_account;
