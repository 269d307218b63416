-- Pull sources (issue 17): what the last applied pull of an HR API left
-- to start the next one from. The same layout as the SQLite migration;
-- text in the "C" collation. Times are BIGINT unix microseconds UTC.

-- +goose Up
-- One row per pull source, written in the transaction that applies the
-- pull, so the state never runs ahead of the persons it describes.
CREATE TABLE source_pulls (
    source     TEXT COLLATE "C" PRIMARY KEY,
    etag       TEXT COLLATE "C" NOT NULL DEFAULT '',
    watermark  BIGINT NOT NULL DEFAULT 0,
    last_full  BIGINT NOT NULL DEFAULT 0,
    applied_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE source_pulls;
