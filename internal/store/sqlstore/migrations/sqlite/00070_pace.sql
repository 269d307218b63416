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
    hold_reason TEXT NOT NULL DEFAULT ''
);

CREATE TABLE pace_slots (
    target  TEXT NOT NULL,
    holder  TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (target, holder)
);

-- +goose Down
DROP TABLE pace_slots;
DROP TABLE pace_targets;
