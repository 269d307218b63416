package sqlstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/store/storetest"
)

func TestAccessConformanceSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunAccess(t, func(t *testing.T) store.Store { return openSQLite(t) })
}

func TestAccessConformancePostgres(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	storetest.RunAccess(t, func(t *testing.T) store.Store {
		s, err := sqlstore.Open(t.Context(), "postgres", freshSchema(t, dsn))
		require.NoError(t, err)
		return s
	})
}
