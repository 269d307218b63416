package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var accountTests = []test{
	{"AccountUpsertCreates", testAccountUpsertCreates},
	{"AccountModify", testAccountModify},
	{"AccountModifyMissingIgnored", testAccountModifyMissing},
	{"AccountDelete", testAccountDelete},
	{"AccountEachAndCount", testAccountEachAndCount},
	{"AccountBadChangeChangesNothing", testAccountBadChange},
	{"AccountNativeIDsFollowEveryWrite", testAccountNativeIDs},
	{"AccountEachAcrossPages", testAccountEachAcrossPages},
}

// testAccountEachAcrossPages: EachAccount and EachPerson read a page at a
// time (so that no read stays open while the caller writes); every row
// comes once, in order, also where a page ends between the accounts of one
// person, and an error from fn stops the walk.
func testAccountEachAcrossPages(t *testing.T, s store.Store) {
	applyImport(t, s, store.Import{Source: "hr", Persons: numbered(largeFeed, nil, func() (model.Person, error) { return person("P0000", nil), nil }), Date: model.MustDate("2025-03-01"), At: t0})
	var cs []model.AccountChange
	var want []store.PersonTarget
	var keys []string
	require.NoError(t, s.EachPerson(ctx(t), func(p model.Person) error {
		keys = append(keys, p.Key)
		return nil
	}))
	require.Len(t, keys, largeFeed)
	require.True(t, slices.IsSorted(keys), "persons in key order")
	require.Len(t, slices.Compact(slices.Clone(keys)), largeFeed, "each person once")
	for i, k := range keys {
		targets := []string{"crm", "mail"}
		if i%7 == 0 {
			targets = []string{"crm", "hr", "mail"} // pages end inside a person's accounts
		}
		for _, tg := range targets {
			cs = append(cs, model.AccountChange{Target: tg, PersonKey: k, Upsert: true, At: t0})
			want = append(want, store.PersonTarget{Person: k, Target: tg})
		}
	}
	changeAccounts(t, s, cs...)
	walk := func(target string) []store.PersonTarget {
		var out []store.PersonTarget
		require.NoError(t, s.EachAccount(ctx(t), target, func(a model.Account) error {
			out = append(out, store.PersonTarget{Person: a.PersonKey, Target: a.Target})
			return nil
		}))
		return out
	}
	require.Equal(t, want, walk(""))
	var hr []store.PersonTarget
	for _, pt := range want {
		if pt.Target == "hr" {
			hr = append(hr, pt)
		}
	}
	require.Equal(t, hr, walk("hr"))
	require.Len(t, walk("crm"), largeFeed)

	stop := errors.New("stop")
	n := 0
	err := s.EachAccount(ctx(t), "", func(model.Account) error {
		if n++; n == 1500 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1500, n, "nothing after the error")
}

func getAccount(t *testing.T, s store.Store, target, person string) model.Account {
	t.Helper()
	a, err := s.GetAccount(ctx(t), target, person)
	require.NoError(t, err)
	return a
}

func changeAccounts(t *testing.T, s store.Store, cs ...model.AccountChange) {
	t.Helper()
	require.NoError(t, s.ApplyAccountChanges(ctx(t), cs))
}

func testAccountUpsertCreates(t *testing.T, s store.Store) {
	changeAccounts(t, s, model.AccountChange{
		Target: "crm", PersonKey: "E1", Upsert: true, NativeID: "u-1", Link: map[string]string{"dn": "cn=e1"},
		Attributes: typedAttrs(), Grant: []string{"b", "a", "b"}, At: t0,
	})
	want := model.Account{
		Target: "crm", PersonKey: "E1", NativeID: "u-1", Link: map[string]string{"dn": "cn=e1"},
		Attributes: typedAttrs(), State: model.AccountEnabled, Entitlements: []string{"a", "b"}, UpdatedAt: t0,
	}
	require.Equal(t, want, getAccount(t, s, "crm", "E1"), "empty state means enabled; entitlements sorted and unique")

	changeAccounts(t, s, model.AccountChange{Target: "crm", PersonKey: "E2", Upsert: true, State: model.AccountDisabled, At: t0})
	a := getAccount(t, s, "crm", "E2")
	require.Equal(t, model.AccountDisabled, a.State)
	require.Equal(t, t0, a.DisabledAt)

	// An upsert of a known account merges into it.
	changeAccounts(t, s, model.AccountChange{Target: "crm", PersonKey: "E1", Upsert: true,
		Attributes: model.Attributes{"name": "Ada King"}, Grant: []string{"c"}, At: at(time.Minute)})
	a = getAccount(t, s, "crm", "E1")
	require.Equal(t, "Ada King", a.Attributes["name"])
	require.Equal(t, int64(7), a.Attributes["level"])
	require.Equal(t, "u-1", a.NativeID)
	require.Equal(t, []string{"a", "b", "c"}, a.Entitlements)
	require.Equal(t, at(time.Minute), a.UpdatedAt)
}

func testAccountModify(t *testing.T, s store.Store) {
	changeAccounts(t, s, model.AccountChange{Target: "crm", PersonKey: "E1", Upsert: true, NativeID: "u-1",
		Link: map[string]string{"k": "v"}, Attributes: model.Attributes{"a": "1", "b": "2"}, Grant: []string{"x", "y"}, At: t0})

	steps := []struct {
		name   string
		change model.AccountChange
		check  func(t *testing.T, a model.Account)
	}{
		{"merge attributes", model.AccountChange{Attributes: model.Attributes{"b": "3", "c": int64(4)}},
			func(t *testing.T, a model.Account) {
				require.Equal(t, model.Attributes{"a": "1", "b": "3", "c": int64(4)}, a.Attributes)
				require.Equal(t, map[string]string{"k": "v"}, a.Link, "a nil link keeps the known one")
				require.Equal(t, "u-1", a.NativeID, "an empty native ID keeps the known one")
			}},
		{"disable", model.AccountChange{State: model.AccountDisabled},
			func(t *testing.T, a model.Account) {
				require.Equal(t, model.AccountDisabled, a.State)
				require.Equal(t, at(2*time.Minute), a.DisabledAt)
			}},
		{"disable again keeps the first time", model.AccountChange{State: model.AccountDisabled},
			func(t *testing.T, a model.Account) { require.Equal(t, at(2*time.Minute), a.DisabledAt) }},
		{"enable clears DisabledAt", model.AccountChange{State: model.AccountEnabled},
			func(t *testing.T, a model.Account) {
				require.Equal(t, model.AccountEnabled, a.State)
				require.True(t, a.DisabledAt.IsZero())
			}},
		{"replace link and native ID", model.AccountChange{Link: map[string]string{"k2": "v2"}, NativeID: "u-2"},
			func(t *testing.T, a model.Account) {
				require.Equal(t, map[string]string{"k2": "v2"}, a.Link)
				require.Equal(t, "u-2", a.NativeID)
			}},
		{"grant and revoke", model.AccountChange{Grant: []string{"z", "a", "x"}, Revoke: []string{"y", "never-had"}},
			func(t *testing.T, a model.Account) { require.Equal(t, []string{"a", "x", "z"}, a.Entitlements) }},
		{"revoke all", model.AccountChange{Revoke: []string{"a", "x", "z"}},
			func(t *testing.T, a model.Account) { require.Empty(t, a.Entitlements) }},
	}
	for i, st := range steps {
		c := st.change
		c.Target, c.PersonKey, c.At = "crm", "E1", at(time.Duration(i+1)*time.Minute)
		changeAccounts(t, s, c)
		a := getAccount(t, s, "crm", "E1")
		require.Equal(t, c.At, a.UpdatedAt, st.name)
		st.check(t, a)
	}
}

func testAccountModifyMissing(t *testing.T, s store.Store) {
	changeAccounts(t, s,
		model.AccountChange{Target: "crm", PersonKey: "ghost", Attributes: model.Attributes{"a": "1"}, Grant: []string{"g"}, At: t0},
		model.AccountChange{Target: "crm", PersonKey: "ghost", Delete: true, At: t0},
	)
	_, err := s.GetAccount(ctx(t), "crm", "ghost")
	require.ErrorIs(t, err, store.ErrNotFound, "a change to an unknown account creates nothing")
}

func testAccountDelete(t *testing.T, s store.Store) {
	changeAccounts(t, s,
		model.AccountChange{Target: "crm", PersonKey: "E1", Upsert: true, Grant: []string{"a", "b"}, At: t0},
		model.AccountChange{Target: "mail", PersonKey: "E1", Upsert: true, At: t0},
	)
	changeAccounts(t, s, model.AccountChange{Target: "crm", PersonKey: "E1", Delete: true, At: at(time.Minute)})
	_, err := s.GetAccount(ctx(t), "crm", "E1")
	require.ErrorIs(t, err, store.ErrNotFound)
	getAccount(t, s, "mail", "E1")

	// Created again, it starts without the old entitlements.
	changeAccounts(t, s, model.AccountChange{Target: "crm", PersonKey: "E1", Upsert: true, At: at(2 * time.Minute)})
	require.Empty(t, getAccount(t, s, "crm", "E1").Entitlements)

	// Changes apply in order within one call.
	changeAccounts(t, s,
		model.AccountChange{Target: "crm", PersonKey: "E1", Delete: true, At: at(3 * time.Minute)},
		model.AccountChange{Target: "crm", PersonKey: "E1", Upsert: true, NativeID: "new", At: at(3 * time.Minute)},
		model.AccountChange{Target: "mail", PersonKey: "E1", Grant: []string{"m"}, At: at(3 * time.Minute)},
		model.AccountChange{Target: "mail", PersonKey: "E1", Delete: true, At: at(3 * time.Minute)},
	)
	require.Equal(t, "new", getAccount(t, s, "crm", "E1").NativeID)
	_, err = s.GetAccount(ctx(t), "mail", "E1")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testAccountEachAndCount(t *testing.T, s store.Store) {
	var cs []model.AccountChange
	for _, p := range []string{"E2", "E10", "E1"} {
		for _, tg := range []string{"mail", "crm"} {
			cs = append(cs, model.AccountChange{Target: tg, PersonKey: p, Upsert: true, At: t0})
		}
	}
	cs = append(cs, model.AccountChange{Target: "hr", PersonKey: "E1", Upsert: true, At: t0})
	changeAccounts(t, s, cs...)

	walk := func(target string) []store.PersonTarget {
		var out []store.PersonTarget
		require.NoError(t, s.EachAccount(ctx(t), target, func(a model.Account) error {
			out = append(out, store.PersonTarget{Person: a.PersonKey, Target: a.Target})
			return nil
		}))
		return out
	}
	pt := func(p, tg string) store.PersonTarget { return store.PersonTarget{Person: p, Target: tg} }
	require.Equal(t, []store.PersonTarget{
		pt("E1", "crm"), pt("E1", "hr"), pt("E1", "mail"), pt("E10", "crm"), pt("E10", "mail"), pt("E2", "crm"), pt("E2", "mail"),
	}, walk(""))
	require.Equal(t, []store.PersonTarget{pt("E1", "crm"), pt("E10", "crm"), pt("E2", "crm")}, walk("crm"))
	require.Empty(t, walk("nowhere"))

	counts, err := s.CountAccounts(ctx(t))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"crm": 3, "mail": 3, "hr": 1}, counts)
}

func testAccountBadChange(t *testing.T, s store.Store) {
	changeAccounts(t, s, model.AccountChange{Target: "crm", PersonKey: "E1", Upsert: true, At: t0})
	err := s.ApplyAccountChanges(ctx(t), []model.AccountChange{
		{Target: "crm", PersonKey: "E1", Grant: []string{"g"}, At: t0},
		{Target: "crm", PersonKey: "E2", Upsert: true, Attributes: model.Attributes{"bad": struct{}{}}, At: t0},
	})
	require.Error(t, err)
	require.Empty(t, getAccount(t, s, "crm", "E1").Entitlements, "a rejected batch applies nothing")
	_, err = s.GetAccount(ctx(t), "crm", "E2")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// testAccountNativeIDs writes, in one batch, accounts whose native ID is
// new, kept, replaced, or kept and replaced across a delete and a new
// create (a store may write rows that keep their native ID differently):
// the lookup by native ID and every column read back must show the
// batch's outcome.
func testAccountNativeIDs(t *testing.T, s store.Store) {
	for _, p := range []string{"keep", "move", "again-same", "again-new"} {
		changeAccounts(t, s, model.AccountChange{Target: "crm", PersonKey: p, Upsert: true, NativeID: "n-" + p,
			Link: map[string]string{"dn": p}, Attributes: model.Attributes{"a": "1"}, At: t0})
	}
	later := at(time.Minute)
	changeAccounts(t, s,
		model.AccountChange{Target: "crm", PersonKey: "fresh", Upsert: true, NativeID: "n-fresh", At: later},
		model.AccountChange{Target: "crm", PersonKey: "keep", Attributes: model.Attributes{"a": "2"}, Grant: []string{"g"}, At: later},
		model.AccountChange{Target: "crm", PersonKey: "move", NativeID: "n-moved", Link: map[string]string{"dn": "moved"}, At: later},
		model.AccountChange{Target: "crm", PersonKey: "again-same", Delete: true, At: later},
		model.AccountChange{Target: "crm", PersonKey: "again-same", Upsert: true, NativeID: "n-again-same", State: model.AccountDisabled, At: later},
		model.AccountChange{Target: "crm", PersonKey: "again-new", Delete: true, At: later},
		model.AccountChange{Target: "crm", PersonKey: "again-new", Upsert: true, NativeID: "n-again-new-2", At: later},
	)
	known, err := s.KnownByNativeID(ctx(t), "crm", []string{"n-fresh", "n-keep", "n-move", "n-moved",
		"n-again-same", "n-again-new", "n-again-new-2"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"n-fresh": "fresh", "n-keep": "keep", "n-moved": "move",
		"n-again-same": "again-same", "n-again-new-2": "again-new"}, known)

	keep := getAccount(t, s, "crm", "keep")
	require.Equal(t, model.Account{Target: "crm", PersonKey: "keep", NativeID: "n-keep", Link: map[string]string{"dn": "keep"},
		Attributes: model.Attributes{"a": "2"}, State: model.AccountEnabled, Entitlements: []string{"g"}, UpdatedAt: later}, keep)
	move := getAccount(t, s, "crm", "move")
	require.Equal(t, "n-moved", move.NativeID)
	require.Equal(t, map[string]string{"dn": "moved"}, move.Link)
	same := getAccount(t, s, "crm", "again-same")
	require.Equal(t, model.Account{Target: "crm", PersonKey: "again-same", NativeID: "n-again-same",
		State: model.AccountDisabled, DisabledAt: later, UpdatedAt: later}, same, "created again: nothing of the deleted account is kept")
	require.Equal(t, "n-again-new-2", getAccount(t, s, "crm", "again-new").NativeID)
}
