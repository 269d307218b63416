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
	{"LeaseOrderPerPersonTarget", testLeaseOrder},
	{"LeaseHeldRunsNeitherRunNorBlock", testLeaseHeld},
	{"LeaseExpiry", testLeaseExpiry},
	{"LeaseNotDue", testLeaseNotDue},
	{"LeaseExtendReleaseOwners", testLeaseOwners},
	{"LeaseConcurrentLeasers", testLeaseConcurrent},
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

func testLeaseOrder(t *testing.T, s store.Store) {
	_, first := newRun(t, s, "r1", model.RunPending, t0, job{"E1", "crm", []model.Op{model.OpUpdate}})
	_, second := newRun(t, s, "r2", model.RunPending, at(time.Second),
		job{"E1", "crm", []model.Op{model.OpDisable}},
		job{"E2", "crm", []model.Op{model.OpUpdate}},
		job{"E1", "mail", []model.Op{model.OpUpdate}})
	now := at(time.Minute)
	got := lease(t, s, "w", "", 10, now)
	require.Equal(t, []int64{first[0].ID, second[1].ID, second[2].ID}, jobIDs(got),
		"r2's E1/crm job waits for r1's; other pairs are free")
	require.Empty(t, lease(t, s, "w", "", 10, now), "a leased earlier job still blocks")

	finishJob(t, s, got[0], model.ActionFailed, now)
	require.Equal(t, []int64{second[0].ID}, jobIDs(lease(t, s, "w", "", 10, now)), "a final job, even failed, unblocks")
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
// No job may be handed out twice, and a later run's job for a pair only
// after the earlier one finished.
func testLeaseConcurrent(t *testing.T, s store.Store) {
	const persons, workers = 40, 4
	var specs []job
	for i := range persons {
		specs = append(specs, job{fmt.Sprintf("E%02d", i), "crm", []model.Op{model.OpUpdate}},
			job{fmt.Sprintf("E%02d", i), "mail", []model.Op{model.OpUpdate}})
	}
	_, r1 := newRun(t, s, "r1", model.RunPending, t0, specs...)
	_, r2 := newRun(t, s, "r2", model.RunPending, at(time.Second), specs...)
	total := len(r1) + len(r2)
	before := map[int64]int64{} // r2 job -> r1 job of the same pair
	for i := range r2 {
		before[r2[i].ID] = r1[i].ID
	}

	var (
		mu       sync.Mutex
		progress = sync.NewCond(&mu)
		leasedBy = map[int64]string{}
		// committing is set before a job's commit starts, so that a job
		// leased after that commit always finds its predecessor here.
		committing = map[int64]bool{}
		done       int
		stop       bool
		failures   []string
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
					if p, ok := before[j.ID]; ok && !committing[p] {
						failures = append(failures, fmt.Sprintf("job %d leased before job %d finished", j.ID, p))
					}
					committing[j.ID] = true
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
