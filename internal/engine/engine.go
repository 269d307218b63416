// Package engine executes runs: workers lease jobs (one person's ordered
// actions on one target) from the store, call the target's connector,
// decide by error kind, and commit every outcome with its audit evidence.
//
// The store's own tables are the queue (see the note on issue 2 for why
// not river): actions are written before anything runs, leases expire so
// a crashed worker's jobs are picked up again, and an action that was in
// flight at a crash is simply attempted again — every action is an
// ensure, so doing it twice is harmless.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
)

// EventType names what happened.
type EventType string

// Event types.
const (
	EventAction  EventType = "action"   // an action reached a state after an attempt
	EventJobDone EventType = "job_done" // a job has nothing left to do for now
	EventRunDone EventType = "run_done" // a run finished
	EventLeased  EventType = "leased"   // jobs were leased
)

// Event is reported to Options.OnEvent, for progress output, metrics and
// tests. Observers must be quick: they run on the engine's goroutines.
type Event struct {
	Type   EventType
	Action *model.Action
	Run    *model.Run
	Jobs   int
	// For EventAction: the target, the attempt's outcome ("succeeded",
	// "retry", "failed"), the error kind if any, and how long it took.
	Target    string
	Outcome   string
	ErrorKind string
	Duration  time.Duration
	// AccountGone: the attempt found the account no longer exists on the
	// target, and known state forgot it. Policy may want it re-created,
	// which only a new plan can tell.
	AccountGone bool
}

// Options tune an engine.
type Options struct {
	Lease time.Duration
	Poll  time.Duration
	// Grace is how long in-flight actions may finish after shutdown.
	Grace time.Duration
	// Now is the store's calendar, not a second clock: it must run at
	// the rate of time.Now (see clock.go). Default time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	OnEvent func(Event)
	// Notifier receives alerts (target down, auth failed, action parked).
	Notifier notify.Notifier
	// Owner names this worker process in leases; default a random ID.
	// It is a label: whether an owner is alive is told by its heartbeat
	// (ExtendLeases), never by the name.
	Owner string
}

// Engine runs jobs.
type Engine struct {
	st      Queue
	targets map[string]*Target
	opts    Options
	log     *slog.Logger
	commit  *committer
	finish  chan struct{}
}

// New builds an engine over the store and targets.
func New(st Queue, targets []*Target, opts Options) *Engine {
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().UTC() }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Owner == "" {
		opts.Owner = NewOwner()
	}
	if opts.Notifier == nil {
		opts.Notifier = notify.Log{Logger: opts.Logger}
	}
	e := &Engine{
		st: st, opts: opts, log: opts.Logger,
		targets: map[string]*Target{},
		finish:  make(chan struct{}, 1),
	}
	for _, t := range targets {
		if t.Concurrency <= 0 {
			t.Concurrency = 1
		}
		if t.Retry.MaxAttempts <= 0 {
			t.Retry = config.Retry{MaxAttempts: 8, Base: time.Second, Max: 5 * time.Minute}
		}
		t.init(opts.Notifier, opts.Owner)
		e.targets[t.Name] = t
		t.group = newGrouper(e, t)
	}
	e.commit = newCommitter(st, opts.Logger)
	// The finisher looks once a job's end is durable: nudged when the job
	// returned, it could look before its final state was committed (the
	// end rides along with a later commit) and then sleep a whole poll.
	e.commit.ended = e.nudgeFinisher
	return e
}

// Owner returns this engine's lease owner name.
func (e *Engine) Owner() string { return e.opts.Owner }

// NewOwner names a worker process with a random ID. Liveness is not read
// from it: host names and PIDs repeat across containers and PID
// namespaces, and a node judged another dead by them while it ran. An
// owner is dead when its leases expire without a heartbeat.
func NewOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s~%016x", host, rand.Uint64())
}

// Wake tells every dispatcher to look for work now (a run was created).
func (e *Engine) Wake() {
	for _, t := range e.targets {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Close flushes pending commits. Call after Run returns.
func (e *Engine) Close() { e.commit.Close() }

// Run executes work until ctx is done, then lets in-flight actions finish
// (up to Options.Grace), releases its leases and returns.
func (e *Engine) Run(ctx context.Context) error {
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	for _, t := range e.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.dispatch(ctx, work, t)
		}()
	}
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		e.heartbeat(ctx)
	}()
	finDone := make(chan struct{})
	go func() {
		defer close(finDone)
		e.finisher(ctx)
	}()
	<-ctx.Done()
	// After the grace, in-flight calls are cancelled and a store that
	// still refuses their outcomes is no longer retried.
	graceTimer := time.AfterFunc(e.opts.Grace, func() {
		stopWork()
		e.commit.abort()
	})
	wg.Wait()
	<-hbDone
	<-finDone
	e.commit.Close()
	graceTimer.Stop()
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.st.ReleaseLeases(rctx, []string{e.opts.Owner}); err != nil {
		e.log.Warn("release leases", "error", err)
	}
	e.finishRuns(rctx)
	return nil
}

// dispatch leases jobs of one target up to its concurrency and runs them.
// ctx stops leasing; work is the context of in-flight actions, cancelled
// only when the shutdown grace period is over.
func (e *Engine) dispatch(ctx, work context.Context, t *Target) {
	slots := make(chan struct{}, t.Concurrency*jobsPerCall+t.group.held())
	var wg sync.WaitGroup
	defer wg.Wait()
	jobDone := make(chan struct{}, 1)
	for {
		if ctx.Err() != nil {
			return
		}
		free := cap(slots) - len(slots)
		// Lease in chunks: a lease is a write to the store, and one per
		// finished job would compete with the outcomes for the writer.
		if free < cap(slots)/4 && len(slots) > 0 {
			free = 0
		}
		now := e.opts.Now()
		n, probe := t.leasable(free, time.Now())
		if n > 0 {
			jobs, err := e.st.LeaseJobs(ctx, store.LeaseRequest{
				Owner: e.opts.Owner, Target: t.Name, Max: n, Now: now, Until: now.Add(e.opts.Lease),
			})
			if err != nil && ctx.Err() == nil {
				e.log.Error("lease jobs", "target", t.Name, "error", err)
			}
			if len(jobs) > 0 {
				e.commit.leases.hold(jobs)
				e.emit(Event{Type: EventLeased, Jobs: len(jobs), Target: t.Name})
			}
			if probe {
				for _, j := range jobs {
					t.startProbe(j.ID)
					e.log.Info("probing target", "target", t.Name, "job", j.ID)
				}
			}
			started := e.startLeased(work, t, jobs)
			// Every leased job is counted in before any runs: a job that
			// reaches a batch first must see the others' grants coming,
			// or its batch goes alone (the others still being started).
			// A lease takes no more jobs than there are free slots.
			for k := range jobs {
				slots <- struct{}{}
				t.group.enter(&jobs[k])
			}
			for k, j := range jobs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.runJob(ctx, work, t, j, started[k])
					t.endProbe(j.ID)
					t.group.leave(j.ID)
					<-slots
					select {
					case jobDone <- struct{}{}:
					default:
					}
				}()
			}
			if len(jobs) == n && !probe {
				continue // there is probably more; look again at once
			}
		}
		wait := e.opts.Poll
		if at := t.nextWake(); !at.IsZero() {
			if d := time.Until(at); d > 0 {
				wait = min(wait, d)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.wake:
		case <-jobDone:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (e *Engine) heartbeat(ctx context.Context) {
	tick := time.NewTicker(e.opts.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			until := e.opts.Now().Add(e.opts.Lease)
			err := e.st.ExtendLeases(ctx, e.opts.Owner, until)
			if err == nil {
				e.commit.leases.extended(e.opts.Now(), until)
			} else if ctx.Err() == nil {
				e.log.Warn("extend leases", "error", err)
			}
		}
	}
}

func (e *Engine) nudgeFinisher() {
	select {
	case e.finish <- struct{}{}:
	default:
	}
}

// finisher closes runs whose jobs are all done. A nudge after each job
// is coalesced: at most one look per finishEvery, as a busy engine
// finishes hundreds of jobs a second and only the last one ends a run.
func (e *Engine) finisher(ctx context.Context) {
	const finishEvery = 100 * time.Millisecond
	tick := time.NewTicker(max(e.opts.Poll, finishEvery))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-e.finish:
			timer := time.NewTimer(finishEvery)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		e.finishRuns(ctx)
	}
}

func (e *Engine) finishRuns(ctx context.Context) {
	runs, err := e.st.FinishRuns(ctx, e.opts.Now())
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("finish runs", "error", err)
		}
		return
	}
	for i := range runs {
		r := runs[i]
		e.log.Info("run finished", "run_id", r.ID, "state", r.State)
		runSpan(ctx, &r)
		e.emit(Event{Type: EventRunDone, Run: &r})
	}
}

func (e *Engine) emit(ev Event) {
	if e.opts.OnEvent != nil {
		e.opts.OnEvent(ev)
	}
}
