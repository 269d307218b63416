package plan_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// slowStore is a real store whose AppendJobs runs hooks first, and which
// notes what overlaps with it.
type slowStore struct {
	*sqlstore.Store
	before   func(call int, jobs []model.Job) error
	calls    atomic.Int32
	inFlight atomic.Int32
	mu       sync.Mutex
	firsts   []string // the first person of each batch, in the order stored
	overlaps []string // what ran while a batch was being stored
}

func (s *slowStore) AppendJobs(ctx context.Context, run *model.Run, jobs []model.Job) error {
	if s.inFlight.Add(1) > 1 {
		s.note("two batches stored at once")
	}
	defer s.inFlight.Add(-1)
	call := int(s.calls.Add(1))
	s.mu.Lock()
	s.firsts = append(s.firsts, jobs[0].PersonKey)
	s.mu.Unlock()
	if s.before != nil {
		if err := s.before(call, jobs); err != nil {
			return err
		}
	}
	return s.Store.AppendJobs(ctx, run, jobs)
}

func (s *slowStore) DropRun(ctx context.Context, id string) error {
	if s.inFlight.Load() > 0 {
		s.note("run dropped while a batch was being stored")
	}
	return s.Store.DropRun(ctx, id)
}

func (s *slowStore) FinishRun(ctx context.Context, run *model.Run) (store.Dropped, error) {
	if s.inFlight.Load() > 0 {
		s.note("run finished while a batch was being stored")
	}
	return s.Store.FinishRun(ctx, run)
}

func (s *slowStore) note(what string) {
	s.mu.Lock()
	s.overlaps = append(s.overlaps, what)
	s.mu.Unlock()
}

// TestSubmitPlanPlansWhileABatchIsStored: the planner goes on planning
// while a batch is being stored (the two take about the longer of the
// two, not their sum, on two cores). The first batch is held in
// AppendJobs until the planner has checked 50 more jobs: a planner that
// waits for the store never gets there. Batches are still stored one at
// a time, in person order, all of them before the run is finished, and
// the run is the plan.
func TestSubmitPlanPlansWhileABatchIsStored(t *testing.T) {
	ctx := context.Background()
	sq, pl := streamWorld(t, 1500)
	var err error
	pl.Policy.Thresholds.Creates, err = config.ParseLimit("10")
	require.NoError(t, err)
	built, err := plan.Build(ctx, sq, &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today}, false)
	require.NoError(t, err)

	var checked atomic.Int32
	planned := make(chan struct{})
	pl.Check = func(*model.Job) error {
		if checked.Add(1) == int32(countUntilBatch(built.Jobs)+50) {
			close(planned)
		}
		return nil
	}
	st := &slowStore{Store: sq, before: func(call int, _ []model.Job) error {
		if call != 1 {
			return nil
		}
		select {
		case <-planned:
			return nil
		case <-time.After(20 * time.Second):
			return errors.New("the planner planned nothing while the first batch was being stored")
		}
	}}
	res, run, created, err := plan.SubmitPlan(ctx, st, pl, plan.Submission{Trigger: "test", Scope: "all", Now: pl.Today.Time(), Policy: pl.Policy})
	require.NoError(t, err)
	require.True(t, created)
	require.Empty(t, st.overlaps)
	require.Greater(t, len(st.firsts), 3, "the plan spans several batches")
	require.IsIncreasing(t, st.firsts, "batches are stored in the order planned")
	jobs, actions := res.Size()
	require.Equal(t, len(built.Jobs), jobs)
	require.Equal(t, plan.Digest(built.Jobs), run.Digest)
	got, err := sq.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunHeld, got.State)
	require.Equal(t, map[model.ActionState]int{model.ActionPending: actions}, got.Counts)
}

// countUntilBatch is how many jobs the first batch of a plan holds (a
// batch is full at 4,096 actions).
func countUntilBatch(jobs []model.Job) int {
	n := 0
	for i := range jobs {
		n += len(jobs[i].Actions)
		if n >= 4096 {
			return i + 1
		}
	}
	return len(jobs)
}

// TestSubmitPlanStopsWhenABatchFails: a batch the store refuses stops the
// plan with the store's error, the run begun is dropped once nothing is
// being stored any more, and nothing of it is left.
func TestSubmitPlanStopsWhenABatchFails(t *testing.T) {
	ctx := context.Background()
	sq, pl := streamWorld(t, 1500)
	full := errors.New("disk full")
	st := &slowStore{Store: sq, before: func(call int, _ []model.Job) error {
		if call == 2 {
			time.Sleep(50 * time.Millisecond) // the planner is ahead meanwhile
			return full
		}
		return nil
	}}
	_, run, _, err := plan.SubmitPlan(ctx, st, pl, plan.Submission{Trigger: "test", Scope: "all", Now: pl.Today.Time(), Policy: pl.Policy})
	require.ErrorIs(t, err, full)
	require.Nil(t, run)
	require.Empty(t, st.overlaps)
	require.LessOrEqual(t, int(st.calls.Load()), 3, "no batch is stored after the failure but the one queued with it")
	runs, err := sq.ListRuns(ctx, store.RunQuery{})
	require.NoError(t, err)
	require.Empty(t, runs, "the run begun is dropped")

	// A plan cancelled while batches are queued drops its run too, after
	// the batch being stored has stopped.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pl2 := &plan.Planner{Policy: pl.Policy, Caps: pl.Caps, Today: pl.Today}
	var seen atomic.Int32
	pl2.Check = func(*model.Job) error {
		if seen.Add(1) == 2000 {
			cancel()
		}
		return nil
	}
	st2 := &slowStore{Store: sq, before: func(int, []model.Job) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	}}
	_, run, _, err = plan.SubmitPlan(cctx, st2, pl2, plan.Submission{Trigger: "test", Scope: "all", Now: pl.Today.Time(), Policy: pl.Policy})
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, run)
	require.Positive(t, st2.calls.Load())
	require.Empty(t, st2.overlaps)
	runs, err = sq.ListRuns(ctx, store.RunQuery{})
	require.NoError(t, err)
	require.Empty(t, runs, "the run begun is dropped")
}
