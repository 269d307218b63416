package plan_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// streamWorld stores the bench world's persons (no known accounts: an
// initial load) in a real SQLite store.
func streamWorld(t *testing.T, n int) (*sqlstore.Store, *plan.Planner) {
	t.Helper()
	ctx := context.Background()
	today := model.MustDate("2026-06-01")
	pol := benchConfig(t, 2, 10, 4)
	persons, _ := benchWorld(pol, n, 4, today)
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "accord.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	for _, p := range persons {
		require.NoError(t, st.PutPerson(ctx, p))
	}
	return st, &plan.Planner{Policy: pol, Caps: capsFor(pol), Today: today}
}

// TestStreamEmitsWhatBuildKeeps: the streamed plan hands on exactly the
// jobs Build would keep, in the same order, keeps none of them, and
// tallies them as Count would.
func TestStreamEmitsWhatBuildKeeps(t *testing.T) {
	ctx := context.Background()
	st, pl := streamWorld(t, 120)
	built, err := plan.Build(ctx, st, pl, false)
	require.NoError(t, err)
	require.NotEmpty(t, built.Jobs)

	pl2 := &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today}
	var got []model.Job
	res, err := plan.Stream(ctx, st, pl2, false, func(j *model.Job) error {
		got = append(got, *j)
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, res.Jobs, "a streamed plan keeps no jobs")
	require.Equal(t, built.Jobs, got)
	require.Equal(t, built.Actions(), res.Planned)
	require.Equal(t, plan.Count(built.Jobs), res.Counted)
	require.Equal(t, built.Persons, res.Persons)
}

// TestStreamStopsWhenEmitFails: a consumer that cannot take more (a
// full disk, a closed pipe) stops the planner at once, so nothing piles
// up behind it.
func TestStreamStopsWhenEmitFails(t *testing.T) {
	ctx := context.Background()
	st, pl := streamWorld(t, 300)
	full := errors.New("disk full")
	calls := 0
	res, err := plan.Stream(ctx, st, pl, false, func(j *model.Job) error {
		calls++
		if calls == 5 {
			return full
		}
		return nil
	})
	require.ErrorIs(t, err, full)
	require.Nil(t, res)
	require.Equal(t, 5, calls, "no job is planned after the consumer failed")
}

// TestBuildChecksEachJobOnce: Build keeps the jobs it planned, and the
// planner's Check sees each of them once, however many persons follow
// (checking the kept ones again at every person made planning quadratic).
// A job Check refuses is left out and listed as a problem.
func TestBuildChecksEachJobOnce(t *testing.T) {
	ctx := context.Background()
	st, pl := streamWorld(t, 120)
	seen := map[string]int{}
	refused := errors.New("refused")
	pl.Check = func(j *model.Job) error {
		seen[j.PersonKey+"/"+j.Target]++
		if len(seen) == 3 {
			return refused
		}
		return nil
	}
	built, err := plan.Build(ctx, st, pl, false)
	require.NoError(t, err)
	require.Len(t, seen, len(built.Jobs)+1)
	for k, n := range seen {
		require.Equal(t, 1, n, "%s checked %d times", k, n)
	}
	require.Len(t, built.Problems, 1)
	require.ErrorIs(t, built.Problems[0], refused)
}
