package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accord-iam/accord/internal/store"
)

// Console sessions (internal/console): the hash of each session's token,
// its key and its times.

// CreateConsoleSession stores a new session.
func (s *Store) CreateConsoleSession(ctx context.Context, cs store.ConsoleSession) error {
	if cs.TokenHash == "" || cs.KeyID == "" {
		return errors.New("create console session: token hash and key are required")
	}
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (token_hash, key_id, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?)`,
			cs.TokenHash, cs.KeyID, micros(cs.CreatedAt), micros(cs.LastSeen), micros(cs.ExpiresAt))
		if err != nil {
			return fmt.Errorf("create console session: %w", err)
		}
		return nil
	})
}

// GetConsoleSession returns the session whose token has this hash;
// ErrNotFound if none.
func (s *Store) GetConsoleSession(ctx context.Context, tokenHash string) (store.ConsoleSession, error) {
	var (
		cs                       = store.ConsoleSession{TokenHash: tokenHash}
		created, seen, expiresAt int64
	)
	err := s.rq.QueryRowContext(ctx, `SELECT key_id, created_at, last_seen, expires_at FROM console_sessions WHERE token_hash = ?`, tokenHash).
		Scan(&cs.KeyID, &created, &seen, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return cs, notFound("console session", "(hidden)")
	}
	if err != nil {
		return cs, fmt.Errorf("get console session: %w", err)
	}
	cs.CreatedAt, cs.LastSeen, cs.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expiresAt)
	return cs, nil
}

// TouchConsoleSession records a request of the session at `at`.
func (s *Store) TouchConsoleSession(ctx context.Context, tokenHash string, at time.Time) error {
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `UPDATE console_sessions SET last_seen = ? WHERE token_hash = ?`, micros(at), tokenHash)
		if err != nil {
			return fmt.Errorf("touch console session: %w", err)
		}
		return nil
	})
}

// DeleteConsoleSessions deletes the session whose token has this hash
// (sign out), and every session that ended before `ended` (idle since
// idleBefore, or past its absolute end). Either bound may be zero.
func (s *Store) DeleteConsoleSessions(ctx context.Context, tokenHash string, idleBefore, ended time.Time) error {
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE token_hash = ? OR last_seen < ? OR (expires_at < ? AND expires_at > 0)`,
			tokenHash, micros(idleBefore), micros(ended))
		if err != nil {
			return fmt.Errorf("delete console sessions: %w", err)
		}
		return nil
	})
}

// DeleteConsoleSessionsOfKey ends every session of a key (it was revoked).
func (s *Store) DeleteConsoleSessionsOfKey(ctx context.Context, keyID string) error {
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE key_id = ?`, keyID)
		if err != nil {
			return fmt.Errorf("delete console sessions of key: %w", err)
		}
		return nil
	})
}
