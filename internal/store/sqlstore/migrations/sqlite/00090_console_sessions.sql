-- Sessions of the web console (issue 15): a browser signs in with an API
-- key and gets a random token in a cookie. Only the token's SHA-256 is
-- kept, so that a copy of the database lets no one in. The key's scopes
-- and validity are read from api_keys on every request.
-- Times are INTEGER unix microseconds UTC.

-- +goose Up
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_key ON console_sessions (key_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
