package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// A delta read of an HR API holds only the persons that changed: the
// others stay as they are, and nobody is marked missing by omission.
func testImportPartial(t *testing.T, s store.Store) {
	day := model.MustDate("2025-03-01")
	a, b := person("A", model.Attributes{"dept": "ops"}), person("B", model.Attributes{"dept": "ops"})
	applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(a, b), Date: day, At: day.Time()})

	a2 := person("A", model.Attributes{"dept": "sales"})
	res := applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(a2), Date: day, At: day.Time(), Partial: true})
	require.Equal(t, store.ImportResult{Updated: 1}, res, "a delta changes what it holds and nothing else")
	got, err := s.GetPerson(ctx(t), "B")
	require.NoError(t, err)
	require.True(t, got.MissingSince.IsZero(), "a person a delta leaves out is not missing")
	got, err = s.GetPerson(ctx(t), "A")
	require.NoError(t, err)
	require.Equal(t, "sales", got.Attributes["dept"])

	// The same import as a full read finds B missing.
	res = applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(a2), Date: day, At: day.Time()})
	require.Equal(t, store.ImportResult{Unchanged: 1, Missing: 1}, res)
}

// The pull state is written by the import that applies the pull, and
// only by it: a refused import leaves the previous state.
func testImportPullState(t *testing.T, s store.Store) {
	st, err := s.PullState(ctx(t), "hr")
	require.NoError(t, err)
	require.Equal(t, store.PullState{}, st, "no pull applied yet")

	first := store.PullState{ETag: `"v1"`, Watermark: at(time.Minute), LastFull: at(time.Minute)}
	applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(person("A", nil)), At: at(2 * time.Minute), Pull: &first})
	st, err = s.PullState(ctx(t), "hr")
	require.NoError(t, err)
	first.AppliedAt = at(2 * time.Minute)
	require.Equal(t, first, st)

	// B belongs to another source: the import is refused whole, and the
	// state it carried is not written.
	applyImport(t, s, store.Import{Source: "crm", Persons: store.PersonsOf(person("B", nil)), At: at(time.Hour)})
	next := store.PullState{ETag: `"v2"`, Watermark: at(time.Hour), LastFull: at(time.Hour)}
	_, err = s.ApplyImport(ctx(t), store.Import{Source: "hr", Persons: store.PersonsOf(person("A", nil), person("B", nil)),
		At: at(time.Hour), Pull: &next})
	require.ErrorIs(t, err, store.ErrConflict)
	st, err = s.PullState(ctx(t), "hr")
	require.NoError(t, err)
	require.Equal(t, first, st, "a refused import does not advance the pull state")

	other, err := s.PullState(ctx(t), "crm")
	require.NoError(t, err)
	require.Equal(t, store.PullState{}, other, "the state is per source")
}
