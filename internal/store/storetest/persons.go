package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var personTests = []test{
	{"PersonTypedRoundTrip", testPersonTypedRoundTrip},
	{"PersonNotFound", testPersonNotFound},
	{"PersonPutReplaces", testPersonPutReplaces},
	{"PersonListAndEach", testPersonListAndEach},
}

func testPersonTypedRoundTrip(t *testing.T, s store.Store) {
	p := model.Person{
		Key: "E1", Source: "hr", Attributes: typedAttrs(),
		Start: model.MustDate("2024-03-01"), End: model.MustDate("2026-12-31"),
		MissingSince: model.MustDate("2025-01-02"), UpdatedAt: at(time.Second),
	}
	require.NoError(t, s.PutPerson(ctx(t), p))
	got, err := s.GetPerson(ctx(t), "E1")
	require.NoError(t, err)
	require.Equal(t, p, got)
	// Types survive, not just values that print alike.
	require.IsType(t, model.Date{}, got.Attributes["hired"])
	require.IsType(t, int64(0), got.Attributes["level"])
	require.IsType(t, []string{}, got.Attributes["groups"])
	require.IsType(t, true, got.Attributes["active"])
}

func testPersonNotFound(t *testing.T, s store.Store) {
	_, err := s.GetPerson(ctx(t), "nobody")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetAccount(ctx(t), "crm", "nobody")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetRun(ctx(t), "no-run")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetAction(ctx(t), 424242)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testPersonPutReplaces(t *testing.T, s store.Store) {
	require.NoError(t, s.PutPerson(ctx(t), model.Person{Key: "E1", Source: "hr",
		Attributes: model.Attributes{"a": "1", "b": "2"}, Start: model.MustDate("2024-01-01"), UpdatedAt: t0}))
	want := model.Person{Key: "E1", Source: "api", Attributes: model.Attributes{"a": "3"}, UpdatedAt: at(time.Hour)}
	require.NoError(t, s.PutPerson(ctx(t), want))
	got, err := s.GetPerson(ctx(t), "E1")
	require.NoError(t, err)
	require.Equal(t, want, got, "a put replaces every field, it does not merge")
}

func testPersonListAndEach(t *testing.T, s store.Store) {
	// Byte order, whatever the database's collation: "E10" < "E2" < "e1".
	keys := []string{"e1", "E2", "E10", "A-1", "a_1", "Z"}
	for _, k := range keys {
		require.NoError(t, s.PutPerson(ctx(t), model.Person{Key: k, Source: "hr", UpdatedAt: t0}))
	}
	want := []string{"A-1", "E10", "E2", "Z", "a_1", "e1"}

	var seen []string
	require.NoError(t, s.EachPerson(ctx(t), func(p model.Person) error {
		seen = append(seen, p.Key)
		return nil
	}))
	require.Equal(t, want, seen)

	all, err := s.ListPersons(ctx(t), store.PersonQuery{})
	require.NoError(t, err)
	require.Len(t, all, len(want), "Limit 0 means no limit")

	var paged []string
	after := ""
	for {
		page, err := s.ListPersons(ctx(t), store.PersonQuery{After: after, Limit: 4})
		require.NoError(t, err)
		for _, p := range page {
			paged = append(paged, p.Key)
		}
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].Key
	}
	require.Equal(t, want, paged)

	stop := errors.New("stop")
	n := 0
	err = s.EachPerson(ctx(t), func(model.Person) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop, "the callback's error ends the walk and comes back")
	require.Equal(t, 2, n)
}

var importTests = []test{
	{"ImportMissingAndReturned", testImportMissingAndReturned},
	{"ImportRekeyKeepsAccounts", testImportRekey},
	{"ImportCrossSourceConflict", testImportConflict},
	{"ImportBadInputChangesNothing", testImportBadInput},
	{"ImportPartialMarksNoneMissing", testImportPartial},
	{"ImportPullStateAdvancesWithIt", testImportPullState},
	{"ImportLargeFeedIsAllOrNothing", testImportLargeFeed},
}

func person(key string, attrs model.Attributes) model.Person {
	return model.Person{Key: key, Attributes: attrs, Start: model.MustDate("2024-01-01")}
}

func applyImport(t *testing.T, s store.Store, imp store.Import) store.ImportResult {
	t.Helper()
	res, err := s.ApplyImport(ctx(t), imp)
	require.NoError(t, err)
	return res
}

func testImportMissingAndReturned(t *testing.T, s store.Store) {
	day1, day2, day3 := model.MustDate("2025-03-01"), model.MustDate("2025-03-02"), model.MustDate("2025-03-03")
	feed := func(date model.Date, ps ...model.Person) store.Import {
		return store.Import{Source: "hr", Persons: store.PersonsOf(ps...), Date: date, At: date.Time()}
	}
	a, b, c := person("A", typedAttrs()), person("B", model.Attributes{"dept": "ops"}), person("C", nil)

	res := applyImport(t, s, feed(day1, a, b, c))
	require.Equal(t, store.ImportResult{Added: 3}, res)
	got, err := s.GetPerson(ctx(t), "A")
	require.NoError(t, err)
	require.Equal(t, "hr", got.Source, "the import's source owns its persons")
	require.Equal(t, typedAttrs(), got.Attributes)

	res = applyImport(t, s, feed(day1, a, b, c))
	require.Equal(t, store.ImportResult{Unchanged: 3}, res)

	b2 := person("B", model.Attributes{"dept": "eng"})
	res = applyImport(t, s, feed(day2, a, b2))
	require.Equal(t, store.ImportResult{Updated: 1, Unchanged: 1, Missing: 1}, res)
	got, err = s.GetPerson(ctx(t), "C")
	require.NoError(t, err)
	require.Equal(t, day2, got.MissingSince)
	got, err = s.GetPerson(ctx(t), "B")
	require.NoError(t, err)
	require.Equal(t, "eng", got.Attributes["dept"])

	// Still missing the next day: the mark keeps the first day.
	res = applyImport(t, s, feed(day3, a, b2))
	require.Equal(t, store.ImportResult{Unchanged: 2}, res)
	got, err = s.GetPerson(ctx(t), "C")
	require.NoError(t, err)
	require.Equal(t, day2, got.MissingSince)

	// Back in the feed: returned, whatever else changed.
	c2 := c
	c2.End = model.MustDate("2025-06-30")
	res = applyImport(t, s, feed(day3, a, b2, c2))
	require.Equal(t, store.ImportResult{Unchanged: 2, Returned: 1}, res)
	got, err = s.GetPerson(ctx(t), "C")
	require.NoError(t, err)
	require.True(t, got.MissingSince.IsZero(), "the missing mark is cleared")
	require.Equal(t, c2.End, got.End)
}

func testImportRekey(t *testing.T, s store.Store) {
	day := model.MustDate("2025-03-01")
	applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(person("C1", nil), person("K", nil)), Date: day, At: t0})
	require.NoError(t, s.ApplyAccountChanges(ctx(t), []model.AccountChange{
		{Target: "crm", PersonKey: "C1", Upsert: true, NativeID: "n-1", Grant: []string{"sales", "admin"}, At: t0},
		{Target: "mail", PersonKey: "C1", Upsert: true, NativeID: "m-1", At: t0},
	}))

	conv := store.Import{Source: "hr", Persons: store.PersonsOf(person("E1", model.Attributes{"type": "employee"}), person("K", nil)),
		Date: day.AddDays(1), At: at(24 * time.Hour), Rekeys: map[string]string{"C1": "E1"}}
	res := applyImport(t, s, conv)
	require.Equal(t, store.ImportResult{Updated: 1, Unchanged: 1, Rekeyed: 1}, res, "the old key moved, it did not leave")

	_, err := s.GetPerson(ctx(t), "C1")
	require.ErrorIs(t, err, store.ErrNotFound)
	p, err := s.GetPerson(ctx(t), "E1")
	require.NoError(t, err)
	require.Equal(t, "employee", p.Attributes["type"])
	acc, err := s.GetAccount(ctx(t), "crm", "E1")
	require.NoError(t, err)
	require.Equal(t, "n-1", acc.NativeID)
	require.Equal(t, []string{"admin", "sales"}, acc.Entitlements)
	_, err = s.GetAccount(ctx(t), "mail", "E1")
	require.NoError(t, err)
	_, err = s.GetAccount(ctx(t), "crm", "C1")
	require.ErrorIs(t, err, store.ErrNotFound)

	// Running the same import again finds nothing left to move.
	res = applyImport(t, s, conv)
	require.Equal(t, store.ImportResult{Unchanged: 2}, res)
}

func testImportConflict(t *testing.T, s store.Store) {
	day := model.MustDate("2025-03-01")
	applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(person("E1", nil)), Date: day, At: t0})
	applyImport(t, s, store.Import{Source: "contractors", Persons: store.PersonsOf(person("X1", nil), person("X2", nil)), Date: day, At: t0})

	_, err := s.ApplyImport(ctx(t), store.Import{Source: "contractors",
		Persons: store.PersonsOf(person("X1", model.Attributes{"changed": true}), person("E1", nil), person("X3", nil)),
		Date:    day.AddDays(1), At: at(24 * time.Hour)})
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, err.Error(), `"E1"`, "the error names the key")
	require.Contains(t, err.Error(), `"hr"`, "and the source that owns it")

	// Nothing changed: no new person, no update, no missing mark.
	_, err = s.GetPerson(ctx(t), "X3")
	require.ErrorIs(t, err, store.ErrNotFound)
	x1, err := s.GetPerson(ctx(t), "X1")
	require.NoError(t, err)
	require.Nil(t, x1.Attributes)
	x2, err := s.GetPerson(ctx(t), "X2")
	require.NoError(t, err)
	require.True(t, x2.MissingSince.IsZero())
	e1, err := s.GetPerson(ctx(t), "E1")
	require.NoError(t, err)
	require.Equal(t, "hr", e1.Source)
}

func testImportBadInput(t *testing.T, s store.Store) {
	day := model.MustDate("2025-03-01")
	applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(person("E1", nil)), Date: day, At: t0})
	for name, imp := range map[string]store.Import{
		"duplicate key": {Source: "hr", Persons: store.PersonsOf(person("E2", nil), person("E2", nil))},
		"empty key":     {Source: "hr", Persons: store.PersonsOf(person("", nil))},
		"bad attribute": {Source: "hr", Persons: store.PersonsOf(person("E3", model.Attributes{"x": struct{}{}}))},
		"empty source":  {Persons: store.PersonsOf(person("E4", nil))},
	} {
		_, err := s.ApplyImport(ctx(t), imp)
		require.Error(t, err, name)
	}
	var keys []string
	require.NoError(t, s.EachPerson(ctx(t), func(p model.Person) error {
		keys = append(keys, p.Key)
		require.True(t, p.MissingSince.IsZero(), fmt.Sprintf("%s was marked missing by a rejected import", p.Key))
		return nil
	}))
	require.Equal(t, []string{"E1"}, keys)
}

// largeFeed is more persons than a store would write in one batch, so
// that a failure late in the feed comes after earlier batches were
// written inside the import's transaction.
const largeFeed = 2500

// numbered streams persons P0000.. in descending key order (the feed's
// order is not the store's), calling last before the final one: a feed
// that fails there fails after everything else was handed over.
func numbered(n int, attrs model.Attributes, last func() (model.Person, error)) store.PersonFeed {
	return func(fn func(model.Person) error) error {
		for i := n - 1; i > 0; i-- {
			if err := fn(person(fmt.Sprintf("P%04d", i), attrs)); err != nil {
				return err
			}
		}
		p, err := last()
		if err != nil {
			return err
		}
		return fn(p)
	}
}

func testImportLargeFeed(t *testing.T, s store.Store) {
	day := model.MustDate("2025-03-01")
	first := func() (model.Person, error) { return person("P0000", nil), nil }
	res := applyImport(t, s, store.Import{Source: "hr", Persons: numbered(largeFeed, nil, first), Date: day, At: t0})
	require.Equal(t, store.ImportResult{Added: largeFeed}, res)
	applyImport(t, s, store.Import{Source: "crm", Persons: store.PersonsOf(person("C1", nil)), Date: day, At: t0})

	changed := model.Attributes{"dept": "new"}
	feedFailed := errors.New("the feed broke at its end")
	for name, tc := range map[string]struct {
		last func() (model.Person, error)
		want error
	}{
		"the feed's own error": {func() (model.Person, error) { return model.Person{}, feedFailed }, feedFailed},
		"duplicate key at end": {func() (model.Person, error) { return person("P1234", nil), nil }, nil},
		"bad attribute at end": {func() (model.Person, error) { return person("P0000", model.Attributes{"x": struct{}{}}), nil }, nil},
		"other source's key":   {func() (model.Person, error) { return person("C1", nil), nil }, store.ErrConflict},
		"empty key at the end": {func() (model.Person, error) { return person("", nil), nil }, nil},
	} {
		// Every person changes and half of the source's persons are
		// absent, so a partial write would show.
		_, err := s.ApplyImport(ctx(t), store.Import{Source: "hr", Persons: numbered(largeFeed/2, changed, tc.last),
			Date: day.AddDays(1), At: at(24 * time.Hour)})
		require.Error(t, err, name)
		if tc.want != nil {
			require.ErrorIs(t, err, tc.want, name)
		}
	}
	_, err := s.ApplyImport(ctx(t), store.Import{Source: "hr", Date: day.AddDays(1), At: at(24 * time.Hour),
		Persons: numbered(largeFeed, nil, func() (model.Person, error) { return person("C1", nil), nil })})
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, err.Error(), `"C1" is owned by source "crm"`, "a conflict in the last batch names the key and its owner")
	n := 0
	require.NoError(t, s.EachPerson(ctx(t), func(p model.Person) error {
		n++
		require.Nil(t, p.Attributes, "%s was changed by a rejected import", p.Key)
		require.True(t, p.MissingSince.IsZero(), "%s was marked missing by a rejected import", p.Key)
		return nil
	}))
	require.Equal(t, largeFeed+1, n)

	// The same feed, good this time: updates and missing marks span batches.
	res = applyImport(t, s, store.Import{Source: "hr", Persons: numbered(largeFeed/2, changed, first),
		Date: day.AddDays(1), At: at(24 * time.Hour)})
	require.Equal(t, store.ImportResult{Updated: largeFeed/2 - 1, Unchanged: 1, Missing: largeFeed - largeFeed/2}, res)
	missing := 0
	require.NoError(t, s.EachPerson(ctx(t), func(p model.Person) error {
		if !p.MissingSince.IsZero() {
			missing++
			require.Equal(t, day.AddDays(1), p.MissingSince)
		}
		return nil
	}))
	require.Equal(t, largeFeed-largeFeed/2, missing)
}
