package sqlstore_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/testkit"
)

// TestFullDiskFailsTheWriteProbe: on a full file system the write probe
// fails and names a full disk, although SQLite may still fit a one-row
// commit in its WAL; freeing space makes the store writable again.
func TestFullDiskFailsTheWriteProbe(t *testing.T) {
	s, dir, path := tmpfsStore(t)
	require.NoError(t, s.ProbeWrite(t.Context()))

	filler := testkit.FillDisk(t, dir)
	err := s.ProbeWrite(t.Context())
	require.ErrorIs(t, err, store.ErrUnwritable)
	require.ErrorContains(t, err, "disk full")
	require.ErrorContains(t, err, path)

	require.NoError(t, os.Remove(filler))
	require.NoError(t, s.ProbeWrite(t.Context()), "writable again once there is room")
}

// TestFullDiskWriteIsNamed: a write that does not fit fails as an
// unwritable store, named a full disk, not as SQLite's bare code.
func TestFullDiskWriteIsNamed(t *testing.T) {
	s, dir, _ := tmpfsStore(t)
	testkit.FillDisk(t, dir)
	big := make([]audit.Record, 2000)
	for i := range big {
		big[i] = audit.Record{Time: time.Now(), Kind: audit.KindEvent, Message: string(make([]byte, 2000))}
	}
	err := s.AppendAudit(t.Context(), big)
	require.ErrorIs(t, err, store.ErrUnwritable)
	require.ErrorContains(t, err, "disk full")
}

// TestReadOnlyMountIsNamed: a database on a read-only mount is named as
// such with its path, where SQLite says "unable to open database file".
func TestReadOnlyMountIsNamed(t *testing.T) {
	dir := testkit.Tmpfs(t, 8<<20)
	path := filepath.Join(dir, "accord.db")
	s, err := sqlstore.OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	testkit.RemountReadOnly(t, dir)

	_, err = sqlstore.OpenSQLite(t.Context(), path)
	require.ErrorIs(t, err, store.ErrUnwritable)
	require.ErrorContains(t, err, "database file is read-only: "+path)
}

// TestPostgresWriteProbe: the probe is a committed write on PostgreSQL
// too, and a read-only server is named as such.
func TestPostgresWriteProbe(t *testing.T) {
	dsn := freshSchema(t, postgresDSN(t))
	s, err := sqlstore.Open(t.Context(), "postgres", dsn)
	require.NoError(t, err)
	require.NoError(t, s.ProbeWrite(t.Context()))
	require.NoError(t, s.Close())

	ro, err := sqlstore.Open(t.Context(), "postgres", schemaDSN(t, dsn, "default_transaction_read_only", "on"))
	require.NoError(t, err)
	defer ro.Close()
	err = ro.ProbeWrite(t.Context())
	require.ErrorIs(t, err, store.ErrUnwritable)
	require.ErrorContains(t, err, "database is read-only")
}

// tmpfsStore opens a SQLite store on a small tmpfs of its own.
func tmpfsStore(t *testing.T) (s *sqlstore.Store, dir, path string) {
	t.Helper()
	dir = testkit.Tmpfs(t, 8<<20)
	path = filepath.Join(dir, "accord.db")
	s, err := sqlstore.OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, dir, path
}

// BenchmarkProbeWrite is what one /readyz costs the store (SQLite: the
// file system's word and a one-row commit on the writer).
func BenchmarkProbeWrite(b *testing.B) {
	s, err := sqlstore.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "accord.db"))
	require.NoError(b, err)
	defer s.Close()
	for b.Loop() {
		if err := s.ProbeWrite(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
