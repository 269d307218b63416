package sqlstore_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/store/storetest"
)

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLite(t) })
}

func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.Open(t.Context(), "postgres", freshSchema(t, dsn))
		require.NoError(t, err)
		return s
	})
}

func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "accord.sqlite"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// defaultPostgresDSN is the local server the README's machines run; the
// suite uses it when ACCORD_TEST_POSTGRES_DSN names no other.
const defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// postgresDSN returns ACCORD_TEST_POSTGRES_DSN (or the local default)
// after checking the server answers. A machine without PostgreSQL skips
// the PostgreSQL half of the suite, unless ACCORD_REQUIRE_SERVICES is set
// (as .ci/run sets it): then a missing database fails the test.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := cmp.Or(os.Getenv("ACCORD_TEST_POSTGRES_DSN"), defaultPostgresDSN)
	missing := func(why string, args ...any) {
		t.Helper()
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			t.Fatalf("PostgreSQL is required (ACCORD_REQUIRE_SERVICES is set): "+why, args...)
		}
		t.Skipf("PostgreSQL not available: "+why, args...)
	}
	db, err := sql.Open("pgx", dsn)
	if err == nil {
		err = db.PingContext(context.Background())
		_ = db.Close()
	}
	if err != nil {
		missing("%v", err)
	}
	return dsn
}

// freshSchema creates an empty schema of its own for one test, dropped at
// cleanup, and returns dsn with its search_path set to it: tests stay
// isolated and can run in parallel on one database. Commits need not wait
// for the disk in tests: that changes no result, only the time a test
// takes where fsync is slow.
func freshSchema(t testing.TB, dsn string) string {
	t.Helper()
	return schemaDSN(t, dsn, "search_path", newSchema(t, dsn), "synchronous_commit", "off")
}

func newSchema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "accord_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	_, err = admin.ExecContext(context.Background(), `CREATE SCHEMA `+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`)
		_ = admin.Close()
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// schemaDSN adds run-time parameters (key, value, ...) to dsn.
func schemaDSN(t testing.TB, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		for i := 0; i < len(kv); i += 2 {
			dsn += " " + kv[i] + "=" + kv[i+1]
		}
		return dsn
	}
	q := u.Query()
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestOpenRejectsBadArguments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct{ driver, dsn, want string }{
		{"mysql", "x", `unknown`},
		{"sqlite", "", "empty database path"},
		{"sqlite", filepath.Join(dir, "a.db?mode=ro"), "plain file path"},
		{"sqlite", ":memory:", "plain file path"},
		{"sqlite", filepath.Join(dir, "no", "such", "dir", "a.db"), "a.db"},
	}
	for _, c := range cases {
		_, err := sqlstore.Open(t.Context(), c.driver, c.dsn)
		require.Error(t, err, c.dsn)
		require.Contains(t, err.Error(), c.want)
	}
}

func TestPostgresErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.UserPassword("no_such_user", "s3cret-pw")
	_, err = sqlstore.Open(t.Context(), "postgres", u.String())
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret-pw")
}

// migrationCount reads goose's bookkeeping: one row per applied version
// plus its initial row.
func migrationCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM goose_db_version`).Scan(&n))
	return n
}

func TestReopenIsNoOp(t *testing.T) {
	t.Parallel()
	type opener func(t *testing.T) (open func() *sqlstore.Store)
	openers := map[string]opener{
		"sqlite": func(t *testing.T) func() *sqlstore.Store {
			path := filepath.Join(t.TempDir(), "accord.sqlite")
			return func() *sqlstore.Store {
				s, err := sqlstore.OpenSQLite(t.Context(), path)
				require.NoError(t, err)
				return s
			}
		},
		"postgres": func(t *testing.T) func() *sqlstore.Store {
			dsn := freshSchema(t, postgresDSN(t))
			return func() *sqlstore.Store {
				s, err := sqlstore.Open(t.Context(), "postgres", dsn)
				require.NoError(t, err)
				return s
			}
		},
	}
	for name, op := range openers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			open := op(t)
			s := open()
			applied := migrationCount(t, s.DB())
			require.Greater(t, applied, 1, "migrations ran on open")
			writeFixtureData(t, s)
			require.NoError(t, s.Close())

			s = open()
			defer s.Close()
			require.Equal(t, applied, migrationCount(t, s.DB()), "re-opening applies nothing")
			checkFixtureData(t, s)

			// A second store on the same database, as a second process
			// would open it, works alongside the first.
			other := open()
			defer other.Close()
			require.NoError(t, other.Ping(t.Context()))
			_, err := other.GetPerson(t.Context(), "E1")
			require.NoError(t, err)
		})
	}
}

// TestCurrentVersionFileReopens opens a database file written by this
// version of accord (testdata/v1.sqlite, made by
// ACCORD_WRITE_FIXTURE=1 go test -run TestCurrentVersionFileReopens): it
// must keep opening, and upgrading, as the schema evolves.
func TestCurrentVersionFileReopens(t *testing.T) {
	t.Parallel()
	fixture := filepath.Join("testdata", "v1.sqlite")
	if os.Getenv("ACCORD_WRITE_FIXTURE") != "" {
		writeFixtureFile(t, fixture)
	}
	data, err := os.ReadFile(fixture)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "copy.sqlite")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	s, err := sqlstore.OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	defer s.Close()
	checkFixtureData(t, s)
}

func writeFixtureFile(t *testing.T, fixture string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v1.sqlite")
	s, err := sqlstore.OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	writeFixtureData(t, s)
	// Fold the WAL into the file so that one file holds everything.
	_, err = s.DB().ExecContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(t, err)
	_, err = s.DB().ExecContext(t.Context(), `VACUUM`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(fixture), 0o755))
	require.NoError(t, os.WriteFile(fixture, data, 0o644))
}
