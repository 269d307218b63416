package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// bothStores runs f on a fresh SQLite store and a fresh PostgreSQL one.
func bothStores(t *testing.T, f func(t *testing.T, s *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, openSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s, err := sqlstore.Open(t.Context(), "postgres", freshSchema(t, postgresDSN(t)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		f(t, s)
	})
}

// A park is kept, replaced by a later one of the same pair, and ended by
// the account becoming known, whichever path writes it.
func TestParkLifecycle(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		p := model.Park{Target: "scim", PersonKey: "E1", Fingerprint: "f1", Reason: "conflict", ActionID: 7, RunID: "r1", At: t0}
		require.NoError(t, s.Park(ctx, p))
		require.NoError(t, s.Park(ctx, model.Park{Target: "rest", PersonKey: "E2", Fingerprint: "x", At: t0}))
		p.Fingerprint, p.ActionID = "f2", 9
		require.NoError(t, s.Park(ctx, p))

		got, err := s.Parked(ctx)
		require.NoError(t, err)
		require.Equal(t, []model.Park{p, {Target: "rest", PersonKey: "E2", Fingerprint: "x", At: t0}}, got)

		require.NoError(t, s.ApplyAccountChanges(ctx, []model.AccountChange{
			{Target: "scim", PersonKey: "E1", NativeID: "u1", Upsert: true, State: model.AccountEnabled, At: t0}}))
		require.NoError(t, s.Unpark(ctx, "rest", "E2"))
		got, err = s.Parked(ctx)
		require.NoError(t, err)
		require.Empty(t, got, "a known account and Unpark end parks")
	})
}

// An unverifiable grant was accepted by the target: its grant is recorded
// as a succeeded one's is.
func TestUnverifiableGrantIsRecorded(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		run := model.Run{ID: "r1", Trigger: "test", Scope: "all", State: model.RunPending, CreatedAt: t0, UpdatedAt: t0}
		jobs := []model.Job{{RunID: "r1", PersonKey: "E1", Target: "scim", State: model.JobPending, Actions: []model.Action{{
			RunID: "r1", Seq: 1, PersonKey: "E1", Target: "scim", Op: model.OpGrant, Entitlements: []string{"g1"},
			Reason: "test", State: model.ActionPending, CreatedAt: t0, UpdatedAt: t0}}}}
		require.NoError(t, s.CreateRun(ctx, &run, jobs))
		require.NoError(t, s.Commit(ctx, store.Batch{
			Actions: []store.ActionUpdate{{ID: jobs[0].Actions[0].ID, State: model.ActionUnverifiable, Attempts: 1, At: t0}},
			Jobs:    []store.JobUpdate{{ID: jobs[0].ID, State: model.JobSucceeded, Attempts: 1, At: t0}},
		}))
		var n int
		require.NoError(t, s.DB().QueryRowContext(ctx,
			`SELECT COUNT(*) FROM entitlement_grants WHERE person_key = 'E1' AND target = 'scim' AND entitlement = 'g1'`).Scan(&n))
		require.Equal(t, 1, n)

		a, err := s.GetAction(ctx, jobs[0].Actions[0].ID)
		require.NoError(t, err)
		require.Equal(t, model.ActionUnverifiable, a.State)
		runs, err := s.FinishRuns(ctx, t0)
		require.NoError(t, err)
		require.Len(t, runs, 1)
		require.Equal(t, model.RunSucceeded, runs[0].State)
		require.Equal(t, map[model.ActionState]int{model.ActionUnverifiable: 1}, runs[0].Counts)
	})
}
