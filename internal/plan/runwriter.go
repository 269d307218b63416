package plan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
)

// batchActions is about how many actions go to the store in one
// transaction: large enough that a transaction's fixed cost is small
// against its rows, small enough that a batch's memory and a write's
// hold on the store stay small.
const batchActions = 4096

// abandonWithin bounds the clean-up of a run whose planning failed; what
// it cannot drop, the next BeginRun drops once it is abandoned.
const abandonWithin = 2 * time.Minute

// runWriter stores a plan as a run as it is handed over, job by job:
// the run is begun at the first job, jobs go to the store in batches,
// and the tally and digest are taken on the way, so that finish can
// check the thresholds and make the run held or pending.
//
// Storing overlaps planning: a full batch goes to one storing goroutine
// (started with the run) while the planner fills the next, so a plan
// takes about the longer of planning and storing, not their sum, on a
// machine with two cores. Batches are stored one at a time in the order
// planned, and at most two are waiting (one queued, one being filled).
type runWriter struct {
	st    RunWriter
	s     Submission
	run   *model.Run
	batch []model.Job
	inB   int // actions in batch
	tally Tally
	dig   *digester
	store *storer
}

// storer appends the batches handed to it to the run, in order, on its
// own goroutine. After the first failure it stores nothing more; the
// failure is reported by the next hand-over and by wait.
type storer struct {
	queue  chan []model.Job
	spare  chan []model.Job // stored batches, emptied, for reuse
	done   chan struct{}
	cancel context.CancelFunc
	mu     sync.Mutex
	err    error
}

func startStorer(ctx context.Context, st RunWriter, run *model.Run) *storer {
	ctx, cancel := context.WithCancel(ctx)
	s := &storer{queue: make(chan []model.Job, 1), spare: make(chan []model.Job, 2), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		for b := range s.queue {
			if s.failed() == nil {
				if err := st.AppendJobs(ctx, run, b); err != nil {
					s.mu.Lock()
					s.err = fmt.Errorf("submit: %w", err)
					s.mu.Unlock()
				}
			}
			clear(b)
			select {
			case s.spare <- b[:0]:
			default:
			}
		}
	}()
	return s
}

func (s *storer) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// hand queues batch b and returns an emptied batch to fill next.
func (s *storer) hand(ctx context.Context, b []model.Job) ([]model.Job, error) {
	if err := s.failed(); err != nil {
		return b, err
	}
	select {
	case s.queue <- b:
	case <-ctx.Done():
		return b, ctx.Err()
	}
	select {
	case next := <-s.spare:
		return next, nil
	default:
		return make([]model.Job, 0, cap(b)), nil
	}
}

// wait stores what was queued and reports the first failure.
func (s *storer) wait() error {
	close(s.queue)
	<-s.done
	s.cancel()
	return s.failed()
}

// stop abandons what is queued (the context of the batch being stored
// is cancelled) and waits for the goroutine to end.
func (s *storer) stop() {
	s.cancel()
	close(s.queue)
	<-s.done
}

func newRunWriter(st RunWriter, s Submission) *runWriter {
	return &runWriter{st: st, s: s, tally: Tally{}, dig: newDigester()}
}

func (w *runWriter) add(ctx context.Context, j *model.Job) error {
	if w.run == nil {
		w.run = &model.Run{ID: NewRunID(), Trigger: w.s.Trigger, Scope: w.s.Scope, CreatedAt: w.s.Now, UpdatedAt: w.s.Now}
		if err := w.st.BeginRun(ctx, w.run); err != nil {
			w.run = nil
			return fmt.Errorf("submit: %w", err)
		}
	}
	w.tally.Add(j)
	w.dig.add(j)
	w.batch = append(w.batch, *j)
	w.inB += len(j.Actions)
	if w.inB >= batchActions {
		return w.flush(ctx)
	}
	return nil
}

func (w *runWriter) flush(ctx context.Context) error {
	if len(w.batch) == 0 {
		return nil
	}
	if w.store == nil {
		w.store = startStorer(ctx, w.st, w.run)
	}
	next, err := w.store.hand(ctx, w.batch)
	if err != nil {
		return err
	}
	w.batch, w.inB = next, 0
	return nil
}

// stored waits until every batch handed over is stored.
func (w *runWriter) stored() error {
	if w.store == nil {
		return nil
	}
	s := w.store
	w.store = nil
	return s.wait()
}

// abandon drops the run begun, after a failure; best effort.
func (w *runWriter) abandon(ctx context.Context) {
	if w.store != nil {
		w.store.stop()
		w.store = nil
	}
	if w.run == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonWithin)
	defer cancel()
	_ = w.st.DropRun(ctx, w.run.ID)
	w.run = nil
}

// finish stores what is left of the plan, checks the thresholds against
// the whole of it and ends the planning of the run (see Submit).
func (w *runWriter) finish(ctx context.Context) (run *model.Run, created bool, dropped store.Dropped, err error) {
	if w.run == nil {
		return nil, false, dropped, nil // nothing planned, nothing stored
	}
	fail := func(err error) (*model.Run, bool, store.Dropped, error) {
		w.abandon(ctx)
		return nil, false, store.Dropped{}, err
	}
	if err := w.flush(ctx); err != nil {
		return fail(err)
	}
	if err := w.stored(); err != nil {
		return fail(err)
	}
	managed, err := w.st.CountAccounts(ctx)
	if err != nil {
		return fail(fmt.Errorf("submit: %w", err))
	}
	run = w.run
	run.Breaches = Check(w.tally, managed, w.s.Policy)
	run.State, run.UpdatedAt = model.RunPending, w.s.Now
	if len(run.Breaches) > 0 {
		run.State = model.RunHeld
		run.Note = "held: " + DescribeBreaches(run.Breaches)
		run.Digest = w.dig.sum()
	}
	dropped, err = w.st.FinishRun(ctx, run)
	switch {
	case errors.Is(err, store.ErrSameHeld):
		w.run = nil // the store dropped it
		return run, false, dropped, nil
	case err != nil:
		return fail(err)
	case dropped.Empty:
		return nil, false, dropped, nil
	}
	if run.State == model.RunHeld && w.s.Notifier != nil {
		w.s.Notifier.Notify(ctx, notify.Event{Kind: notify.RunHeld, Time: w.s.Now, RunID: run.ID, Target: w.s.Target,
			Message: fmt.Sprintf("run %s is held for approval: %s", run.ID, run.Note),
			Details: map[string]any{"breaches": run.Breaches, "scope": run.Scope, "trigger": run.Trigger}})
	}
	return run, true, dropped, nil
}
