package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// TestSQLiteWriterPragmas checks the settings the write connection runs
// with. The first two are what a commit promises (in the WAL when it
// returns: safe from a process crash); the checkpoint interval bounds the
// commits a power loss can take back, since synchronous=NORMAL syncs the
// WAL only when it checkpoints. Raising it saves work in the group
// commits (BENCHMARKS.md, "CPU per request (h2)") but widens that
// window: a change to any of them should be made here, on purpose.
func TestSQLiteWriterPragmas(t *testing.T) {
	s, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "p.sqlite"))
	require.NoError(t, err)
	defer s.Close()
	for pragma, want := range map[string]string{
		"journal_mode":       "wal",
		"synchronous":        "1", // NORMAL
		"wal_autocheckpoint": "1000",
		"foreign_keys":       "1",
	} {
		var got string
		require.NoError(t, s.DB().QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got), pragma)
		require.Equal(t, want, got, "PRAGMA %s", pragma)
	}
}
