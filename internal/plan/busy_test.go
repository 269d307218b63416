package plan_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
)

// TestBusyPairsFoundAcrossPages: the planner reads the store's busy pairs
// with each page of persons; every busy pair is skipped and reported, on
// both sides of a page boundary, and pairs of keys that are not persons
// (before, between and after them) are passed over. The plan is the one a planner
// given every busy pair up front makes.
func TestBusyPairsFoundAcrossPages(t *testing.T) {
	ctx := context.Background()
	st, pl := streamWorld(t, 1500)
	key := func(i int) string { return fmt.Sprintf("P%07d", i) }
	var jobs []model.Job
	add := func(person, target string) {
		jobs = append(jobs, model.Job{PersonKey: person, Target: target, Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}})
	}
	add("A-nobody", "t0")
	for i := 0; i < 1200; i++ {
		if i < 600 {
			add(key(i), "t0")
		}
		if i < 600 || i%3 == 0 {
			add(key(i), "t1")
		}
	}
	add(key(700)+"a", "t0")
	add("~orphan:n-9", "t1")
	live := model.Run{ID: "live", State: model.RunPending}
	require.NoError(t, st.CreateRun(ctx, &live, jobs))

	all, err := st.ListBusy(ctx, store.BusyQuery{})
	require.NoError(t, err)
	require.Len(t, all, len(jobs))
	require.Greater(t, len(all), 1000, "the busy pairs span pages of persons")
	busyMap, err := st.Busy(ctx)
	require.NoError(t, err)

	for _, target := range []string{"", "t1"} {
		t.Run("target="+target, func(t *testing.T) {
			streamed := &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today, Target: target}
			got, err := plan.Build(ctx, st, streamed, false)
			require.NoError(t, err)

			given := &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today, Target: target, Busy: map[plan.Key]bool{}}
			for k := range busyMap {
				given.Busy[plan.Key{Person: k.Person, Target: k.Target}] = true
			}
			want, err := plan.Build(ctx, st, given, false)
			require.NoError(t, err)

			require.Equal(t, want.Busy, got.Busy)
			require.Equal(t, want.Jobs, got.Jobs)
			var wantBusy []plan.Key
			for _, p := range all {
				if slices.Contains([]string{"A-nobody", key(700) + "a", "~orphan:n-9"}, p.Person) || (target != "" && p.Target != target) {
					continue
				}
				wantBusy = append(wantBusy, plan.Key{Person: p.Person, Target: p.Target})
			}
			require.Greater(t, len(wantBusy), plan.BusyShown)
			require.Equal(t, len(wantBusy), got.Busy.Count, "every busy pair is counted")
			require.Equal(t, wantBusy[:plan.BusyShown], got.Busy.First, "the first are kept, in key order")
			require.Equal(t, len(wantBusy)-plan.BusyShown, got.Busy.More())
			for _, j := range got.Jobs {
				require.False(t, busyMap[store.PersonTarget{Person: j.PersonKey, Target: j.Target}], "%s on %s is busy", j.PersonKey, j.Target)
			}
			require.NotEmpty(t, got.Jobs, "the free pairs are planned")
		})
	}

	// One person: their pairs alone are read.
	one := &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today, Person: key(500)}
	res, err := plan.Build(ctx, st, one, false)
	require.NoError(t, err)
	require.Equal(t, plan.BusyPairs{Count: 2, First: []plan.Key{{Person: one.Person, Target: "t0"}, {Person: one.Person, Target: "t1"}}}, res.Busy)
	require.Empty(t, res.Jobs)
}
