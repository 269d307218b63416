package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var commitTests = []test{
	{"CommitAppliesBatch", testCommitApplies},
	{"CommitLastUpdateWins", testCommitLastWins},
	{"CommitAtomic", testCommitAtomic},
	{"RetryActionRevivesSkipped", testRetryAction},
	{"RetryActionConflicts", testRetryConflicts},
	{"RetryActionMakesPendingDue", testRetryPending},
	{"QueueStats", testQueueStats},
}

func testCommitApplies(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpCreate, model.OpGrant}})
	lease(t, s, "w", "", 1, t0)
	create, grant := jobs[0].Actions[0], jobs[0].Actions[1]
	now := at(time.Minute)
	b := store.Batch{
		Audit: []audit.Record{
			{Time: now, Kind: audit.KindAttemptStart, RunID: "r1", ActionID: create.ID, Attempt: 1, PersonKey: "E1", Target: "crm"},
			{Time: now, Kind: audit.KindExchange, RunID: "r1", ActionID: create.ID, Attempt: 1, Method: "POST", Status: 201},
		},
		Actions: []store.ActionUpdate{
			{ID: create.ID, State: model.ActionSucceeded, Attempts: 1, At: now},
			{ID: grant.ID, State: model.ActionRunning, Attempts: 1, At: now},
		},
		Jobs: []store.JobUpdate{{ID: jobs[0].ID, State: model.JobLeased, Attempts: 1, At: now}},
		Accounts: []model.AccountChange{{Target: "crm", PersonKey: "E1", Upsert: true, NativeID: "u-1",
			Attributes: model.Attributes{"mail": "e1@example.com"}, At: now}},
	}
	require.NoError(t, s.Commit(ctx(t), b))
	require.NotZero(t, b.Audit[0].ID, "the caller's records get their IDs")
	require.Greater(t, b.Audit[1].ID, b.Audit[0].ID)

	a := getAction(t, s, create.ID)
	require.Equal(t, model.ActionSucceeded, a.State)
	require.Equal(t, 1, a.Attempts)
	require.Equal(t, now, a.FinishedAt, "a final state sets FinishedAt")
	require.Equal(t, now, a.UpdatedAt)
	a = getAction(t, s, grant.ID)
	require.Equal(t, model.ActionRunning, a.State)
	require.True(t, a.FinishedAt.IsZero())
	require.Equal(t, "u-1", getAccount(t, s, "crm", "E1").NativeID)
	owners, err := s.LeaseOwners(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{"w"}, owners, "an update to leased keeps the lease")

	later := at(2 * time.Minute)
	fail := &model.ActionError{Kind: "conflict", Message: "already a member", Status: 409, Attribute: "members"}
	require.NoError(t, s.Commit(ctx(t), store.Batch{
		Actions: []store.ActionUpdate{{ID: grant.ID, State: model.ActionFailed, Attempts: 2, Error: fail, At: later}},
		Jobs:    []store.JobUpdate{{ID: jobs[0].ID, State: model.JobFailed, Attempts: 2, At: later}},
	}))
	a = getAction(t, s, grant.ID)
	require.Equal(t, fail, a.Error)
	require.Equal(t, later, a.FinishedAt)
	owners, err = s.LeaseOwners(ctx(t))
	require.NoError(t, err)
	require.Empty(t, owners, "a final job has no lease")

	require.NoError(t, s.Commit(ctx(t), store.Batch{Actions: []store.ActionUpdate{
		{ID: grant.ID, State: model.ActionFailed, Attempts: 2, At: later},
	}}))
	require.Nil(t, getAction(t, s, grant.ID).Error, "a nil error clears the recorded one")
}

func testCommitLastWins(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	lease(t, s, "w", "", 1, t0)
	id := jobs[0].Actions[0].ID
	require.NoError(t, s.Commit(ctx(t), store.Batch{
		Actions: []store.ActionUpdate{
			{ID: id, State: model.ActionRunning, Attempts: 1, At: at(time.Second)},
			{ID: id, State: model.ActionSucceeded, Attempts: 1, At: at(2 * time.Second)},
		},
		Jobs: []store.JobUpdate{
			{ID: jobs[0].ID, State: model.JobLeased, Attempts: 1, At: at(time.Second)},
			{ID: jobs[0].ID, State: model.JobSucceeded, Attempts: 1, At: at(2 * time.Second)},
		},
		Accounts: []model.AccountChange{
			{Target: "crm", PersonKey: "E1", Upsert: true, Grant: []string{"a"}, At: at(time.Second)},
			{Target: "crm", PersonKey: "E1", Grant: []string{"b"}, At: at(2 * time.Second)},
		},
	}))
	a := getAction(t, s, id)
	require.Equal(t, model.ActionSucceeded, a.State)
	require.Equal(t, at(2*time.Second), a.FinishedAt)
	require.Equal(t, []string{"a", "b"}, getAccount(t, s, "crm", "E1").Entitlements)
	done, err := s.FinishRuns(ctx(t), at(time.Minute))
	require.NoError(t, err)
	require.Len(t, done, 1, "the job ended succeeded")
}

func testCommitAtomic(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	lease(t, s, "w", "", 1, t0)
	err := s.Commit(ctx(t), store.Batch{
		Audit:   []audit.Record{{Time: t0, Kind: audit.KindAttemptEnd, RunID: "r1", Outcome: "succeeded"}},
		Actions: []store.ActionUpdate{{ID: jobs[0].Actions[0].ID, State: model.ActionSucceeded, Attempts: 1, At: t0}},
		Jobs:    []store.JobUpdate{{ID: jobs[0].ID, State: model.JobSucceeded, Attempts: 1, At: t0}},
		Accounts: []model.AccountChange{
			{Target: "crm", PersonKey: "E1", Upsert: true, At: t0},
			{Target: "crm", PersonKey: "E1", Attributes: model.Attributes{"bad": make(chan int)}, At: t0},
		},
	})
	require.Error(t, err)
	recs, err := s.ListAudit(ctx(t), store.AuditQuery{})
	require.NoError(t, err)
	require.Empty(t, recs)
	require.Equal(t, model.ActionPending, getAction(t, s, jobs[0].Actions[0].ID).State)
	_, err = s.GetAccount(ctx(t), "crm", "E1")
	require.ErrorIs(t, err, store.ErrNotFound)
	owners, err := s.LeaseOwners(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{"w"}, owners)
}

func testRetryAction(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0,
		job{"E1", "crm", []model.Op{model.OpCreate, model.OpGrant, model.OpGrant, model.OpGrant}})
	lease(t, s, "w", "", 1, t0)
	acts := jobs[0].Actions
	now := at(time.Minute)
	require.NoError(t, s.Commit(ctx(t), store.Batch{
		Actions: []store.ActionUpdate{
			{ID: acts[0].ID, State: model.ActionSucceeded, Attempts: 1, At: now},
			{ID: acts[1].ID, State: model.ActionFailed, Attempts: 3, At: now, Error: &model.ActionError{Kind: "forbidden", Message: "no"}},
			{ID: acts[2].ID, State: model.ActionSkipped, At: now},
			{ID: acts[3].ID, State: model.ActionSkipped, At: now},
		},
		Jobs: []store.JobUpdate{{ID: jobs[0].ID, State: model.JobFailed, Attempts: 3, At: now}},
	}))
	finished, err := s.FinishRuns(ctx(t), now)
	require.NoError(t, err)
	require.Len(t, finished, 1)
	require.Equal(t, model.RunFailed, finished[0].State)

	retryAt := at(time.Hour)
	a, err := s.RetryAction(ctx(t), acts[1].ID, retryAt)
	require.NoError(t, err)
	require.Equal(t, model.ActionPending, a.State)
	require.Nil(t, a.Error)
	require.True(t, a.FinishedAt.IsZero())

	r := getRun(t, s, "r1")
	require.Equal(t, model.RunRunning, r.State, "the finished run runs again")
	require.True(t, r.FinishedAt.IsZero())
	require.Equal(t, map[model.ActionState]int{model.ActionSucceeded: 1, model.ActionPending: 3}, r.Counts)

	require.Empty(t, lease(t, s, "w", "", 1, retryAt.Add(-time.Second)), "the job is due at the retry time")
	got := lease(t, s, "w", "", 1, retryAt)
	require.Len(t, got, 1)
	require.Equal(t, retryAt, got[0].NextAt)
	var states []model.ActionState
	for _, a := range got[0].Actions {
		states = append(states, a.State)
	}
	require.Equal(t, []model.ActionState{model.ActionSucceeded, model.ActionPending, model.ActionPending, model.ActionPending}, states)
}

func testRetryConflicts(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	_, err := s.RetryAction(ctx(t), 987654, t0)
	require.ErrorIs(t, err, store.ErrNotFound)

	_, held := newRun(t, s, "held", model.RunHeld, t0, job{"E2", "crm", []model.Op{model.OpUpdate}})
	_, err = s.RetryAction(ctx(t), held[0].Actions[0].ID, t0)
	require.ErrorIs(t, err, store.ErrConflict, "a held run's action waits for approval, not for a retry")
	require.ErrorContains(t, err, "held")

	lease(t, s, "w", "", 1, t0)
	_, err = s.RetryAction(ctx(t), jobs[0].Actions[0].ID, t0)
	require.ErrorIs(t, err, store.ErrConflict, "an action being attempted cannot be retried")
	finishJob(t, s, jobs[0], model.ActionSucceeded, t0)
	_, err = s.RetryAction(ctx(t), jobs[0].Actions[0].ID, t0)
	require.ErrorIs(t, err, store.ErrConflict, "a succeeded action cannot be retried")
}

// testRetryPending: a pending action waiting out a backoff is made due
// at once by a retry, and keeps its state and attempts.
func testRetryPending(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	got := lease(t, s, "w", "", 1, t0)
	require.Len(t, got, 1)
	backoffUntil := at(time.Hour)
	a := jobs[0].Actions[0]
	require.NoError(t, s.Commit(ctx(t), store.Batch{
		Actions: []store.ActionUpdate{{ID: a.ID, State: model.ActionPending, Attempts: 2, At: t0,
			Error: &model.ActionError{Kind: "unavailable", Message: "503 from the target"}}},
		Jobs: []store.JobUpdate{{ID: jobs[0].ID, State: model.JobPending, Attempts: 2, NextAt: backoffUntil, At: t0}},
	}))
	now := at(time.Minute)
	require.Empty(t, lease(t, s, "w", "", 1, now), "waiting out its backoff")

	r, err := s.RetryAction(ctx(t), a.ID, now)
	require.NoError(t, err)
	require.Equal(t, model.ActionPending, r.State)
	require.Equal(t, 2, r.Attempts, "a retry is not an attempt")
	got = lease(t, s, "w", "", 1, now)
	require.Len(t, got, 1, "due now")
	require.Equal(t, now, got[0].NextAt)
}

func testQueueStats(t *testing.T, s store.Store) {
	newRun(t, s, "r1", model.RunPending, t0,
		job{"E1", "crm", []model.Op{model.OpUpdate, model.OpGrant}},
		job{"E2", "crm", []model.Op{model.OpUpdate}},
		job{"E1", "mail", []model.Op{model.OpUpdate}})
	_, later := newRun(t, s, "r2", model.RunPending, at(time.Hour), job{"E3", "mail", []model.Op{model.OpUpdate}})
	newRun(t, s, "held", model.RunHeld, at(-time.Hour), job{"E4", "crm", []model.Op{model.OpDelete}})

	now := at(2 * time.Hour)
	leased := lease(t, s, "w", "mail", 2, now)
	require.Len(t, leased, 2)
	finishJob(t, s, leased[1], model.ActionSucceeded, now)
	require.Equal(t, later[0].ID, leased[1].ID)

	stats, err := s.QueueStats(ctx(t), now)
	require.NoError(t, err)
	require.Equal(t, map[string]store.QueueStat{
		"crm":  {PendingActions: 3, Oldest: t0},
		"mail": {PendingActions: 1, Oldest: t0, LeasedJobs: 1},
	}, stats)

	stats, err = s.QueueStats(ctx(t), now.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, stats["mail"].LeasedJobs, "an expired lease is not counted")
}
