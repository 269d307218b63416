-- API keys may expire, and may be rotated: the new key takes the name and
-- the old one stays valid for a grace period (its expires_at), so that a
-- deployment can switch over without an outage (issue 12). The same
-- layout as the SQLite migration.
-- Times are BIGINT unix microseconds UTC (0 = never).

-- +goose Up
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
-- The ID of the key that replaced this one by rotation; '' while current.
ALTER TABLE api_keys ADD COLUMN replaced_by TEXT COLLATE "C" NOT NULL DEFAULT '';
-- A name is unique among current keys: a rotated key in its grace period
-- shares the name with its successor.
DROP INDEX api_keys_active_name;
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at = 0 AND replaced_by = '';

-- +goose Down
DROP INDEX api_keys_active_name;
UPDATE api_keys SET revoked_at = expires_at WHERE replaced_by <> '' AND revoked_at = 0;
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at = 0;
ALTER TABLE api_keys DROP COLUMN replaced_by;
ALTER TABLE api_keys DROP COLUMN expires_at;
