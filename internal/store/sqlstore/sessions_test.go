package sqlstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// Sessions are kept per target as the bytes given, replaced on save and
// gone after delete, on both databases.
func TestSessionsKeptPerTarget(t *testing.T) {
	t.Parallel()
	openers := map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite": func(t *testing.T) *sqlstore.Store { return openSQLite(t) },
		"postgres": func(t *testing.T) *sqlstore.Store {
			s, err := sqlstore.Open(t.Context(), "postgres", freshSchema(t, postgresDSN(t)))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, ctx := open(t), t.Context()
			got, err := s.LoadSession(ctx, "jc")
			require.NoError(t, err)
			require.Nil(t, got, "none kept yet")

			require.NoError(t, s.SaveSession(ctx, "jc", []byte{0, 1, 2, 255}))
			require.NoError(t, s.SaveSession(ctx, "other", []byte("x")))
			require.NoError(t, s.SaveSession(ctx, "jc", []byte{9, 0, 8}))
			got, err = s.LoadSession(ctx, "jc")
			require.NoError(t, err)
			require.Equal(t, []byte{9, 0, 8}, got, "replaced, binary-safe")

			require.NoError(t, s.DeleteSession(ctx, "jc"))
			require.NoError(t, s.DeleteSession(ctx, "jc"), "deleting nothing is no error")
			got, err = s.LoadSession(ctx, "jc")
			require.NoError(t, err)
			require.Nil(t, got)
			got, err = s.LoadSession(ctx, "other")
			require.NoError(t, err)
			require.Equal(t, []byte("x"), got, "other targets keep theirs")
		})
	}
}
