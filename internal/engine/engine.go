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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
)

// Target is one target as the engine drives it.
type Target struct {
	Name        string
	Conn        connector.Connector
	Concurrency int
	Retry       config.Retry
	// Limiter bounds requests per second (nil: unlimited).
	Limiter *rate.Limiter

	mu         sync.Mutex
	pauseUntil time.Time
	wake       chan struct{}
}

// NewTarget builds an engine target from its config and connector.
func NewTarget(t *config.Target, conn connector.Connector) *Target {
	et := &Target{Name: t.Name, Conn: conn, Concurrency: t.Concurrency, Retry: t.Retry}
	if t.RateLimit.PerSecond > 0 {
		burst := t.RateLimit.Burst
		if burst <= 0 {
			burst = max(1, int(t.RateLimit.PerSecond))
		}
		et.Limiter = rate.NewLimiter(rate.Limit(t.RateLimit.PerSecond), burst)
	}
	return et
}

// pause stops requests to the target until t (a Retry-After).
func (t *Target) pause(until time.Time) {
	t.mu.Lock()
	if until.After(t.pauseUntil) {
		t.pauseUntil = until
	}
	t.mu.Unlock()
}

func (t *Target) pausedUntil() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pauseUntil
}

// gate waits until a request to the target is allowed: after any pause
// the target asked for, and within the rate limit.
func (t *Target) gate(ctx context.Context) error {
	for {
		until := t.pausedUntil()
		d := time.Until(until)
		if d <= 0 {
			break
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	if t.Limiter != nil {
		return t.Limiter.Wait(ctx)
	}
	return nil
}

// EventType names what happened.
type EventType string

// Event types.
const (
	EventAction   EventType = "action"    // an action reached a state after an attempt
	EventJobDone  EventType = "job_done"  // a job has nothing left to do for now
	EventRunDone  EventType = "run_done"  // a run finished
	EventLeased   EventType = "leased"    // jobs were leased
	EventCommitOK EventType = "commit_ok" // reserved for observers of durability
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
}

// Options tune an engine.
type Options struct {
	Lease time.Duration
	Poll  time.Duration
	// Grace is how long in-flight actions may finish after shutdown.
	Grace   time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	OnEvent func(Event)
	// Notifier receives alerts (target down, auth failed, action parked).
	Notifier notify.Notifier
	// Owner names this worker process in leases; default host:pid:random.
	Owner string
}

// Engine runs jobs.
type Engine struct {
	st      store.Store
	targets map[string]*Target
	opts    Options
	log     *slog.Logger
	commit  *committer
	finish  chan struct{}
}

// New builds an engine over the store and targets.
func New(st store.Store, targets []*Target, opts Options) *Engine {
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
		t.wake = make(chan struct{}, 1)
		e.targets[t.Name] = t
	}
	e.commit = newCommitter(st, opts.Logger)
	return e
}

// Owner returns this engine's lease owner name.
func (e *Engine) Owner() string { return e.opts.Owner }

// NewOwner names a worker process: host, pid and a random suffix, so a
// restarted process on the same host can tell a dead predecessor's
// leases from a live neighbour's.
func NewOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%04x", host, os.Getpid(), rand.IntN(0x10000))
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
	if err := e.reclaimDeadOwners(ctx); err != nil {
		e.log.Warn("could not reclaim leases of dead workers", "error", err)
	}
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
	graceTimer := time.AfterFunc(e.opts.Grace, stopWork)
	wg.Wait()
	graceTimer.Stop()
	<-hbDone
	<-finDone
	e.commit.Close()
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
	slots := make(chan struct{}, t.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	jobDone := make(chan struct{}, t.Concurrency)
	for {
		if ctx.Err() != nil {
			return
		}
		free := cap(slots) - len(slots)
		paused := time.Until(t.pausedUntil()) > 0
		if free > 0 && !paused {
			now := e.opts.Now()
			jobs, err := e.st.LeaseJobs(ctx, store.LeaseRequest{
				Owner: e.opts.Owner, Target: t.Name, Max: free, Now: now, Until: now.Add(e.opts.Lease),
			})
			if err != nil && ctx.Err() == nil {
				e.log.Error("lease jobs", "target", t.Name, "error", err)
			}
			if len(jobs) > 0 {
				e.emit(Event{Type: EventLeased, Jobs: len(jobs)})
			}
			for _, j := range jobs {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.runJob(ctx, work, t, j)
					<-slots
					select {
					case jobDone <- struct{}{}:
					default:
					}
					e.nudgeFinisher()
				}()
			}
			if len(jobs) == free && free > 0 {
				continue // there is probably more; look again at once
			}
		}
		wait := e.opts.Poll
		if paused {
			wait = min(wait, time.Until(t.pausedUntil()))
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
			err := e.st.ExtendLeases(ctx, e.opts.Owner, e.opts.Now().Add(e.opts.Lease))
			if err != nil && ctx.Err() == nil {
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

func (e *Engine) finisher(ctx context.Context) {
	tick := time.NewTicker(e.opts.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-e.finish:
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
		e.emit(Event{Type: EventRunDone, Run: &r})
	}
}

func (e *Engine) emit(ev Event) {
	if e.opts.OnEvent != nil {
		e.opts.OnEvent(ev)
	}
}

// reclaimDeadOwners releases leases held by processes on this host that
// no longer exist: after a kill -9 and restart, work resumes at once
// instead of waiting for the lease to expire.
func (e *Engine) reclaimDeadOwners(ctx context.Context) error {
	owners, err := e.st.LeaseOwners(ctx)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	var dead []string
	for _, o := range owners {
		parts := strings.Split(o, ":")
		if len(parts) != 3 || parts[0] != host || o == e.opts.Owner {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			dead = append(dead, o)
		}
	}
	if len(dead) == 0 {
		return nil
	}
	e.log.Info("reclaiming leases of dead workers", "owners", dead)
	return e.st.ReleaseLeases(ctx, dead)
}

// backoff is exponential with full jitter: a random delay in
// [0, min(max, base*2^attempt)), so that many failing actions do not
// return to a recovering target in lockstep.
func backoff(r config.Retry, attempt int) time.Duration {
	ceil := r.Base
	for i := 1; i < attempt && ceil < r.Max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, r.Max)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil)))
}

// Circuit states of a target.
const (
	CircuitClosed   = "closed"    // the target answers: work flows
	CircuitOpen     = "open"      // the target is down: its actions wait
	CircuitHalfOpen = "half_open" // probing whether it is back
	CircuitPaused   = "paused"    // credentials refused: waits for an operator
)

// TargetStatus is how the engine sees one target now.
type TargetStatus struct {
	Name        string    `json:"name"`
	Circuit     string    `json:"circuit"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
	Reason      string    `json:"reason,omitempty"`
}

// Status reports every target's state, sorted by name.
func (e *Engine) Status() []TargetStatus {
	out := make([]TargetStatus, 0, len(e.targets))
	for _, t := range e.targets {
		st := TargetStatus{Name: t.Name, Circuit: CircuitClosed}
		if until := t.pausedUntil(); time.Until(until) > 0 {
			st.PausedUntil = until
			st.Reason = "rate limited by the target"
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b TargetStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}
