package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// TestSQLiteWriterPragmas checks the settings the write connection runs
// with: the ones commits' durability rests on (WAL, synchronous=NORMAL)
// and the ones the engine's group commits are tuned by (page cache,
// checkpoint interval). A change to any of them is a change to what a
// commit costs or promises, and should be made here on purpose.
func TestSQLiteWriterPragmas(t *testing.T) {
	s, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "p.sqlite"))
	require.NoError(t, err)
	defer s.Close()
	for pragma, want := range map[string]string{
		"journal_mode":       "wal",
		"synchronous":        "1", // NORMAL
		"cache_size":         "-32768",
		"wal_autocheckpoint": "8000",
		"foreign_keys":       "1",
	} {
		var got string
		require.NoError(t, s.DB().QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got), pragma)
		require.Equal(t, want, got, "PRAGMA %s", pragma)
	}
}
