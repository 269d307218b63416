package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var busyTests = []test{
	{"BusyListedInKeyOrderByPage", testBusyPages},
}

// testBusyPages: ListBusy answers exactly Busy's pairs, ordered by person
// key then target, narrowed by target and person, and paged by After and
// Limit without losing or repeating a pair at a page boundary.
func testBusyPages(t *testing.T, s store.Store) {
	newRun(t, s, "live", model.RunPending, t0,
		job{"E2", "crm", []model.Op{model.OpUpdate}}, job{"E1", "crm", []model.Op{model.OpUpdate}},
		job{"E3", "ad", []model.Op{model.OpCreate}}, job{"E1", "ad", []model.Op{model.OpGrant}},
		job{"E10", "crm", []model.Op{model.OpUpdate}})
	newRun(t, s, "held", model.RunHeld, t0, job{"E4", "crm", []model.Op{model.OpUpdate}})
	newRun(t, s, "gone", model.RunPending, t0, job{"E5", "crm", []model.Op{model.OpUpdate}})
	require.NoError(t, s.SetRunState(ctx(t), "gone", []model.RunState{model.RunPending}, model.RunCancelled, "test", t0))

	list := func(q store.BusyQuery) []store.PersonTarget {
		t.Helper()
		got, err := s.ListBusy(ctx(t), q)
		require.NoError(t, err)
		return got
	}
	pt := func(p, tg string) store.PersonTarget { return store.PersonTarget{Person: p, Target: tg} }
	all := []store.PersonTarget{pt("E1", "ad"), pt("E1", "crm"), pt("E10", "crm"), pt("E2", "crm"), pt("E3", "ad")}
	require.Equal(t, all, list(store.BusyQuery{}), "held and cancelled runs' jobs are not busy")
	busy, err := s.Busy(ctx(t))
	require.NoError(t, err)
	require.Len(t, busy, len(all))
	for _, p := range all {
		require.True(t, busy[p], "%v is busy for Busy too", p)
	}

	var paged []store.PersonTarget
	q := store.BusyQuery{Limit: 2}
	for {
		page := list(q)
		require.LessOrEqual(t, len(page), 2)
		paged = append(paged, page...)
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1]
	}
	require.Equal(t, all, paged, "pages resume after a pair whose person has more pairs")

	require.Equal(t, []store.PersonTarget{pt("E1", "crm"), pt("E10", "crm"), pt("E2", "crm")}, list(store.BusyQuery{Target: "crm"}))
	require.Equal(t, []store.PersonTarget{pt("E1", "ad"), pt("E1", "crm")}, list(store.BusyQuery{Person: "E1"}))
	require.Equal(t, []store.PersonTarget{pt("E1", "crm")}, list(store.BusyQuery{Person: "E1", Target: "crm"}))
	require.Equal(t, []store.PersonTarget{pt("E2", "crm")}, list(store.BusyQuery{Target: "crm", After: pt("E10", "crm")}))
	require.Empty(t, list(store.BusyQuery{After: pt("E3", "ad")}))
	require.Empty(t, list(store.BusyQuery{Person: "E4"}), "a held run's pair")
}
