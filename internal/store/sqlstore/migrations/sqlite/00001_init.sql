-- Times are INTEGER unix microseconds UTC (0 = unset); dates are TEXT
-- YYYY-MM-DD ('' = unset); attributes, links, entitlements, breaches,
-- errors and headers are JSON text. Both dialects share this layout so one
-- set of queries serves them.

-- +goose Up
CREATE TABLE persons (
    person_key    TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    attributes    TEXT NOT NULL DEFAULT '{}',
    start_date    TEXT NOT NULL DEFAULT '',
    end_date      TEXT NOT NULL DEFAULT '',
    missing_since TEXT NOT NULL DEFAULT '',
    updated_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX persons_source ON persons (source, person_key);

-- Entitlements live in a JSON column: EachAccount reads one row per account
-- and Commit rewrites one row per change, instead of joining or touching
-- ten child rows per account.
CREATE TABLE accounts (
    person_key   TEXT NOT NULL,
    target       TEXT NOT NULL,
    native_id    TEXT NOT NULL DEFAULT '',
    link         TEXT NOT NULL DEFAULT '',
    attributes   TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL,
    entitlements TEXT NOT NULL DEFAULT '',
    disabled_at  INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (person_key, target)
);
CREATE INDEX accounts_target ON accounts (target, person_key);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    run_trigger TEXT NOT NULL DEFAULT '',
    scope       TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    breaches    TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_state ON runs (state);

-- active mirrors "the run is pending or running" for unfinished jobs, so
-- the lease and busy queries never wade through the jobs of a held run
-- (held runs are the large ones).
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    person_key  TEXT NOT NULL,
    target      TEXT NOT NULL,
    state       TEXT NOT NULL,
    active      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_run ON jobs (run_id, state);
CREATE INDEX jobs_queue ON jobs (id) WHERE state IN ('pending', 'leased') AND active = 1;
CREATE INDEX jobs_queue_target ON jobs (target, id) WHERE state IN ('pending', 'leased') AND active = 1;
CREATE INDEX jobs_person ON jobs (person_key, target, id) WHERE state IN ('pending', 'leased') AND active = 1;
CREATE INDEX jobs_leased ON jobs (lease_owner) WHERE state = 'leased';

CREATE TABLE actions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT NOT NULL,
    job_id       INTEGER NOT NULL REFERENCES jobs (id),
    seq          INTEGER NOT NULL,
    person_key   TEXT NOT NULL,
    target       TEXT NOT NULL,
    op           TEXT NOT NULL,
    entitlements TEXT NOT NULL DEFAULT '',
    attributes   TEXT NOT NULL DEFAULT '',
    previous     TEXT NOT NULL DEFAULT '',
    native_id    TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    error_kind   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX actions_job ON actions (job_id, seq);
CREATE INDEX actions_run ON actions (run_id, state, id);
CREATE INDEX actions_person ON actions (person_key, id);
CREATE INDEX actions_state ON actions (state, target, id);

CREATE TABLE audit (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    run_id           TEXT NOT NULL DEFAULT '',
    action_id        INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 0,
    person_key       TEXT NOT NULL DEFAULT '',
    target           TEXT NOT NULL DEFAULT '',
    operation        TEXT NOT NULL DEFAULT '',
    actor            TEXT NOT NULL DEFAULT '',
    method           TEXT NOT NULL DEFAULT '',
    url              TEXT NOT NULL DEFAULT '',
    request_headers  TEXT NOT NULL DEFAULT '',
    request_body     TEXT NOT NULL DEFAULT '',
    status           INTEGER NOT NULL DEFAULT 0,
    response_excerpt TEXT NOT NULL DEFAULT '',
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    outcome          TEXT NOT NULL DEFAULT '',
    error_kind       TEXT NOT NULL DEFAULT '',
    message          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_run ON audit (run_id, id);
CREATE INDEX audit_action ON audit (action_id, id);
CREATE INDEX audit_person ON audit (person_key, id);
CREATE INDEX audit_target ON audit (target, id);

-- +goose Down
DROP TABLE audit;
DROP TABLE actions;
DROP TABLE jobs;
DROP TABLE runs;
DROP TABLE accounts;
DROP TABLE persons;
