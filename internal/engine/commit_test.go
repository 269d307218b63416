package engine

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// TestCommitterRefusesOutcomesOfATakenOverLease: engine A leased two jobs;
// both leases expired and B took one over. A's outcomes for that job are
// refused (their audit records kept as evidence), whether they travel
// alone or in a group with others; A's outcome for the other job, which
// nobody took, goes in.
func TestCommitterRefusesOutcomesOfATakenOverLease(t *testing.T) {
	ctx := t.Context()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "accord.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	run := model.Run{ID: "r1", Scope: "all", State: model.RunPending, CreatedAt: t0}
	jobs := []model.Job{
		{PersonKey: "E1", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}},
		{PersonKey: "E2", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}},
	}
	require.NoError(t, st.CreateRun(ctx, &run, jobs))

	c := newCommitter(st, slog.New(slog.DiscardHandler))
	defer c.Close()
	mine, err := st.LeaseJobs(ctx, store.LeaseRequest{Owner: "A", Max: 2, Now: t0, Until: t0.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, mine, 2)
	c.leases.hold(mine)
	// A's heartbeat stops; both leases expire and B takes one job.
	later := t0.Add(2 * time.Minute)
	theirs, err := st.LeaseJobs(ctx, store.LeaseRequest{Owner: "B", Target: "crm", Max: 1, Now: later, Until: later.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, theirs, 1)
	require.Equal(t, mine[0].ID, theirs[0].ID, "B took E1 over")

	outcome := func(j model.Job) store.Batch {
		a := j.Actions[0]
		return store.Batch{
			Audit:   []audit.Record{{Time: t0, Kind: audit.KindAttemptEnd, RunID: "r1", ActionID: a.ID, Outcome: "succeeded"}},
			Actions: []store.ActionUpdate{{ID: a.ID, State: model.ActionSucceeded, Attempts: 1, At: t0}},
			Jobs:    []store.JobUpdate{{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: t0}},
		}
	}
	c.Async(outcome(mine[0]))
	require.NoError(t, c.Wait(ctx, outcome(mine[1])), "E2 was not taken over: A's outcome stands")
	require.ErrorIs(t, c.Wait(ctx, outcome(mine[0])), store.ErrFenced, "E1 was: A's outcome is refused")

	got, err := st.GetAction(ctx, mine[1].Actions[0].ID)
	require.NoError(t, err)
	require.Equal(t, model.ActionSucceeded, got.State, "the job no one took over is committed")
	got, err = st.GetAction(ctx, mine[0].Actions[0].ID)
	require.NoError(t, err)
	require.Equal(t, model.ActionPending, got.State, "B's job is untouched by A's outcome")
	recs, err := st.ListAudit(ctx, store.AuditQuery{ActionID: mine[0].Actions[0].ID})
	require.NoError(t, err)
	require.Len(t, recs, 2, "A's requests are still in the audit trail")
}
