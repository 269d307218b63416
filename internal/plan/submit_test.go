package plan_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// TestSubmitPlanStoresThePlanAsPlanned: a plan submitted as it is planned
// (several batches) is the run Build's plan would give: the same jobs and
// actions, the same thresholds, and the digest of the plan held whole, so
// that the same plan held again is recognised.
func TestSubmitPlanStoresThePlanAsPlanned(t *testing.T) {
	ctx := context.Background()
	st, pl := streamWorld(t, 1500)
	var err error
	pl.Policy.Thresholds.Creates, err = config.ParseLimit("10")
	require.NoError(t, err)
	built, err := plan.Build(ctx, st, &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today}, false)
	require.NoError(t, err)
	require.Greater(t, built.Actions(), 3*4096, "the plan spans several batches")

	res, run, created, err := plan.SubmitPlan(ctx, st, pl, plan.Submission{Trigger: "test", Scope: "all", Now: pl.Today.Time(), Policy: pl.Policy})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, model.RunHeld, run.State)
	require.Empty(t, res.Jobs, "nothing is held in memory")
	jobs, actions := res.Size()
	require.Equal(t, len(built.Jobs), jobs)
	require.Equal(t, built.Actions(), actions)
	require.Equal(t, plan.Check(plan.Count(built.Jobs), map[string]int{}, pl.Policy), run.Breaches)
	require.Equal(t, plan.Digest(built.Jobs), run.Digest)

	got, err := st.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunHeld, got.State)
	require.Equal(t, map[model.ActionState]int{model.ActionPending: actions}, got.Counts)

	// The same plan again: nothing stored, the open run answers.
	_, again, created, err := plan.SubmitPlan(ctx, st, &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today},
		plan.Submission{Trigger: "test", Scope: "all", Now: pl.Today.Time(), Policy: pl.Policy})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, run.ID, again.ID)
	runs, err := st.ListRuns(ctx, store.RunQuery{})
	require.NoError(t, err)
	require.Len(t, runs, 1, "the planning run of the same plan is gone")
}

// TestSubmitPlanLeavesOutTakenPairs: a pair another run took after the
// planner read what was busy is left out of the stored run and reported
// as Busy and Taken, as Submit does for a plan held whole; the rest runs.
func TestSubmitPlanLeavesOutTakenPairs(t *testing.T) {
	ctx := context.Background()
	st, pl := streamWorld(t, 40)
	built, err := plan.Build(ctx, st, &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today}, false)
	require.NoError(t, err)
	first := built.Jobs[0]
	live := model.Run{ID: "live", State: model.RunPending}
	require.NoError(t, st.CreateRun(ctx, &live, []model.Job{{PersonKey: first.PersonKey, Target: first.Target,
		Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}}}))

	pl.Busy = map[plan.Key]bool{} // read before the live run was stored
	res, run, created, err := plan.SubmitPlan(ctx, st, pl, plan.Submission{Trigger: "test", Scope: "all", Now: pl.Today.Time(), Policy: pl.Policy})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, model.RunPending, run.State)
	key := plan.Key{Person: first.PersonKey, Target: first.Target}
	require.Equal(t, plan.BusyPairs{Count: 1, First: []plan.Key{key}}, res.Busy)
	require.Equal(t, []store.Taken{{PersonTarget: store.PersonTarget{Person: key.Person, Target: key.Target}, Run: "live"}}, res.Taken)
	jobs, actions := res.Size()
	require.Equal(t, len(built.Jobs)-1, jobs)
	require.Equal(t, built.Actions()-len(first.Actions), actions)
	got, err := st.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, map[model.ActionState]int{model.ActionPending: actions}, got.Counts)
	require.Contains(t, got.Note, "is already in run live")

	// The same through Submit, with the plan held whole.
	pl2 := &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today, Busy: map[plan.Key]bool{}}
	whole, err := plan.Build(ctx, st, pl2, false)
	require.NoError(t, err)
	run2, created, err := plan.Submit(ctx, st, plan.Submission{Trigger: "test", Scope: "all", Result: whole, Now: pl.Today.Time(), Policy: pl.Policy})
	require.NoError(t, err)
	require.Nil(t, run2, "every pair is taken now: nothing is stored")
	require.False(t, created)
	require.Empty(t, whole.Jobs)
	require.Len(t, whole.Taken, len(built.Jobs))
}

// finishesWhilePlanning is a store in which another run's job for pair
// starts and finishes after the plan was read, just before it is stored.
type finishesWhilePlanning struct {
	*sqlstore.Store
	t    *testing.T
	pair model.Job
}

func (s *finishesWhilePlanning) FinishRun(ctx context.Context, run *model.Run) (store.Dropped, error) {
	quick := model.Run{ID: "quick", State: model.RunPending}
	require.NoError(s.t, s.CreateRun(ctx, &quick, []model.Job{{PersonKey: s.pair.PersonKey, Target: s.pair.Target,
		Actions: []model.Action{{Seq: 1, Op: model.OpCreate}}}}))
	now := time.Now()
	leased, err := s.LeaseJobs(ctx, store.LeaseRequest{Owner: "other", Max: 1, Now: now, Until: now.Add(time.Minute)})
	require.NoError(s.t, err)
	require.Len(s.t, leased, 1)
	j := leased[0]
	require.NoError(s.t, s.Commit(ctx, store.Batch{
		Actions: []store.ActionUpdate{{ID: j.Actions[0].ID, State: model.ActionSucceeded, Attempts: 1, At: now}},
		Jobs:    []store.JobUpdate{{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: now}},
		Fences:  []store.Fence{{Job: j.ID, Epoch: j.Epoch}}}))
	return s.Store.FinishRun(ctx, run)
}

// TestSubmitPlanLeavesOutPairsChangedWhilePlanning: a pair whose job in
// another run started and finished after the plan read it (free again,
// but changed) is left out and reported Taken (Finished), as a taken
// pair is: the planner marks every job with its page's snapshot.
func TestSubmitPlanLeavesOutPairsChangedWhilePlanning(t *testing.T) {
	ctx := context.Background()
	st, pl := streamWorld(t, 40)
	built, err := plan.Build(ctx, st, &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today}, false)
	require.NoError(t, err)
	for _, j := range built.Jobs {
		require.NotZero(t, j.PlanMark, "every planned job carries its page's mark")
	}
	first := built.Jobs[0]
	res, run, created, err := plan.SubmitPlan(ctx, &finishesWhilePlanning{Store: st, t: t, pair: first}, pl,
		plan.Submission{Trigger: "test", Scope: "all", Now: pl.Today.Time(), Policy: pl.Policy})
	require.NoError(t, err)
	require.True(t, created)
	key := plan.Key{Person: first.PersonKey, Target: first.Target}
	require.Equal(t, []store.Taken{{PersonTarget: store.PersonTarget{Person: key.Person, Target: key.Target}, Run: "quick", Finished: true}}, res.Taken)
	require.Equal(t, plan.BusyPairs{Count: 1, First: []plan.Key{key}}, res.Busy)
	jobs, _ := res.Size()
	require.Equal(t, len(built.Jobs)-1, jobs)
	got, err := st.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Contains(t, got.Note, "was changed by run quick after the plan read it")
}
