-- A one-row table that readiness writes to: a committed write is the
-- part of the proof that the store accepts writes which only the database
-- can give (see Store.ProbeWrite).

-- +goose Up
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE store_probe;
