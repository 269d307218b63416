package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClaimExecutionOnePerFile: a second executor on one SQLite file is
// refused with a message that says why and who holds it; once the first
// lets go, the claim can be taken again.
func TestClaimExecutionOnePerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accord.db")
	a, err := OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	b, err := OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	release, exclusive, err := a.ClaimExecution()
	require.NoError(t, err)
	require.True(t, exclusive)
	_, _, err = b.ClaimExecution()
	require.ErrorIs(t, err, ErrExecutorRunning)
	require.ErrorContains(t, err, "SQLite allows one executing accord per store file")
	require.ErrorContains(t, err, "process ")
	require.NoError(t, b.Ping(t.Context()), "the store itself stays usable for reads and plans")

	release()
	release2, _, err := b.ClaimExecution()
	require.NoError(t, err)
	release2()
}
