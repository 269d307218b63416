package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// Console sessions: created, read back, touched, and deleted by sign-out,
// by their end (idle or absolute), and by their key, in both dialects.
func TestConsoleSessions(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		mk := func(hash, key string, seen, expires time.Time) store.ConsoleSession {
			cs := store.ConsoleSession{TokenHash: hash, KeyID: key, CreatedAt: t0, LastSeen: seen, ExpiresAt: expires}
			require.NoError(t, s.CreateConsoleSession(ctx, cs))
			return cs
		}
		a := mk("hash-a", "k1", t0, t0.Add(12*time.Hour))
		mk("hash-b", "k1", t0, t0.Add(12*time.Hour))
		mk("hash-idle", "k2", t0.Add(-time.Hour), t0.Add(12*time.Hour))
		mk("hash-old", "k2", t0, t0.Add(-time.Minute))
		mk("hash-c", "k3", t0, t0.Add(12*time.Hour))

		got, err := s.GetConsoleSession(ctx, "hash-a")
		require.NoError(t, err)
		require.Equal(t, a, got)
		require.Error(t, s.CreateConsoleSession(ctx, a), "a token hash is unique")
		require.Error(t, s.CreateConsoleSession(ctx, store.ConsoleSession{KeyID: "k1"}), "a session needs its hash")

		require.NoError(t, s.TouchConsoleSession(ctx, "hash-a", t0.Add(time.Minute)))
		got, err = s.GetConsoleSession(ctx, "hash-a")
		require.NoError(t, err)
		require.Equal(t, t0.Add(time.Minute), got.LastSeen)

		// The sweep: idle since before t0-30m, or past the absolute end.
		require.NoError(t, s.DeleteConsoleSessions(ctx, "hash-c", t0.Add(-30*time.Minute), t0))
		for _, h := range []string{"hash-idle", "hash-old", "hash-c"} {
			_, err := s.GetConsoleSession(ctx, h)
			require.True(t, errors.Is(err, store.ErrNotFound), h)
		}
		require.NoError(t, s.DeleteConsoleSessionsOfKey(ctx, "k1"))
		for _, h := range []string{"hash-a", "hash-b"} {
			_, err := s.GetConsoleSession(ctx, h)
			require.True(t, errors.Is(err, store.ErrNotFound), h)
		}
	})
}
