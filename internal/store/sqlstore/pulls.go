package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accord-iam/accord/internal/store"
)

// PullState returns the state the last applied pull of source left, or
// the zero state when none was applied.
func (s *Store) PullState(ctx context.Context, source string) (store.PullState, error) {
	var (
		st                     store.PullState
		watermark, full, apply int64
	)
	err := s.rq.QueryRowContext(ctx, `SELECT etag, watermark, last_full, applied_at FROM source_pulls WHERE source = ?`, source).
		Scan(&st.ETag, &watermark, &full, &apply)
	if errors.Is(err, sql.ErrNoRows) {
		return store.PullState{}, nil
	}
	if err != nil {
		return store.PullState{}, fmt.Errorf("pull state of %s: %w", source, err)
	}
	st.Watermark, st.LastFull, st.AppliedAt = fromMicros(watermark), fromMicros(full), fromMicros(apply)
	return st, nil
}

// savePull replaces the pull state of source inside an import's
// transaction.
func savePull(ctx context.Context, tx conn, source string, st store.PullState, at time.Time) error {
	applied := st.AppliedAt
	if applied.IsZero() {
		applied = at
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO source_pulls (source, etag, watermark, last_full, applied_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET etag = excluded.etag, watermark = excluded.watermark,
			last_full = excluded.last_full, applied_at = excluded.applied_at`,
		source, st.ETag, micros(st.Watermark), micros(st.LastFull), micros(applied))
	return err
}
