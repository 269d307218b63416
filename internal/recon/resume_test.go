package recon_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// startIndexes lists the startIndex of every listing of Users the
// simulator answered since its log was reset.
func startIndexes(t *testing.T, sim *targetsim.Sim) []int {
	t.Helper()
	var out []int
	for _, r := range sim.RequestsTo("GET", "/scim/v2/Users") {
		if r.Path != "/scim/v2/Users" || r.Query().Get("filter") != "" {
			continue
		}
		n, err := strconv.Atoi(r.Query().Get("startIndex"))
		require.NoError(t, err)
		out = append(out, n)
	}
	return out
}

// TestKilledReconciliationResumes: a reconciliation stopped midway (its
// context cancelled, or the target failing on a page) resumes from the
// last page saved, without reading the earlier pages again, and finishes
// with the same result as an uninterrupted one.
func TestKilledReconciliationResumes(t *testing.T) {
	cases := []struct {
		name string
		stop func(cancel context.CancelFunc, sim *targetsim.Sim)
	}{
		{"context cancelled", func(cancel context.CancelFunc, _ *targetsim.Sim) { cancel() }},
		{"target fails", func(_ context.CancelFunc, sim *targetsim.Sim) {
			// More failures than the retry budget (2 attempts) absorbs.
			_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "GET", Path: "/scim/v2/Users", Status: 503, Times: 2})
			if err != nil {
				panic(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOpts{drift: "orphan: report"})
			for i := range 20 {
				_, err := w.sim.SCIM().CreateUser(fmt.Sprintf("u%02d@example.com", i), map[string]any{"active": true})
				require.NoError(t, err)
			}
			w.sim.ResetLog()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := recon.Reconcile(ctx, w.env(), "saas", recon.Options{Progress: func(p recon.Progress) {
				if p.Phase == store.ReconAccounts && p.Pages == 3 {
					tc.stop(cancel, w.sim)
				}
			}})
			require.Error(t, err)
			require.ErrorContains(t, err, "resumable")
			recs, err := w.app.Store.ListRecons(context.Background(), store.ReconQuery{Target: "saas"})
			require.NoError(t, err)
			require.Len(t, recs, 1)
			stopped := recs[0]
			require.Equal(t, store.ReconAccounts, stopped.Phase)
			require.Equal(t, 3, stopped.Pages)
			require.Equal(t, 9, stopped.Accounts)
			require.Equal(t, "10", stopped.Cursor, "page size 3: the fourth page starts at 10")
			require.Empty(t, stopped.LeaseOwner, "the lease was given back")
			require.Equal(t, []int{1, 4, 7}, startIndexes(t, w.sim)[:3])

			w.sim.ResetLog()
			res := w.reconcile(recon.Options{})
			require.True(t, res.Resumed)
			require.Equal(t, stopped.ID, res.Recon.ID)
			require.Equal(t, []int{10, 13, 16, 19}, startIndexes(t, w.sim), "earlier pages are not read again")
			require.Equal(t, 20, res.Recon.Accounts)
			require.Equal(t, 20, res.Counts[config.DriftOrphan])
			require.Len(t, w.drift(store.DriftQuery{Target: "saas"}), 20)

			// The next reconciliation is a new one, from the start.
			w.sim.ResetLog()
			next := w.reconcile(recon.Options{})
			require.False(t, next.Resumed)
			require.Equal(t, 1, startIndexes(t, w.sim)[0])
		})
	}
}

// TestConcurrentReconciliationIsRefused: while one process holds a
// target's reconciliation, another is refused instead of interleaving.
func TestConcurrentReconciliationIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{})
	now := w.app.Now()
	_, _, err := w.app.Store.StartRecon(context.Background(), "saas", "someone-else", now, now.Add(time.Hour), time.Time{})
	require.NoError(t, err)
	_, err = recon.Reconcile(context.Background(), w.env(), "saas", recon.Options{})
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorContains(t, err, "in progress")
}
