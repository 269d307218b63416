-- API keys, unmanaged entitlements, and an index for target health. The
-- same layout as the SQLite migration; text in the "C" collation.
-- Times are BIGINT unix microseconds UTC (0 = unset); scopes are JSON text.

-- +goose Up
-- Only a hash of a key's secret is kept; the ID is the public half of the
-- key and the lookup handle. An unrevoked key's name is unique, so keys
-- can be revoked by name; a revoked key's name may be given to a new key.
CREATE TABLE api_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    scopes      TEXT COLLATE "C" NOT NULL DEFAULT '',
    secret_hash TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL DEFAULT '',
    revoked_at  BIGINT NOT NULL DEFAULT 0,
    revoked_by  TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at = 0;

CREATE TABLE unmanaged (
    person_key  TEXT COLLATE "C" NOT NULL,
    target      TEXT COLLATE "C" NOT NULL,
    entitlement TEXT COLLATE "C" NOT NULL,
    actor       TEXT COLLATE "C" NOT NULL DEFAULT '',
    note        TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (person_key, target, entitlement)
);

-- Health counts the attempts of the last hour and day per target; without
-- this the count would read the whole audit trail.
CREATE INDEX audit_attempt_end_at ON audit (at) WHERE kind = 'attempt_end';

-- +goose Down
DROP INDEX audit_attempt_end_at;
DROP TABLE unmanaged;
DROP TABLE api_keys;
