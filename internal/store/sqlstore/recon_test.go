package sqlstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/store/storetest"
)

func TestReconConformanceSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunRecon(t, func(t *testing.T) store.Store { return openSQLite(t) })
}

func TestReconConformancePostgres(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	storetest.RunRecon(t, func(t *testing.T) store.Store {
		s, err := sqlstore.Open(t.Context(), "postgres", freshSchema(t, dsn))
		require.NoError(t, err)
		return s
	})
}
