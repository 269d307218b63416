package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var runTests = []test{
	{"RunCreateAssignsIDs", testRunCreate},
	{"RunCreateDuplicateID", testRunDuplicate},
	{"RunList", testRunList},
	{"RunSetStateCAS", testRunSetState},
	{"RunCancelCascades", testRunCancel},
	{"RunFinish", testRunFinish},
	{"RunBusy", testRunBusy},
	{"RunConcurrentCreateOneJobPerPair", testRunConcurrentCreate},
	{"RunHeldSameOrSuperseded", testRunHeldSupersede},
	{"RunApproveSkipsTakenPairs", testRunApproveSkipsTaken},
	{"RunRetryRefusedWhenPairTaken", testRunRetryTaken},
	{"ActionList", testActionList},
}

func testRunCreate(t *testing.T, s store.Store) {
	run := model.Run{ID: "r1", Trigger: "cli", Scope: "person=E1", State: model.RunHeld, CreatedAt: t0, UpdatedAt: t0,
		Breaches: []model.Breach{{Scope: "crm", Op: model.OpDisable, Limit: "10%", Max: 3, Planned: 9}}}
	jobs := []model.Job{
		{PersonKey: "E1", Target: "crm", State: model.JobPending, Actions: []model.Action{
			{Seq: 1, Op: model.OpCreate, Attributes: typedAttrs(), NativeID: "", Reason: "joiner", State: model.ActionPending, CreatedAt: t0},
			{Seq: 2, Op: model.OpGrant, Entitlements: []string{"g1", "g2"}, Reason: "joiner", State: model.ActionPending, CreatedAt: t0},
		}},
		{PersonKey: "E2", Target: "crm", State: model.JobPending, Actions: []model.Action{
			{Seq: 1, Op: model.OpUpdate, Attributes: model.Attributes{"title": "Boss"}, Previous: model.Attributes{"title": "Dev"},
				NativeID: "n-2", Reason: "mover", State: model.ActionPending, CreatedAt: t0},
		}},
	}
	require.NoError(t, s.CreateRun(ctx(t), &run, jobs))
	require.NotZero(t, jobs[0].ID)
	require.NotEqual(t, jobs[0].ID, jobs[1].ID)
	var ids []int64
	for _, j := range jobs {
		for _, a := range j.Actions {
			require.NotZero(t, a.ID)
			require.Equal(t, j.ID, a.JobID)
			require.Equal(t, "r1", a.RunID)
			ids = append(ids, a.ID)
		}
	}
	require.IsIncreasing(t, ids, "actions get IDs in job and Seq order")

	got := getRun(t, s, "r1")
	require.Equal(t, run.Breaches, got.Breaches)
	require.Equal(t, model.RunHeld, got.State)
	require.Equal(t, "person=E1", got.Scope)
	require.Equal(t, "cli", got.Trigger)
	require.Equal(t, t0, got.CreatedAt)
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 3}, got.Counts)

	as := listActions(t, s, store.ActionQuery{RunID: "r1"})
	require.Equal(t, ids, actionIDs(as))
	a := getAction(t, s, jobs[1].Actions[0].ID)
	want := jobs[1].Actions[0]
	want.PersonKey, want.Target = "E2", "crm" // from the job
	want.UpdatedAt = a.UpdatedAt              // a store may default it
	require.Equal(t, want, a)
	require.Equal(t, typedAttrs(), getAction(t, s, ids[0]).Attributes)
	require.Equal(t, []string{"g1", "g2"}, getAction(t, s, ids[1]).Entitlements)
}

func testRunDuplicate(t *testing.T, s store.Store) {
	newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpCreate}})
	dup := model.Run{ID: "r1", State: model.RunPending, CreatedAt: t0}
	err := s.CreateRun(ctx(t), &dup, []model.Job{{PersonKey: "E9", Target: "crm", State: model.JobPending}})
	require.ErrorIs(t, err, store.ErrConflict)
	require.Len(t, listActions(t, s, store.ActionQuery{}), 1)
	busy, err := s.Busy(ctx(t))
	require.NoError(t, err)
	require.False(t, busy[store.PersonTarget{Person: "E9", Target: "crm"}], "the rejected run stored no job")
}

func testRunList(t *testing.T, s store.Store) {
	states := []model.RunState{model.RunSucceeded, model.RunHeld, model.RunPending, model.RunHeld, model.RunFailed}
	for i, st := range states {
		newRun(t, s, fmt.Sprintf("r%d", i+1), st, at(time.Duration(i)*time.Minute), job{"E1", "crm", []model.Op{model.OpUpdate}})
	}
	ids := func(q store.RunQuery) []string {
		runs, err := s.ListRuns(ctx(t), q)
		require.NoError(t, err)
		out := []string{}
		for _, r := range runs {
			require.NotNil(t, r.Counts)
			out = append(out, r.ID)
		}
		return out
	}
	require.Equal(t, []string{"r5", "r4", "r3", "r2", "r1"}, ids(store.RunQuery{}))
	require.Equal(t, []string{"r4", "r2"}, ids(store.RunQuery{States: []model.RunState{model.RunHeld}}))
	require.Equal(t, []string{"r5", "r4"}, ids(store.RunQuery{Limit: 2}))
	require.Equal(t, []string{"r3", "r2"}, ids(store.RunQuery{Before: "r4", Limit: 2}))
	require.Equal(t, []string{"r1"}, ids(store.RunQuery{Before: "r2"}))
	require.Equal(t, []string{"r2"}, ids(store.RunQuery{Before: "r4", States: []model.RunState{model.RunHeld}}))
	runs, err := s.ListRuns(ctx(t), store.RunQuery{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 1}, runs[0].Counts)
}

func testRunSetState(t *testing.T, s store.Store) {
	newRun(t, s, "r1", model.RunHeld, t0, job{"E1", "crm", []model.Op{model.OpDisable}})
	require.NoError(t, s.SetRunState(ctx(t), "r1", []model.RunState{model.RunHeld}, model.RunPending, "approved by ops", at(time.Minute)))
	r := getRun(t, s, "r1")
	require.Equal(t, model.RunPending, r.State)
	require.Equal(t, "approved by ops", r.Note)
	require.Equal(t, at(time.Minute), r.UpdatedAt)

	err := s.SetRunState(ctx(t), "r1", []model.RunState{model.RunHeld}, model.RunPending, "again", at(2*time.Minute))
	require.ErrorIs(t, err, store.ErrConflict, "the compare fails: the run is no longer held")
	require.Equal(t, "approved by ops", getRun(t, s, "r1").Note, "a failed compare changes nothing")

	err = s.SetRunState(ctx(t), "nope", []model.RunState{model.RunHeld}, model.RunPending, "", t0)
	require.ErrorIs(t, err, store.ErrNotFound)

	// Held again: its jobs are not leased.
	require.NoError(t, s.SetRunState(ctx(t), "r1", []model.RunState{model.RunPending, model.RunRunning}, model.RunHeld, "", at(3*time.Minute)))
	require.Empty(t, lease(t, s, "w", "", 10, at(4*time.Minute)))
	require.NoError(t, s.SetRunState(ctx(t), "r1", []model.RunState{model.RunHeld}, model.RunPending, "", at(5*time.Minute)))
	require.Len(t, lease(t, s, "w", "", 10, at(6*time.Minute)), 1)
}

func testRunCancel(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0,
		job{"E1", "crm", []model.Op{model.OpUpdate, model.OpGrant}},
		job{"E2", "crm", []model.Op{model.OpUpdate}},
		job{"E3", "crm", []model.Op{model.OpUpdate}})
	leased := lease(t, s, "w", "", 2, at(time.Minute))
	require.Len(t, leased, 2)
	// E1's first action succeeded; E2's job finished; E3 never started.
	require.NoError(t, s.Commit(ctx(t), store.Batch{
		Actions: []store.ActionUpdate{
			{ID: jobs[0].Actions[0].ID, State: model.ActionSucceeded, Attempts: 1, At: at(2 * time.Minute)},
			{ID: jobs[1].Actions[0].ID, State: model.ActionSucceeded, Attempts: 1, At: at(2 * time.Minute)},
		},
		Jobs: []store.JobUpdate{{ID: jobs[1].ID, State: model.JobSucceeded, Attempts: 1, At: at(2 * time.Minute)}},
	}))

	cancelAt := at(3 * time.Minute)
	require.NoError(t, s.SetRunState(ctx(t), "r1", []model.RunState{model.RunPending, model.RunRunning}, model.RunCancelled, "stop", cancelAt))
	r := getRun(t, s, "r1")
	require.Equal(t, model.RunCancelled, r.State)
	require.Equal(t, cancelAt, r.FinishedAt)
	require.Equal(t, map[model.ActionState]int{model.ActionSucceeded: 2, model.ActionCancelled: 2}, r.Counts)

	cancelled := getAction(t, s, jobs[0].Actions[1].ID)
	require.Equal(t, model.ActionCancelled, cancelled.State)
	require.Equal(t, cancelAt, cancelled.FinishedAt)
	require.Equal(t, model.ActionSucceeded, getAction(t, s, jobs[0].Actions[0].ID).State, "final actions stay as they were")

	require.Empty(t, lease(t, s, "w2", "", 10, at(time.Hour)), "expired leases of a cancelled run are not handed out")
	owners, err := s.LeaseOwners(ctx(t))
	require.NoError(t, err)
	require.Empty(t, owners, "cancelling released the leases")
	busy, err := s.Busy(ctx(t))
	require.NoError(t, err)
	require.Empty(t, busy)
}

func testRunFinish(t *testing.T, s store.Store) {
	_, okJobs := newRun(t, s, "ok", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	_, badJobs := newRun(t, s, "bad", model.RunPending, at(time.Second), job{"E2", "crm", []model.Op{model.OpUpdate, model.OpGrant}})
	newRun(t, s, "open", model.RunPending, at(2*time.Second), job{"E3", "crm", []model.Op{model.OpUpdate}})
	newRun(t, s, "held", model.RunHeld, at(3*time.Second))
	newRun(t, s, "empty", model.RunPending, at(4*time.Second))

	finishJob(t, s, okJobs[0], model.ActionSucceeded, at(time.Minute))
	require.NoError(t, s.Commit(ctx(t), store.Batch{
		Actions: []store.ActionUpdate{
			{ID: badJobs[0].Actions[0].ID, State: model.ActionFailed, Attempts: 3, At: at(time.Minute),
				Error: &model.ActionError{Kind: "validation", Message: "bad title", Status: 400, Attribute: "title"}},
			{ID: badJobs[0].Actions[1].ID, State: model.ActionSkipped, At: at(time.Minute)},
		},
		Jobs: []store.JobUpdate{{ID: badJobs[0].ID, State: model.JobFailed, Attempts: 3, At: at(time.Minute)}},
	}))

	done, err := s.FinishRuns(ctx(t), at(time.Hour))
	require.NoError(t, err)
	got := map[string]model.Run{}
	for _, r := range done {
		got[r.ID] = r
	}
	require.Len(t, got, 3, "open has an unfinished job and held is not executable")
	require.Equal(t, model.RunSucceeded, got["ok"].State)
	require.Equal(t, model.RunFailed, got["bad"].State)
	require.Equal(t, model.RunSucceeded, got["empty"].State)
	require.Equal(t, at(time.Hour), got["bad"].FinishedAt)
	require.Equal(t, map[model.ActionState]int{model.ActionFailed: 1, model.ActionSkipped: 1}, got["bad"].Counts)
	require.Equal(t, model.RunPending, getRun(t, s, "open").State)
	require.Equal(t, model.RunHeld, getRun(t, s, "held").State)

	again, err := s.FinishRuns(ctx(t), at(2*time.Hour))
	require.NoError(t, err)
	require.Empty(t, again, "finished runs are reported once")
}

func testRunBusy(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0,
		job{"E1", "crm", []model.Op{model.OpUpdate}},
		job{"E2", "crm", []model.Op{model.OpUpdate}},
		job{"E1", "mail", []model.Op{model.OpUpdate}})
	newRun(t, s, "held", model.RunHeld, at(time.Second), job{"E3", "crm", []model.Op{model.OpDisable}})
	lease(t, s, "w", "mail", 1, at(time.Minute))
	finishJob(t, s, jobs[1], model.ActionSucceeded, at(time.Minute))

	busy, err := s.Busy(ctx(t))
	require.NoError(t, err)
	require.Equal(t, map[store.PersonTarget]bool{
		{Person: "E1", Target: "crm"}:  true,
		{Person: "E1", Target: "mail"}: true, // leased counts as unfinished
	}, busy)
}

func testActionList(t *testing.T, s store.Store) {
	_, j1 := newRun(t, s, "r1", model.RunPending, t0,
		job{"E1", "crm", []model.Op{model.OpUpdate, model.OpGrant}},
		job{"E2", "mail", []model.Op{model.OpCreate}})
	_, j2 := newRun(t, s, "r2", model.RunPending, at(time.Second), job{"E1", "mail", []model.Op{model.OpDisable}})
	require.NoError(t, s.Commit(ctx(t), store.Batch{Actions: []store.ActionUpdate{
		{ID: j1[0].Actions[1].ID, State: model.ActionFailed, At: at(time.Minute), Error: &model.ActionError{Kind: "conflict", Message: "exists"}},
		{ID: j1[1].Actions[0].ID, State: model.ActionFailed, At: at(time.Minute), Error: &model.ActionError{Kind: "auth", Message: "401"}},
		{ID: j2[0].Actions[0].ID, State: model.ActionSucceeded, At: at(time.Minute)},
	}}))
	all := actionIDs(listActions(t, s, store.ActionQuery{}))
	require.Len(t, all, 4)
	require.IsIncreasing(t, all)

	cases := []struct {
		name string
		q    store.ActionQuery
		want []int64
	}{
		{"run", store.ActionQuery{RunID: "r2"}, []int64{j2[0].Actions[0].ID}},
		{"person", store.ActionQuery{PersonKey: "E1"}, []int64{j1[0].Actions[0].ID, j1[0].Actions[1].ID, j2[0].Actions[0].ID}},
		{"target", store.ActionQuery{Target: "mail"}, []int64{j1[1].Actions[0].ID, j2[0].Actions[0].ID}},
		{"states", store.ActionQuery{States: []model.ActionState{model.ActionFailed, model.ActionSucceeded}}, all[1:]},
		{"error kind", store.ActionQuery{ErrorKind: "auth"}, []int64{j1[1].Actions[0].ID}},
		{"combined", store.ActionQuery{PersonKey: "E1", States: []model.ActionState{model.ActionPending}}, []int64{j1[0].Actions[0].ID}},
		{"after", store.ActionQuery{AfterID: all[1]}, all[2:]},
		{"limit", store.ActionQuery{AfterID: all[0], Limit: 2}, all[1:3]},
	}
	for _, c := range cases {
		require.Equal(t, c.want, actionIDs(listActions(t, s, c.q)), c.name)
	}
}

// testRunConcurrentCreate races many planners on the same persons: the
// store keeps one unfinished job per person and target, and every loser is
// told which run has them.
func testRunConcurrentCreate(t *testing.T, s store.Store) {
	const planners, persons = 12, 30
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		won     []string
		refused = map[string]int{}
		other   []error
	)
	for p := range planners {
		wg.Go(func() {
			id := fmt.Sprintf("r%02d", p)
			run := model.Run{ID: id, Scope: "all", State: model.RunPending, CreatedAt: at(time.Duration(p) * time.Millisecond)}
			var jobs []model.Job
			for i := range persons {
				for _, target := range []string{"crm", "mail"} {
					jobs = append(jobs, model.Job{PersonKey: fmt.Sprintf("E%02d", i), Target: target,
						Actions: []model.Action{{Seq: 1, Op: model.OpCreate}, {Seq: 2, Op: model.OpGrant, Entitlements: []string{"g"}}}})
				}
			}
			err := s.CreateRun(t.Context(), &run, jobs)
			mu.Lock()
			defer mu.Unlock()
			var busy *store.BusyError
			switch {
			case err == nil:
				won = append(won, id)
			case errors.As(err, &busy):
				for _, tk := range busy.Taken {
					refused[tk.Run]++
				}
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	require.Empty(t, other)
	require.Len(t, won, 1, "one planner's run is stored")
	require.Equal(t, map[string]int{won[0]: 2 * persons * (planners - 1)}, refused,
		"every loser is refused for every pair, naming the winner's run")
	acts := listActions(t, s, store.ActionQuery{})
	require.Len(t, acts, 2*persons*2, "one run's worth of work")
	for _, a := range acts {
		require.Equal(t, won[0], a.RunID)
	}
	busy, err := s.Busy(ctx(t))
	require.NoError(t, err)
	require.Len(t, busy, 2*persons)
}

// testRunHeldSupersede: the same plan held again stores nothing and
// answers with the open held run; a different plan of the scope supersedes
// it, and the superseded run cannot be approved.
func testRunHeldSupersede(t *testing.T, s store.Store) {
	held := func(id, digest string, created time.Time, person string) (model.Run, error) {
		run := model.Run{ID: id, Scope: "all", State: model.RunHeld, Digest: digest, CreatedAt: created}
		jobs := []model.Job{{PersonKey: person, Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpDisable}}}}
		err := s.CreateRun(ctx(t), &run, jobs)
		return run, err
	}
	_, err := held("h1", "d1", t0, "E1")
	require.NoError(t, err)
	got, err := held("h2", "d1", at(time.Second), "E1")
	require.ErrorIs(t, err, store.ErrSameHeld)
	require.Equal(t, "h1", got.ID, "the answer is the open held run")
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 1}, got.Counts)
	_, err = s.GetRun(ctx(t), "h2")
	require.ErrorIs(t, err, store.ErrNotFound)

	_, err = held("h3", "d2", at(2*time.Second), "E2")
	require.NoError(t, err)
	h1 := getRun(t, s, "h1")
	require.Equal(t, model.RunCancelled, h1.State)
	require.Equal(t, "superseded by h3", h1.Note)
	require.Empty(t, listActions(t, s, store.ActionQuery{RunID: "h1"}), "a superseded plan's actions are dropped")
	err = s.SetRunState(ctx(t), "h1", []model.RunState{model.RunHeld}, model.RunPending, "approved", at(3*time.Second))
	require.ErrorIs(t, err, store.ErrConflict, "a superseded run cannot be approved")

	runs, err := s.ListRuns(ctx(t), store.RunQuery{States: []model.RunState{model.RunHeld}})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, "h3", runs[0].ID)

	// A plan that will run supersedes the held one of its scope too.
	newRunScoped(t, s, "p1", "all", job{"E3", "crm", []model.Op{model.OpUpdate}})
	require.Equal(t, model.RunCancelled, getRun(t, s, "h3").State)
}

func newRunScoped(t *testing.T, s store.Store, id, scope string, sp job) {
	t.Helper()
	run := model.Run{ID: id, Scope: scope, State: model.RunPending, CreatedAt: at(time.Hour)}
	jobs := []model.Job{{PersonKey: sp.person, Target: sp.target}}
	for k, op := range sp.ops {
		jobs[0].Actions = append(jobs[0].Actions, model.Action{Seq: k + 1, Op: op})
	}
	require.NoError(t, s.CreateRun(ctx(t), &run, jobs))
}

// testRunApproveSkipsTaken: approving a held run whose person is taken by
// a newer run leaves that pair to the newer run and says so.
func testRunApproveSkipsTaken(t *testing.T, s store.Store) {
	_, held := newRun(t, s, "held", model.RunHeld, t0,
		job{"E1", "crm", []model.Op{model.OpDisable}}, job{"E2", "crm", []model.Op{model.OpDisable}})
	newRun(t, s, "live", model.RunPending, at(time.Second), job{"E1", "crm", []model.Op{model.OpUpdate}})
	require.NoError(t, s.SetRunState(ctx(t), "held", []model.RunState{model.RunHeld}, model.RunPending, "approved by ann", at(time.Minute)))
	r := getRun(t, s, "held")
	require.Equal(t, "approved by ann; skipped, as another run has them: E1 on crm is already in run live", r.Note)
	require.Equal(t, model.ActionCancelled, getAction(t, s, held[0].Actions[0].ID).State)
	busy, err := s.Busy(ctx(t))
	require.NoError(t, err)
	require.Equal(t, map[store.PersonTarget]bool{{Person: "E1", Target: "crm"}: true, {Person: "E2", Target: "crm"}: true}, busy)
	got := lease(t, s, "w", "", 10, at(time.Minute))
	require.Len(t, got, 2)
	require.Equal(t, held[1].ID, got[0].ID, "the held run's free pair runs")
	require.Equal(t, "live", got[1].RunID)
}

// testRunRetryTaken: a failed action cannot be put back while a newer run
// has its person and target: two unfinished jobs for one account would
// race.
func testRunRetryTaken(t *testing.T, s store.Store) {
	_, old := newRun(t, s, "old", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	got := lease(t, s, "w", "", 1, at(time.Minute))
	finishJob(t, s, got[0], model.ActionFailed, at(time.Minute))
	newRun(t, s, "new", model.RunPending, at(2*time.Minute), job{"E1", "crm", []model.Op{model.OpUpdate}})
	_, err := s.RetryAction(ctx(t), old[0].Actions[0].ID, at(3*time.Minute))
	require.ErrorIs(t, err, store.ErrBusy)
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorContains(t, err, "E1 on crm is already in run new")
	require.Equal(t, model.ActionFailed, getAction(t, s, old[0].Actions[0].ID).State)
}
