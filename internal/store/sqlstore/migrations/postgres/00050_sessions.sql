-- Login sessions of targets with session auth, kept across restarts. The
-- same layout as the SQLite migration; text in the "C" collation.
-- sealed is base64 of AES-GCM ciphertext made by the connector under the
-- target's auth.session_key: the store never holds a session in clear.

-- +goose Up
CREATE TABLE target_sessions (
    target   TEXT COLLATE "C" PRIMARY KEY,
    sealed   TEXT COLLATE "C" NOT NULL,
    saved_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE target_sessions;
