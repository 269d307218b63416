package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var leaseTests = []test{
	{"LeaseFIFOWithActions", testLeaseFIFO},
	{"LeaseReturnsFinalActionsToo", testLeaseAllActions},
	{"LeaseOnePerPersonTarget", testLeaseOrder},
	{"LeaseHeldRunsNeitherRunNorBlock", testLeaseHeld},
	{"LeaseExpiry", testLeaseExpiry},
	{"LeaseNotDue", testLeaseNotDue},
	{"LeaseExtendReleaseOwners", testLeaseOwners},
	{"LeaseConcurrentLeasers", testLeaseConcurrent},
	{"LeaseFencedCommit", testLeaseFenced},
}

func testLeaseFIFO(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0,
		job{"E1", "crm", []model.Op{model.OpCreate, model.OpGrant, model.OpGrant}},
		job{"E2", "crm", []model.Op{model.OpUpdate}},
		job{"E3", "mail", []model.Op{model.OpUpdate}})
	now := at(time.Minute)
	got, err := s.LeaseJobs(ctx(t), store.LeaseRequest{Owner: "w1", Max: 2, Now: now, Until: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, []int64{jobs[0].ID, jobs[1].ID}, jobIDs(got))
	j := got[0]
	require.Equal(t, model.JobLeased, j.State)
	require.Equal(t, "w1", j.LeaseOwner)
	require.Equal(t, now.Add(time.Minute), j.LeaseUntil)
	require.Equal(t, "r1", j.RunID)
	require.Equal(t, "E1", j.PersonKey)
	require.Equal(t, "crm", j.Target)
	require.Len(t, j.Actions, 3)
	for i, a := range j.Actions {
		require.Equal(t, jobs[0].Actions[i].ID, a.ID)
		require.Equal(t, i+1, a.Seq)
	}
	require.Equal(t, []string{"group-2"}, j.Actions[1].Entitlements)
	r := getRun(t, s, "r1")
	require.Equal(t, model.RunRunning, r.State, "leasing starts the run")

	require.Equal(t, []int64{jobs[2].ID}, jobIDs(lease(t, s, "w2", "", 10, now)))
	require.Empty(t, lease(t, s, "w3", "", 10, now))
}

func testLeaseAllActions(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpCreate, model.OpGrant, model.OpGrant}})
	lease(t, s, "w", "", 1, at(time.Minute))
	// The first action succeeded, then the worker gave the job back to
	// retry the rest later.
	require.NoError(t, s.Commit(ctx(t), store.Batch{
		Actions: []store.ActionUpdate{{ID: jobs[0].Actions[0].ID, State: model.ActionSucceeded, Attempts: 1, At: at(time.Minute)}},
		Jobs:    []store.JobUpdate{{ID: jobs[0].ID, State: model.JobPending, Attempts: 1, NextAt: at(2 * time.Minute), At: at(time.Minute)}},
	}))
	got := lease(t, s, "w", "", 1, at(2*time.Minute))
	require.Len(t, got, 1)
	require.Equal(t, 1, got[0].Attempts)
	states := []model.ActionState{}
	for _, a := range got[0].Actions {
		states = append(states, a.State)
	}
	require.Equal(t, []model.ActionState{model.ActionSucceeded, model.ActionPending, model.ActionPending}, states)
}

// testLeaseOrder: a second run for a pair that has an unfinished job is
// refused whole, naming the pair and the run that has it; once that job is
// final, even failed, the pair is free again.
func testLeaseOrder(t *testing.T, s store.Store) {
	_, first := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	second := model.Run{ID: "r2", Scope: "test r2", State: model.RunPending, CreatedAt: at(time.Second)}
	jobs := []model.Job{
		{PersonKey: "E1", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpDisable}}},
		{PersonKey: "E2", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}},
	}
	err := s.CreateRun(ctx(t), &second, jobs)
	var busy *store.BusyError
	require.ErrorAs(t, err, &busy)
	require.ErrorIs(t, err, store.ErrBusy)
	require.Equal(t, []store.Taken{{PersonTarget: store.PersonTarget{Person: "E1", Target: "crm"}, Run: "r1"}}, busy.Taken)
	require.EqualError(t, err, "E1 on crm is already in run r1")
	_, err = s.GetRun(ctx(t), "r2")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused run stores nothing")

	now := at(time.Minute)
	got := lease(t, s, "w", "", 10, now)
	require.Equal(t, []int64{first[0].ID}, jobIDs(got))
	finishJob(t, s, got[0], model.ActionFailed, now)
	require.NoError(t, s.CreateRun(ctx(t), &second, jobs), "a final job, even failed, frees the pair")
	require.Equal(t, []int64{jobs[0].ID, jobs[1].ID}, jobIDs(lease(t, s, "w", "", 10, now)))
}

func testLeaseHeld(t *testing.T, s store.Store) {
	_, held := newRun(t, s, "held", model.RunHeld, t0, job{"E1", "crm", []model.Op{model.OpDelete}})
	_, live := newRun(t, s, "live", model.RunPending, at(time.Second), job{"E1", "crm", []model.Op{model.OpUpdate}})
	now := at(time.Minute)
	got := lease(t, s, "w", "", 10, now)
	require.Equal(t, []int64{live[0].ID}, jobIDs(got), "a held run's earlier job does not block")
	finishJob(t, s, got[0], model.ActionSucceeded, now)
	require.Empty(t, lease(t, s, "w", "", 10, now), "a held run's job is never leased")
	require.Equal(t, model.RunHeld, getRun(t, s, "held").State)

	require.NoError(t, s.SetRunState(ctx(t), "held", []model.RunState{model.RunHeld}, model.RunPending, "approved", now))
	require.Equal(t, []int64{held[0].ID}, jobIDs(lease(t, s, "w", "", 10, now)))
	require.Equal(t, model.RunRunning, getRun(t, s, "held").State)
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	first := lease(t, s, "w1", "", 1, at(time.Minute)) // until +2m
	require.Len(t, first, 1)
	require.Empty(t, lease(t, s, "w2", "", 1, at(90*time.Second)), "a live lease is not handed out")

	again := lease(t, s, "w2", "", 1, at(2*time.Minute)) // lease_until <= now: expired
	require.Equal(t, []int64{jobs[0].ID}, jobIDs(again))
	require.Equal(t, "w2", again[0].LeaseOwner)
	require.Equal(t, at(3*time.Minute), again[0].LeaseUntil)
}

func testLeaseNotDue(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	lease(t, s, "w", "", 1, t0)
	retryAt := at(10 * time.Minute)
	require.NoError(t, s.Commit(ctx(t), store.Batch{Jobs: []store.JobUpdate{
		{ID: jobs[0].ID, State: model.JobPending, Attempts: 1, NextAt: retryAt, At: t0},
	}}))
	owners, err := s.LeaseOwners(ctx(t))
	require.NoError(t, err)
	require.Empty(t, owners, "a job back to pending has no lease")
	require.Empty(t, lease(t, s, "w", "", 1, at(5*time.Minute)))
	got := lease(t, s, "w", "", 1, retryAt)
	require.Len(t, got, 1, "due when NextAt <= Now")
	require.Equal(t, retryAt, got[0].NextAt)
}

func testLeaseOwners(t *testing.T, s store.Store) {
	newRun(t, s, "r1", model.RunPending, t0,
		job{"E1", "crm", []model.Op{model.OpUpdate}},
		job{"E2", "crm", []model.Op{model.OpUpdate}},
		job{"E3", "crm", []model.Op{model.OpUpdate}})
	w1 := lease(t, s, "w1", "", 2, t0) // until +1m
	w2 := lease(t, s, "w2", "", 1, t0)
	require.Len(t, w1, 2)
	require.Len(t, w2, 1)
	owners, err := s.LeaseOwners(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{"w1", "w2"}, owners)

	require.NoError(t, s.ExtendLeases(ctx(t), "w1", at(10*time.Minute)))
	later := at(5 * time.Minute)
	require.Equal(t, jobIDs(w2), jobIDs(lease(t, s, "w3", "", 10, later)), "only the unextended lease expired")

	require.NoError(t, s.ReleaseLeases(ctx(t), []string{"w1"}))
	owners, err = s.LeaseOwners(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{"w3"}, owners)
	require.Equal(t, jobIDs(w1), jobIDs(lease(t, s, "w4", "", 10, later)), "released jobs are runnable at once")
}

// testLeaseConcurrent has several workers lease and finish jobs at once.
// No job may be handed out twice.
func testLeaseConcurrent(t *testing.T, s store.Store) {
	const persons, workers = 40, 4
	var specs []job
	for i := range persons {
		specs = append(specs, job{fmt.Sprintf("E%02d", i), "crm", []model.Op{model.OpUpdate}},
			job{fmt.Sprintf("E%02d", i), "mail", []model.Op{model.OpUpdate}})
	}
	var specs2 []job
	for _, sp := range specs {
		specs2 = append(specs2, job{"F" + sp.person[1:], sp.target, sp.ops})
	}
	_, r1 := newRun(t, s, "r1", model.RunPending, t0, specs...)
	_, r2 := newRun(t, s, "r2", model.RunPending, at(time.Second), specs2...)
	total := len(r1) + len(r2)

	var (
		mu       sync.Mutex
		progress = sync.NewCond(&mu)
		leasedBy = map[int64]string{}
		done     int
		stop     bool
		failures []string
	)
	now := at(time.Minute)
	var wg sync.WaitGroup
	for w := range workers {
		owner := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			mu.Lock()
			defer mu.Unlock()
			for !stop && done < total {
				seen := done
				mu.Unlock()
				jobs, err := s.LeaseJobs(t.Context(), store.LeaseRequest{Owner: owner, Max: 3, Now: now, Until: now.Add(time.Hour)})
				mu.Lock()
				if err != nil {
					failures, stop = append(failures, err.Error()), true
					progress.Broadcast()
					continue
				}
				if len(jobs) == 0 {
					// What is left waits on other workers' jobs.
					for done == seen && !stop && done < total {
						progress.Wait()
					}
					continue
				}
				b := store.Batch{}
				for _, j := range jobs {
					if prev, dup := leasedBy[j.ID]; dup {
						failures = append(failures, fmt.Sprintf("job %d leased by %s and %s", j.ID, prev, owner))
					}
					leasedBy[j.ID] = owner
					b.Actions = append(b.Actions, store.ActionUpdate{ID: j.Actions[0].ID, State: model.ActionSucceeded, Attempts: 1, At: now})
					b.Jobs = append(b.Jobs, store.JobUpdate{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: now})
				}
				mu.Unlock()
				err = s.Commit(t.Context(), b)
				mu.Lock()
				if err != nil {
					failures, stop = append(failures, err.Error()), true
				}
				done += len(jobs)
				progress.Broadcast()
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
	require.Len(t, leasedBy, total, "every job was leased")
	runs, err := s.FinishRuns(ctx(t), now)
	require.NoError(t, err)
	require.Len(t, runs, 2)
}

// testLeaseFenced: A's lease expires and B takes the job over; A, alive
// but late, must not commit its outcome, and B can.
func testLeaseFenced(t *testing.T, s store.Store) {
	_, jobs := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	a := lease(t, s, "A", "", 1, at(time.Minute)) // until +2m
	require.Len(t, a, 1)
	b := lease(t, s, "B", "", 1, at(2*time.Minute)) // A's lease expired
	require.Len(t, b, 1)
	require.Greater(t, b[0].Epoch, a[0].Epoch, "a new lease raises the epoch")

	outcome := func(j model.Job, state model.ActionState) store.Batch {
		return store.Batch{
			Actions: []store.ActionUpdate{{ID: jobs[0].Actions[0].ID, State: state, Attempts: 1, At: at(2 * time.Minute)}},
			Jobs:    []store.JobUpdate{{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: at(2 * time.Minute)}},
			Fences:  []store.Fence{{Job: j.ID, Epoch: j.Epoch}},
		}
	}
	err := s.Commit(ctx(t), outcome(a[0], model.ActionFailed))
	var fenced *store.FencedError
	require.ErrorAs(t, err, &fenced)
	require.ErrorIs(t, err, store.ErrFenced)
	require.Equal(t, []int64{jobs[0].ID}, fenced.Jobs)
	require.Equal(t, model.ActionPending, getAction(t, s, jobs[0].Actions[0].ID).State, "A's outcome was refused whole")
	owners, err := s.LeaseOwners(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{"B"}, owners, "B still holds the job")

	require.NoError(t, s.Commit(ctx(t), outcome(b[0], model.ActionSucceeded)))
	require.Equal(t, model.ActionSucceeded, getAction(t, s, jobs[0].Actions[0].ID).State)
}
