-- The dashboard lists an account's runs newest first, by service and by status; these indexes
-- serve that page query and its cursor (created_at, id) without sorting the whole table.
CREATE INDEX runs_account_listing ON runs (account_id, created_at DESC, id DESC);
CREATE INDEX runs_account_service_listing ON runs (account_id, service_id, created_at DESC, id DESC);
