package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// A store may keep the actions of a job not yet leased in another form
// (sqlstore packs them on the job, issue 16): every reader must see them
// as the actions they are, before and after the job is leased.
var packedTests = []test{
	{"PackedSameAfterLease", testPackedSameAfterLease},
	{"PackedListMixed", testPackedListMixed},
	{"PackedCancel", testPackedCancel},
	{"PackedQueueStats", testPackedQueueStats},
	{"PackedCommitWithoutLease", testPackedCommitWithoutLease},
}

// packedRun stores a pending run of three jobs, with attributes on their
// first actions, and returns the jobs.
func packedRun(t *testing.T, s store.Store, id string, state model.RunState) []model.Job {
	t.Helper()
	run := model.Run{ID: id, Trigger: "test", Scope: "scope " + id, State: state, CreatedAt: t0, UpdatedAt: t0}
	var jobs []model.Job
	for _, p := range []string{"E1", "E2", "E3"} {
		j := model.Job{PersonKey: p, Target: "crm"}
		j.Actions = []model.Action{
			{Seq: 1, Op: model.OpCreate, Reason: "hired \"now\"\n", Attributes: model.Attributes{"userName": p + "@example.com", "displayName": "Ann \u00e9"}},
			{Seq: 2, Op: model.OpGrant, Entitlements: []string{"g1"}, Reason: "role"},
			{Seq: 5, Op: model.OpGrant, Entitlements: []string{"g2", "g\"3"}, NativeID: "n-" + p},
		}
		jobs = append(jobs, j)
	}
	require.NoError(t, s.CreateRun(ctx(t), &run, jobs))
	return jobs
}

func testPackedSameAfterLease(t *testing.T, s store.Store) {
	jobs := packedRun(t, s, "r1", model.RunPending)
	before := listActions(t, s, store.ActionQuery{RunID: "r1"})
	require.Len(t, before, 9)
	var want []model.Action
	for _, j := range jobs {
		want = append(want, j.Actions...)
	}
	require.Equal(t, want, before, "the stored actions are listed as the caller's were filled in")
	for _, a := range before {
		require.Equal(t, a, getAction(t, s, a.ID))
	}
	counts := getRun(t, s, "r1").Counts
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 9}, counts)

	leased := lease(t, s, "w", "", 1, at(time.Minute))
	require.Len(t, leased, 1)
	require.Equal(t, jobs[0].Actions, leased[0].Actions, "the leased job's actions keep their IDs and fields")
	after := listActions(t, s, store.ActionQuery{RunID: "r1"})
	require.Equal(t, before, after, "leasing changes no action")
	for _, a := range after {
		require.Equal(t, a, getAction(t, s, a.ID))
	}
	require.Equal(t, counts, getRun(t, s, "r1").Counts)

	// The rest, and the retry of a still-pending action of another job.
	_, err := s.RetryAction(ctx(t), jobs[2].Actions[1].ID, at(90*time.Second))
	require.NoError(t, err)
	rest := lease(t, s, "w", "", 10, at(90*time.Second))
	require.Equal(t, []int64{jobs[1].ID, jobs[2].ID}, jobIDs(rest))
	require.Equal(t, jobs[2].Actions, rest[1].Actions)
	finishJob(t, s, rest[1], model.ActionSucceeded, at(3*time.Minute))
	got := getAction(t, s, jobs[2].Actions[2].ID)
	require.Equal(t, model.ActionSucceeded, got.State)
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 6, model.ActionSucceeded: 3}, getRun(t, s, "r1").Counts)
	_, err = s.GetAction(ctx(t), jobs[2].Actions[2].ID+1)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// Lists across jobs leased and not keep ID order, limits and filters.
func testPackedListMixed(t *testing.T, s store.Store) {
	jobs := packedRun(t, s, "r1", model.RunPending)
	leased := lease(t, s, "w", "", 1, at(time.Minute))
	require.Equal(t, []int64{jobs[0].ID}, jobIDs(leased))
	// A later run's job (unpacked on its lease below) after a packed one.
	run2 := model.Run{ID: "r2", Trigger: "test", Scope: "other", State: model.RunPending, CreatedAt: t0, UpdatedAt: t0}
	j2 := []model.Job{{PersonKey: "E4", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpCreate}}}}
	require.NoError(t, s.CreateRun(ctx(t), &run2, j2))
	require.NoError(t, s.Commit(ctx(t), store.Batch{Actions: []store.ActionUpdate{
		{ID: jobs[1].Actions[1].ID, State: model.ActionFailed, Attempts: 1, Error: &model.ActionError{Kind: "conflict", Message: "x"}, At: at(time.Minute)}}}))

	var all []int64
	for _, j := range append(jobs, j2...) {
		for _, a := range j.Actions {
			all = append(all, a.ID)
		}
	}
	require.Equal(t, all, actionIDs(listActions(t, s, store.ActionQuery{})))
	// Pages of 2 walk the same IDs.
	var paged []int64
	for after := int64(0); ; {
		page := listActions(t, s, store.ActionQuery{AfterID: after, Limit: 2})
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 2)
		paged = append(paged, actionIDs(page)...)
		after = page[len(page)-1].ID
	}
	require.Equal(t, all, paged)
	require.Equal(t, all[1:5], actionIDs(listActions(t, s, store.ActionQuery{AfterID: all[0], Limit: 4})))
	require.Equal(t, all[4:8], actionIDs(listActions(t, s, store.ActionQuery{AfterID: all[3], Limit: 4})))

	require.Equal(t, actionIDs(jobs[1].Actions), actionIDs(listActions(t, s, store.ActionQuery{PersonKey: "E2"})))
	require.Equal(t, actionIDs(jobs[2].Actions[1:]), actionIDs(listActions(t, s, store.ActionQuery{PersonKey: "E3", AfterID: jobs[2].Actions[0].ID})))
	require.Equal(t, []int64{jobs[1].Actions[1].ID}, actionIDs(listActions(t, s, store.ActionQuery{States: []model.ActionState{model.ActionFailed}})))
	require.Equal(t, []int64{jobs[1].Actions[1].ID}, actionIDs(listActions(t, s, store.ActionQuery{ErrorKind: "conflict"})))
	pending := listActions(t, s, store.ActionQuery{States: []model.ActionState{model.ActionPending}, Target: "crm"})
	require.Equal(t, slices.Concat(all[:4], all[5:]), actionIDs(pending))
	require.Empty(t, listActions(t, s, store.ActionQuery{Target: "erp"}))
	require.Equal(t, actionIDs(j2[0].Actions), actionIDs(listActions(t, s, store.ActionQuery{RunID: "r2"})))
}

// Cancelling a run cancels its actions, leased or not, at the cancel time.
func testPackedCancel(t *testing.T, s store.Store) {
	jobs := packedRun(t, s, "r1", model.RunHeld)
	cancelAt := at(time.Hour)
	require.NoError(t, s.SetRunState(ctx(t), "r1", []model.RunState{model.RunHeld}, model.RunCancelled, "no", cancelAt))
	require.Equal(t, map[model.ActionState]int{model.ActionCancelled: 9}, getRun(t, s, "r1").Counts)
	a := getAction(t, s, jobs[1].Actions[2].ID)
	require.Equal(t, model.ActionCancelled, a.State)
	require.Equal(t, cancelAt, a.FinishedAt)
	require.Equal(t, cancelAt, a.UpdatedAt)
	require.Equal(t, t0, a.CreatedAt)
	require.Len(t, listActions(t, s, store.ActionQuery{States: []model.ActionState{model.ActionCancelled}}), 9)
	require.Empty(t, listActions(t, s, store.ActionQuery{States: []model.ActionState{model.ActionPending}}))

	// A held run superseded by a newer plan of its scope is dropped.
	packedRun(t, s, "r2", model.RunHeld)
	run3 := model.Run{ID: "r3", Trigger: "test", Scope: "scope r2", State: model.RunHeld, CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	require.NoError(t, s.CreateRun(ctx(t), &run3, []model.Job{{PersonKey: "E9", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpCreate}}}}))
	require.Empty(t, listActions(t, s, store.ActionQuery{RunID: "r2"}))
	require.Empty(t, getRun(t, s, "r2").Counts)
	require.Len(t, listActions(t, s, store.ActionQuery{RunID: "r3"}), 1)
}

func testPackedQueueStats(t *testing.T, s store.Store) {
	packedRun(t, s, "held", model.RunHeld)
	packedRun(t, s, "r1", model.RunPending)
	lease(t, s, "w", "", 1, at(time.Minute))
	stats, err := s.QueueStats(ctx(t), at(time.Minute))
	require.NoError(t, err)
	require.Equal(t, map[string]store.QueueStat{"crm": {PendingActions: 9, LeasedJobs: 1, Oldest: t0}}, stats)
}

// A commit may name jobs and actions that were never leased (the store
// does not insist on a lease), beside those of a leased job: each update
// lands where a reader and the next lease look.
func testPackedCommitWithoutLease(t *testing.T, s store.Store) {
	jobs := packedRun(t, s, "r1", model.RunPending)
	require.Equal(t, []int64{jobs[0].ID}, jobIDs(lease(t, s, "w", "", 1, at(time.Minute))))
	now := at(2 * time.Minute)
	require.NoError(t, s.Commit(ctx(t), store.Batch{
		Actions: []store.ActionUpdate{
			{ID: jobs[0].Actions[0].ID, State: model.ActionSucceeded, Attempts: 1, At: now}, // leased
			{ID: jobs[1].Actions[2].ID, State: model.ActionSucceeded, Attempts: 1, At: now}, // not leased
		},
		Jobs: []store.JobUpdate{{ID: jobs[0].ID, State: model.JobSucceeded, Attempts: 1, At: now}},
	}))
	// A job alone, never leased.
	require.NoError(t, s.Commit(ctx(t), store.Batch{Jobs: []store.JobUpdate{{ID: jobs[2].ID, State: model.JobFailed, Attempts: 1, At: now}}}))
	for _, id := range []int64{jobs[0].Actions[0].ID, jobs[1].Actions[2].ID} {
		a := getAction(t, s, id)
		require.Equal(t, model.ActionSucceeded, a.State, "action %d", id)
		require.Equal(t, now, a.FinishedAt)
	}
	for _, a := range jobs[2].Actions {
		require.Equal(t, model.ActionPending, getAction(t, s, a.ID).State, "a job's end changes none of its actions")
	}
	require.Equal(t, map[model.ActionState]int{model.ActionPending: 7, model.ActionSucceeded: 2}, getRun(t, s, "r1").Counts)
	// Only the job whose state stayed pending is leased again.
	require.Equal(t, []int64{jobs[1].ID}, jobIDs(lease(t, s, "w2", "", 10, at(10*time.Minute))))
}
