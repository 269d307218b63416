package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/testkit"
)

// A duplicate key is known by the driver's error code on both databases:
// a unique index and a primary key are duplicates, any other constraint
// (NOT NULL, CHECK) is not.
func TestUniqueViolationByErrorCode(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		driver string
		dsn    func(t *testing.T) string
		dup    func(error) bool
	}{
		{"sqlite", "sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "u.db") }, sqlstore.UniqueViolation("sqlite")},
		{"postgres", "pgx", func(t *testing.T) string { return testkit.PostgresSchema(t) }, sqlstore.UniqueViolation("postgres")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sql.Open(tc.driver, tc.dsn(t))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			_, err = db.ExecContext(ctx, `CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER CHECK (n > 0))`)
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, `INSERT INTO u (id, name, n) VALUES (1, 'a', 1)`)
			require.NoError(t, err)

			_, err = db.ExecContext(ctx, `INSERT INTO u (id, name, n) VALUES (2, 'a', 1)`)
			require.Error(t, err)
			require.True(t, tc.dup(err), "unique index: %v", err)
			_, err = db.ExecContext(ctx, `INSERT INTO u (id, name, n) VALUES (1, 'b', 1)`)
			require.Error(t, err)
			require.True(t, tc.dup(err), "primary key: %v", err)

			_, err = db.ExecContext(ctx, `INSERT INTO u (id, name, n) VALUES (3, NULL, 1)`)
			require.Error(t, err)
			require.False(t, tc.dup(err), "NOT NULL is not a duplicate: %v", err)
			_, err = db.ExecContext(ctx, `INSERT INTO u (id, name, n) VALUES (4, 'c', 0)`)
			require.Error(t, err)
			require.False(t, tc.dup(err), "CHECK is not a duplicate: %v", err)
		})
	}
}
