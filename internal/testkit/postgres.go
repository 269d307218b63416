package testkit

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// DefaultPostgresDSN is the local server of the development machines;
// ACCORD_TEST_POSTGRES_DSN names another.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresSchema returns a DSN whose search_path is a fresh schema of
// the test's own, dropped at cleanup, so tests (and the processes they
// start) share one database without seeing each other. Without a
// reachable server the test is skipped, or fails when
// ACCORD_REQUIRE_SERVICES is set (CI).
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	dsn := cmp.Or(os.Getenv("ACCORD_TEST_POSTGRES_DSN"), DefaultPostgresDSN)
	admin, err := sql.Open("pgx", dsn)
	if err == nil {
		err = admin.PingContext(context.Background())
	}
	if err != nil {
		if admin != nil {
			_ = admin.Close()
		}
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			tb.Fatalf("PostgreSQL is required (ACCORD_REQUIRE_SERVICES is set): %v", err)
		}
		tb.Skipf("PostgreSQL not available: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "accord_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+name); err != nil {
		_ = admin.Close()
		tb.Fatalf("create schema %s: %v", name, err)
	}
	tb.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`)
		_ = admin.Close()
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " search_path=" + name
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
