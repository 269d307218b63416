-- Cluster-wide pacing of targets (internal/pace, sqlstore/pace.go): a token
-- bucket and a hold per target, and the request slots in flight. Used on
-- PostgreSQL, where several nodes share a store; SQLite has one daemon per
-- file and paces in process, but keeps the same layout.
-- Times are INTEGER unix microseconds UTC (0 = unset).

-- +goose Up
CREATE TABLE pace_targets (
    target      TEXT PRIMARY KEY,
    tokens      REAL NOT NULL DEFAULT 0,
    tokens_at   INTEGER NOT NULL DEFAULT 0, -- 0: the bucket is full
    hold_until  INTEGER NOT NULL DEFAULT 0,
    hold_reason TEXT NOT NULL DEFAULT '',
    resume_at   INTEGER NOT NULL DEFAULT 0 -- the last `accord targets resume`
);

CREATE TABLE pace_slots (
    target  TEXT NOT NULL,
    holder  TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (target, holder)
);

-- Each node's view of each target (pace.Status as JSON), published every
-- few seconds by `accord serve`, for `accord targets list`.
CREATE TABLE pace_status (
    target TEXT NOT NULL,
    node   TEXT NOT NULL,
    status TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (target, node)
);

-- +goose Down
DROP TABLE pace_status;
DROP TABLE pace_slots;
DROP TABLE pace_targets;
