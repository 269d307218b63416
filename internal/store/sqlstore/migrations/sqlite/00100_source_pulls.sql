-- Pull sources (issue 17): what the last applied pull of an HR API left
-- to start the next one from. Times are INTEGER unix microseconds UTC.

-- +goose Up
-- One row per pull source, written in the transaction that applies the
-- pull, so the state never runs ahead of the persons it describes.
CREATE TABLE source_pulls (
    source     TEXT PRIMARY KEY,
    etag       TEXT NOT NULL DEFAULT '',
    watermark  INTEGER NOT NULL DEFAULT 0,
    last_full  INTEGER NOT NULL DEFAULT 0,
    applied_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE source_pulls;
