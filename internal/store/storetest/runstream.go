package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var runStreamTests = []test{
	{"RunStreamPlanningIsInvisible", testRunStreamInvisible},
	{"RunStreamDropsTakenPairs", testRunStreamTaken},
	{"RunStreamAllTakenStoresNothing", testRunStreamAllTaken},
	{"RunStreamHeldSameOrSuperseded", testRunStreamHeld},
	{"RunStreamOnePairPerRun", testRunStreamDuplicatePair},
	{"RunStreamAbandonedIsDropped", testRunStreamAbandoned},
	{"RunStreamLiveRunOnALaggingClockIsKept", testRunStreamLaggingClock},
}

// streamJobs builds the jobs of specs for run id, as the planner hands
// them over.
func streamJobs(specs ...job) []model.Job {
	jobs := make([]model.Job, len(specs))
	for i, sp := range specs {
		jobs[i] = model.Job{PersonKey: sp.person, Target: sp.target}
		for k, op := range sp.ops {
			a := model.Action{Seq: k + 1, Op: op, Reason: "test"}
			if op == model.OpGrant || op == model.OpRevoke {
				a.Entitlements = []string{"group"}
			}
			jobs[i].Actions = append(jobs[i].Actions, a)
		}
	}
	return jobs
}

// beginRun begins run id of scope at created and appends each batch.
func beginRun(t *testing.T, s store.Store, id, scope string, created time.Time, batches ...[]model.Job) *model.Run {
	t.Helper()
	run := &model.Run{ID: id, Trigger: "test", Scope: scope, CreatedAt: created, UpdatedAt: created}
	require.NoError(t, s.BeginRun(ctx(t), run))
	for _, b := range batches {
		require.NoError(t, s.AppendJobs(ctx(t), run, b))
	}
	return run
}

// testRunStreamInvisible: a run being planned is stored in parts but is
// not executable, busy or finished until FinishRun; then it is the run
// CreateRun would have stored.
func testRunStreamInvisible(t *testing.T, s store.Store) {
	b1 := streamJobs(job{"E1", "crm", []model.Op{model.OpCreate, model.OpGrant}}, job{"E1", "erp", []model.Op{model.OpCreate}})
	b2 := streamJobs(job{"E2", "crm", []model.Op{model.OpUpdate}})
	run := beginRun(t, s, "r1", "all", t0, b1, b2)
	require.NotZero(t, b1[0].ID)
	require.Less(t, b1[1].ID, b2[0].ID, "jobs get IDs in the order they arrive")
	require.Equal(t, b1[0].ID, b1[0].Actions[1].JobID)
	require.Equal(t, "r1", b2[0].Actions[0].RunID)

	got := getRun(t, s, "r1")
	require.Equal(t, model.RunPlanning, got.State)
	require.False(t, got.State.Executable())
	require.Empty(t, lease(t, s, "w", "", 10, at(time.Minute)), "a planning run is never leased")
	busy, err := s.Busy(ctx(t))
	require.NoError(t, err)
	require.Empty(t, busy, "a planning run keeps nobody busy")
	fin, err := s.FinishRuns(ctx(t), at(time.Minute))
	require.NoError(t, err)
	require.Empty(t, fin, "a planning run is not finished by the engine")
	runs, err := s.ListRuns(ctx(t), store.RunQuery{States: []model.RunState{model.RunPending, model.RunRunning}})
	require.NoError(t, err)
	require.Empty(t, runs)
	err = s.SetRunState(ctx(t), "r1", []model.RunState{model.RunHeld}, model.RunPending, "approved", at(time.Minute))
	require.ErrorIs(t, err, store.ErrConflict, "a planning run cannot be approved")

	run.State = model.RunPending
	dropped, err := s.FinishRun(ctx(t), run)
	require.NoError(t, err)
	require.Equal(t, store.Dropped{}, dropped)
	got = getRun(t, s, "r1")
	require.Equal(t, model.RunPending, got.State)
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 4}, got.Counts)
	busy, err = s.Busy(ctx(t))
	require.NoError(t, err)
	require.Len(t, busy, 3)
	leased := lease(t, s, "w", "", 10, at(time.Minute))
	require.Len(t, leased, 3)
	require.Equal(t, b1[0].ID, leased[0].ID)
	require.Len(t, leased[0].Actions, 2)

	_, err = s.FinishRun(ctx(t), run)
	require.ErrorIs(t, err, store.ErrConflict, "a run is finished planning once")
	require.ErrorIs(t, s.AppendJobs(ctx(t), run, streamJobs(job{"E3", "crm", []model.Op{model.OpCreate}})), store.ErrConflict)
	require.ErrorIs(t, s.DropRun(ctx(t), "r1"), store.ErrConflict, "only a planning run is dropped")
}

// testRunStreamTaken: pairs another run took while the plan was stored
// are left out of an executable run, with their actions, and the run says
// so; the rest runs.
func testRunStreamTaken(t *testing.T, s store.Store) {
	b := streamJobs(job{"E1", "crm", []model.Op{model.OpCreate, model.OpGrant}}, job{"E2", "crm", []model.Op{model.OpCreate}})
	run := beginRun(t, s, "late", "all", at(time.Second), b)
	newRun(t, s, "live", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})

	run.State = model.RunPending
	dropped, err := s.FinishRun(ctx(t), run)
	require.NoError(t, err)
	require.Equal(t, store.Dropped{Actions: 2, Taken: []store.Taken{
		{PersonTarget: store.PersonTarget{Person: "E1", Target: "crm"}, Run: "live"}}}, dropped)
	got := getRun(t, s, "late")
	require.Equal(t, model.RunPending, got.State)
	require.Equal(t, "left out, as another run has them: E1 on crm is already in run live", got.Note)
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 1}, got.Counts)
	acts := listActions(t, s, store.ActionQuery{RunID: "late"})
	require.Len(t, acts, 1)
	require.Equal(t, "E2", acts[0].PersonKey)
	leased := lease(t, s, "w", "", 10, at(time.Minute))
	require.Len(t, leased, 2, "live's E1 and late's E2, one job per pair")

	// A held run is not checked: it does not execute until approved, and
	// approving it skips taken pairs then.
	h := streamJobs(job{"E1", "crm", []model.Op{model.OpDisable}})
	held := beginRun(t, s, "held", "all", at(2*time.Second), h)
	held.State, held.Breaches = model.RunHeld, []model.Breach{{Scope: "overall", Op: model.OpDisable, Limit: "0", Planned: 1}}
	dropped, err = s.FinishRun(ctx(t), held)
	require.NoError(t, err)
	require.Empty(t, dropped.Taken)
	got = getRun(t, s, "held")
	require.Equal(t, model.RunHeld, got.State)
	require.Equal(t, held.Breaches, got.Breaches)
}

// testRunStreamAllTaken: when every pair is taken nothing is left, and
// the run is dropped.
func testRunStreamAllTaken(t *testing.T, s store.Store) {
	newRun(t, s, "live", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	run := beginRun(t, s, "late", "all", at(time.Second), streamJobs(job{"E1", "crm", []model.Op{model.OpUpdate, model.OpGrant}}))
	run.State = model.RunPending
	dropped, err := s.FinishRun(ctx(t), run)
	require.NoError(t, err)
	require.True(t, dropped.Empty)
	require.Equal(t, 2, dropped.Actions)
	require.Len(t, dropped.Taken, 1)
	_, err = s.GetRun(ctx(t), "late")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Len(t, listActions(t, s, store.ActionQuery{}), 1, "only live's action")
}

// testRunStreamHeld: FinishRun does what CreateRun does for held runs:
// the same plan held again is dropped in favour of the open one, a
// different plan supersedes it.
func testRunStreamHeld(t *testing.T, s store.Store) {
	finishHeld := func(id, digest string, created time.Time, person string) (*model.Run, error) {
		run := beginRun(t, s, id, "all", created, streamJobs(job{person, "crm", []model.Op{model.OpDisable}}))
		run.State, run.Digest, run.Note = model.RunHeld, digest, "held: test"
		_, err := s.FinishRun(ctx(t), run)
		return run, err
	}
	_, err := finishHeld("h1", "d1", t0, "E1")
	require.NoError(t, err)
	got, err := finishHeld("h2", "d1", at(time.Second), "E1")
	require.ErrorIs(t, err, store.ErrSameHeld)
	require.Equal(t, "h1", got.ID, "the answer is the open held run")
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 1}, got.Counts)
	_, err = s.GetRun(ctx(t), "h2")
	require.ErrorIs(t, err, store.ErrNotFound, "the planning run of the same plan is dropped")
	require.Len(t, listActions(t, s, store.ActionQuery{}), 1)

	_, err = finishHeld("h3", "d2", at(2*time.Second), "E2")
	require.NoError(t, err)
	h1 := getRun(t, s, "h1")
	require.Equal(t, model.RunCancelled, h1.State)
	require.Equal(t, "superseded by h3", h1.Note)
	require.Empty(t, listActions(t, s, store.ActionQuery{RunID: "h1"}))
	require.Equal(t, "held: test", getRun(t, s, "h3").Note)
}

// testRunStreamDuplicatePair: a person and target appear once in a run,
// across batches too.
func testRunStreamDuplicatePair(t *testing.T, s store.Store) {
	run := beginRun(t, s, "r1", "all", t0, streamJobs(job{"E1", "crm", []model.Op{model.OpCreate}}))
	err := s.AppendJobs(ctx(t), run, streamJobs(job{"E1", "crm", []model.Op{model.OpGrant}}))
	require.ErrorContains(t, err, "a person and target already have a job in the run")
	err = s.AppendJobs(ctx(t), run, streamJobs(job{"E2", "crm", []model.Op{model.OpGrant}}, job{"E2", "crm", []model.Op{model.OpGrant}}))
	require.ErrorContains(t, err, `job #2 ("E2" on "crm"): the same person and target as job #1`)
	require.Len(t, listActions(t, s, store.ActionQuery{RunID: "r1"}), 1, "a refused batch stores nothing")
}

// testRunStreamAbandoned: a run left planning (its planner stopped) is
// dropped by the next BeginRun once it is abandoned, and its planner, if
// it comes back, is refused; DropRun drops a planning run with its jobs.
func testRunStreamAbandoned(t *testing.T, s store.Store) {
	old := time.Now().Add(-store.PlanningAbandoned - time.Minute).Truncate(time.Microsecond)
	stale := beginRun(t, s, "stale", "all", old)
	fresh := beginRun(t, s, "fresh", "all", time.Now(), streamJobs(job{"E1", "crm", []model.Op{model.OpCreate}}))
	_, err := s.GetRun(ctx(t), "stale")
	require.ErrorIs(t, err, store.ErrNotFound, "the abandoned run is dropped")
	err = s.AppendJobs(ctx(t), stale, streamJobs(job{"E2", "crm", []model.Op{model.OpCreate}}))
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorContains(t, err, "not planning")
	stale.State = model.RunPending
	_, err = s.FinishRun(ctx(t), stale)
	require.ErrorIs(t, err, store.ErrConflict)

	beginRun(t, s, "other", "all", time.Now())
	require.Equal(t, model.RunPlanning, getRun(t, s, "fresh").State, "a live planning run is kept")
	require.NoError(t, s.DropRun(ctx(t), "fresh"))
	_, err = s.GetRun(ctx(t), "fresh")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Empty(t, listActions(t, s, store.ActionQuery{}), "its jobs and actions are gone")
	require.NotZero(t, fresh.ID)
}

// testRunStreamLaggingClock: planners whose clock runs behind the
// store's (an app's clock shifted for tests, a node's skew) plan side by
// side; the second one's BeginRun must not take the first one's live run
// for abandoned (three concurrent API enforces failed this way).
func testRunStreamLaggingClock(t *testing.T, s store.Store) {
	behind := time.Now().Add(-48 * time.Hour).Truncate(time.Microsecond)
	first := beginRun(t, s, "first", "E1", behind)
	beginRun(t, s, "second", "E2", behind)
	require.Equal(t, model.RunPlanning, getRun(t, s, "first").State, "a live planning run is kept")
	require.NoError(t, s.AppendJobs(ctx(t), first, streamJobs(job{"E1", "crm", []model.Op{model.OpCreate}})))
}
