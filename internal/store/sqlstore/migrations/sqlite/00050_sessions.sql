-- Login sessions of targets with session auth, kept across restarts.
-- sealed is base64 of AES-GCM ciphertext made by the connector under the
-- target's auth.session_key: the store never holds a session in clear.

-- +goose Up
CREATE TABLE target_sessions (
    target   TEXT PRIMARY KEY,
    sealed   TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE target_sessions;
