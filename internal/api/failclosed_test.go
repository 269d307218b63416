package api_test

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/testkit"
)

// TestFullDiskIsNotReadyAndNothingIsAnsweredAsDone: on a full disk
// /readyz answers 503 naming it, and a change whose audit record cannot
// be written is answered 503, never 2xx. With room again, both recover.
func TestFullDiskIsNotReadyAndNothingIsAnsweredAsDone(t *testing.T) {
	w := newWorld(t, worldOptions{dir: testkit.Tmpfs(t, 16<<20)})
	require.Equal(t, http.StatusOK, w.do("GET", "/readyz", "", nil).status)
	audits := len(w.audit(store.AuditQuery{}))

	// An empty WAL, so that the next commit must grow a file: SQLite
	// would otherwise fit a small write in WAL space it already has.
	_, err := w.app.Store.(*sqlstore.Store).DB().ExecContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(t, err)
	filler := testkit.FillDisk(t, w.dir)

	r := w.do("GET", "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.text())
	require.Contains(t, r.text(), "disk full")

	// The world is in accord: enforce changes nothing but its record,
	// which cannot be written.
	r = w.do("POST", "/api/v1/enforce", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.text())
	require.Contains(t, r.text(), "audit record could not be written")
	require.Contains(t, r.text(), "database or disk is full", "the store's own words")

	require.NoError(t, os.Remove(filler))
	require.Equal(t, http.StatusOK, w.do("GET", "/readyz", "", nil).status)
	require.Len(t, w.audit(store.AuditQuery{}), audits, "nothing was recorded while the disk was full")
	r = w.do("POST", "/api/v1/enforce", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
}

// TestReadOnlyMountIsNotReady: once the store's directory is on a
// read-only mount, /readyz answers 503 and says so, although the files
// the daemon already holds open could still take a write: a restart
// could not open them.
func TestReadOnlyMountIsNotReady(t *testing.T) {
	dir := testkit.Tmpfs(t, 16<<20)
	w := newWorld(t, worldOptions{dir: dir})
	require.Equal(t, http.StatusOK, w.do("GET", "/readyz", "", nil).status)
	testkit.BindReadOnly(t, dir)
	r := w.do("GET", "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.text())
	require.Contains(t, r.text(), "database file is read-only: "+dir)
}
