package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// A plan is read in a snapshot and stored a moment later. A job of
// another run for the same pair that starts and finishes in between
// leaves the pair free, but changed since the plan read it: the plan's
// job must be left out like a taken one, not executed as if the plan were
// current (the cluster kill loop's second account: a create planned
// before another run's create finished, sent after it).
var staleTests = []test{
	{"StalePlanFinishRunLeavesOutPairsChangedSinceRead", testStaleFinishRun},
	{"StalePlanCreateRunRefusesPairsChangedSinceRead", testStaleCreateRun},
	{"StalePlanApproveSkipsPairsChangedSinceRead", testStaleApprove},
	{"StalePlanMarkFollowsCommitOrder", testStaleConcurrent},
}

// markedJobs are streamJobs planned from a page with mark.
func markedJobs(mark int64, specs ...job) []model.Job {
	jobs := streamJobs(specs...)
	for i := range jobs {
		jobs[i].PlanMark = mark
	}
	return jobs
}

// readMark reads a plan page of the persons E1..E4 and returns its mark.
func readMark(t *testing.T, s store.Store) int64 {
	t.Helper()
	page, err := s.ReadPlanPage(ctx(t), store.PlanPageQuery{})
	require.NoError(t, err)
	require.NotZero(t, page.Mark, "a plan page carries the finish watermark of its snapshot")
	return page.Mark
}

func importStalePersons(t *testing.T, s store.Store) {
	t.Helper()
	applyImport(t, s, store.Import{Source: "hr", Date: model.MustDate("2025-03-01"), At: t0,
		Persons: store.PersonsOf(person("E1", nil), person("E2", nil), person("E3", nil), person("E4", nil))})
}

// runAndFinish stores a pending run with one job for sp, leases it and
// finishes it (state), as another node's engine would.
func runAndFinish(t *testing.T, s store.Store, id string, sp job, state model.ActionState, now time.Time) {
	t.Helper()
	newRun(t, s, id, model.RunPending, now, sp)
	got := lease(t, s, "other", "", 10, now)
	require.Len(t, got, 1)
	require.Equal(t, id, got[0].RunID)
	finishJob(t, s, got[0], state, now)
}

// testStaleFinishRun: between the plan's read and FinishRun, another run
// creates and finishes a job for E1 (succeeded), one for E3 (failed), and
// one for E4 is cancelled while leased; E2's job finished before the read.
// E1, E3 and E4 are left out as changed since the plan read them, E2 is
// kept; a plan read afterwards is current again.
func testStaleFinishRun(t *testing.T, s store.Store) {
	importStalePersons(t, s)
	runAndFinish(t, s, "before", job{"E2", "crm", []model.Op{model.OpCreate}}, model.ActionSucceeded, at(time.Second))
	mark := readMark(t, s)

	runAndFinish(t, s, "quick", job{"E1", "crm", []model.Op{model.OpCreate}}, model.ActionSucceeded, at(2*time.Second))
	runAndFinish(t, s, "failing", job{"E3", "crm", []model.Op{model.OpUpdate}}, model.ActionFailed, at(3*time.Second))
	newRun(t, s, "cancelled", model.RunPending, at(4*time.Second), job{"E4", "crm", []model.Op{model.OpDisable}})
	require.Len(t, lease(t, s, "other", "", 10, at(4*time.Second)), 1)
	require.NoError(t, s.SetRunState(ctx(t), "cancelled", []model.RunState{model.RunRunning}, model.RunCancelled, "stop", at(5*time.Second)))

	run := beginRun(t, s, "late", "all", at(time.Second), markedJobs(mark,
		job{"E1", "crm", []model.Op{model.OpCreate, model.OpGrant}}, job{"E2", "crm", []model.Op{model.OpUpdate}},
		job{"E3", "crm", []model.Op{model.OpUpdate}}, job{"E4", "crm", []model.Op{model.OpUpdate}}))
	run.State = model.RunPending
	dropped, err := s.FinishRun(ctx(t), run)
	require.NoError(t, err)
	require.Equal(t, store.Dropped{Actions: 4, Taken: []store.Taken{
		{PersonTarget: store.PersonTarget{Person: "E1", Target: "crm"}, Run: "quick", Finished: true},
		{PersonTarget: store.PersonTarget{Person: "E3", Target: "crm"}, Run: "failing", Finished: true},
		{PersonTarget: store.PersonTarget{Person: "E4", Target: "crm"}, Run: "cancelled", Finished: true},
	}}, dropped)
	got := getRun(t, s, "late")
	require.Equal(t, model.RunPending, got.State)
	require.Contains(t, got.Note, "E1 on crm was changed by run quick after the plan read it")
	acts := listActions(t, s, store.ActionQuery{RunID: "late"})
	require.Len(t, acts, 1)
	require.Equal(t, "E2", acts[0].PersonKey, "E2's job finished before the read: the plan saw it")

	// Planned again from a page read now, E1 is current.
	again := beginRun(t, s, "again", "all", at(6*time.Second), markedJobs(readMark(t, s), job{"E1", "crm", []model.Op{model.OpUpdate}}))
	again.State = model.RunPending
	dropped, err = s.FinishRun(ctx(t), again)
	require.NoError(t, err)
	require.Equal(t, store.Dropped{}, dropped)
}

// testStaleCreateRun: CreateRun refuses an executable run with a pair
// changed since its job's mark, as it refuses a taken pair; a job without
// a mark (not planned from a page) is not compared.
func testStaleCreateRun(t *testing.T, s store.Store) {
	importStalePersons(t, s)
	mark := readMark(t, s)
	runAndFinish(t, s, "quick", job{"E1", "crm", []model.Op{model.OpCreate}}, model.ActionSucceeded, at(time.Second))

	run := model.Run{ID: "late", Trigger: "test", Scope: "all", State: model.RunPending, CreatedAt: at(2 * time.Second)}
	err := s.CreateRun(ctx(t), &run, markedJobs(mark, job{"E1", "crm", []model.Op{model.OpCreate}}, job{"E2", "crm", []model.Op{model.OpCreate}}))
	var busy *store.BusyError
	require.ErrorAs(t, err, &busy)
	require.ErrorIs(t, err, store.ErrBusy)
	require.Equal(t, []store.Taken{{PersonTarget: store.PersonTarget{Person: "E1", Target: "crm"}, Run: "quick", Finished: true}}, busy.Taken)
	_, err = s.GetRun(ctx(t), "late")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing was stored")

	run = model.Run{ID: "current", Trigger: "test", Scope: "all", State: model.RunPending, CreatedAt: at(3 * time.Second)}
	require.NoError(t, s.CreateRun(ctx(t), &run, markedJobs(readMark(t, s), job{"E1", "crm", []model.Op{model.OpUpdate}})))
	run = model.Run{ID: "unmarked", Trigger: "test", Scope: "other", State: model.RunPending, CreatedAt: at(3 * time.Second)}
	require.NoError(t, s.CreateRun(ctx(t), &run, markedJobs(0, job{"E3", "crm", []model.Op{model.OpUpdate}})))
}

// testStaleApprove: a held run is not checked until approved; approving
// it cancels the jobs whose pair another run changed since they were
// planned, says so, and runs the rest.
func testStaleApprove(t *testing.T, s store.Store) {
	importStalePersons(t, s)
	held := beginRun(t, s, "held", "all", at(time.Second), markedJobs(readMark(t, s),
		job{"E1", "crm", []model.Op{model.OpDisable}}, job{"E2", "crm", []model.Op{model.OpDisable}}))
	held.State, held.Breaches = model.RunHeld, []model.Breach{{Scope: "overall", Op: model.OpDisable, Limit: "0", Planned: 2}}
	_, err := s.FinishRun(ctx(t), held)
	require.NoError(t, err)
	runAndFinish(t, s, "quick", job{"E1", "crm", []model.Op{model.OpUpdate}}, model.ActionSucceeded, at(2*time.Second))

	require.NoError(t, s.SetRunState(ctx(t), "held", []model.RunState{model.RunHeld}, model.RunPending, "approved by ann", at(time.Minute)))
	r := getRun(t, s, "held")
	require.Equal(t, "approved by ann; skipped, as another run has them: E1 on crm was changed by run quick after the plan read it", r.Note)
	acts := listActions(t, s, store.ActionQuery{RunID: "held", PersonKey: "E1"})
	require.Len(t, acts, 1)
	require.Equal(t, model.ActionCancelled, acts[0].State)
	got := lease(t, s, "w", "", 10, at(time.Minute))
	require.Len(t, got, 1)
	require.Equal(t, "E2", got[0].PersonKey)
}

// testStaleConcurrent: while several committers finish jobs at once (each
// finish recording the account it made), a reader takes plan pages. For
// every page, a pair whose account the page shows finished in its
// snapshot and is current for its mark; a pair it does not show finished
// after it and is stale for its mark. On PostgreSQL this holds only if
// finish numbers follow commit order.
func testStaleConcurrent(t *testing.T, s store.Store) {
	const pairs, committers = 48, 4
	var ps []model.Person
	for i := range pairs {
		ps = append(ps, person(fmt.Sprintf("C%02d", i), nil))
	}
	applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(ps...), Date: model.MustDate("2025-03-01"), At: t0})
	errs := make(chan error, committers)
	var done atomic.Bool
	var wg sync.WaitGroup
	for c := range committers {
		wg.Go(func() {
			errs <- func() error {
				for i := c; i < pairs; i += committers {
					key := fmt.Sprintf("C%02d", i)
					run := model.Run{ID: "run-" + key, Trigger: "test", Scope: "test " + key, State: model.RunPending, CreatedAt: t0}
					jobs := []model.Job{{PersonKey: key, Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpCreate}}}}
					if err := s.CreateRun(ctx(t), &run, jobs); err != nil {
						return err
					}
					j := jobs[0]
					b := store.Batch{
						Actions:  []store.ActionUpdate{{ID: j.Actions[0].ID, State: model.ActionSucceeded, Attempts: 1, At: t0}},
						Jobs:     []store.JobUpdate{{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: t0}},
						Accounts: []model.AccountChange{{Target: "crm", PersonKey: key, NativeID: "n-" + key, Upsert: true, At: t0}},
					}
					if err := s.Commit(ctx(t), b); err != nil {
						return err
					}
				}
				return nil
			}()
		})
	}
	type snap struct {
		mark  int64
		known map[string]bool
	}
	var snaps []snap
	go func() { wg.Wait(); done.Store(true) }()
	for !done.Load() {
		page, err := s.ReadPlanPage(ctx(t), store.PlanPageQuery{NoBusy: true})
		require.NoError(t, err)
		sn := snap{mark: page.Mark, known: map[string]bool{}}
		for _, a := range page.Accounts {
			sn.known[a.PersonKey] = true
		}
		snaps = append(snaps, sn)
	}
	wg.Wait()
	for range committers {
		require.NoError(t, <-errs)
	}
	require.NotEmpty(t, snaps)

	// Each pair is checked against the last page that missed it (the
	// nearest to its commit: the one a number out of commit order would
	// fool) and the first page that showed it. Refusals store nothing, so
	// they come first; an accepted check keeps its run.
	check := func(key string, mark int64) error {
		run := model.Run{ID: fmt.Sprintf("check-%s-%d", key, mark), Trigger: "test", Scope: "check", State: model.RunPending, CreatedAt: t0}
		return s.CreateRun(ctx(t), &run, markedJobs(mark, job{key, "crm", []model.Op{model.OpUpdate}}))
	}
	first := map[string]int64{}
	stale, current := 0, 0
	for i := range pairs {
		key := fmt.Sprintf("C%02d", i)
		missed := int64(-1)
		for _, sn := range snaps {
			if !sn.known[key] {
				missed = sn.mark
			} else if _, ok := first[key]; !ok {
				first[key] = sn.mark
			}
		}
		if missed >= 0 {
			var busy *store.BusyError
			require.ErrorAs(t, check(key, missed), &busy, "%s finished after the page of mark %d", key, missed)
			require.True(t, busy.Taken[0].Finished)
			stale++
		}
	}
	for i := range pairs {
		key := fmt.Sprintf("C%02d", i)
		if mark, ok := first[key]; ok {
			require.NoError(t, check(key, mark), "%s finished in the page of mark %d", key, mark)
			current++
		}
	}
	t.Logf("%d pages; %d pairs checked stale, %d current", len(snaps), stale, current)
}
