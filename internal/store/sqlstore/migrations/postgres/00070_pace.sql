-- Cluster-wide pacing of targets (internal/pace, sqlstore/pace.go): a token
-- bucket and a hold per target, and the request slots in flight, shared by
-- every node. A target's row is locked (FOR UPDATE) by each change, so the
-- nodes' changes to one target are serialised.
-- Times are BIGINT unix microseconds UTC (0 = unset).

-- +goose Up
CREATE TABLE pace_targets (
    target      TEXT COLLATE "C" PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL DEFAULT 0,
    tokens_at   BIGINT NOT NULL DEFAULT 0, -- 0: the bucket is full
    hold_until  BIGINT NOT NULL DEFAULT 0,
    hold_reason TEXT COLLATE "C" NOT NULL DEFAULT '',
    resume_at   BIGINT NOT NULL DEFAULT 0 -- the last `accord targets resume`
);

CREATE TABLE pace_slots (
    target  TEXT COLLATE "C" NOT NULL,
    holder  TEXT COLLATE "C" NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (target, holder)
);

-- Each node's view of each target (pace.Status as JSON), published every
-- few seconds by `accord serve`, for `accord targets list`.
CREATE TABLE pace_status (
    target TEXT COLLATE "C" NOT NULL,
    node   TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (target, node)
);

-- +goose Down
DROP TABLE pace_status;
DROP TABLE pace_slots;
DROP TABLE pace_targets;
