package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// Sessions are what connectors seal (connector.SessionStore): the store
// keeps bytes it cannot read.

// LoadSession returns the sealed session kept for target, or nil.
func (s *Store) LoadSession(ctx context.Context, target string) ([]byte, error) {
	var enc string
	err := s.rq.QueryRowContext(ctx, `SELECT sealed FROM target_sessions WHERE target = ?`, target).Scan(&enc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session of %s: %w", target, err)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("load session of %s: %w", target, err)
	}
	return b, nil
}

// SaveSession replaces the sealed session kept for target.
func (s *Store) SaveSession(ctx context.Context, target string, sealed []byte) error {
	err := s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO target_sessions (target, sealed, saved_at) VALUES (?, ?, ?)
			ON CONFLICT (target) DO UPDATE SET sealed = excluded.sealed, saved_at = excluded.saved_at`,
			target, base64.StdEncoding.EncodeToString(sealed), s.orNow(time.Time{}))
		return err
	})
	if err != nil {
		return fmt.Errorf("save session of %s: %w", target, err)
	}
	return nil
}

// DeleteSession forgets the session kept for target.
func (s *Store) DeleteSession(ctx context.Context, target string) error {
	err := s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM target_sessions WHERE target = ?`, target)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session of %s: %w", target, err)
	}
	return nil
}
