package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// The engine's tests run inside a testing/synctest bubble: time.Now,
// timers and sleeps all follow one fake clock (see clock.go), so a test
// waits out backoffs, probes and holds of minutes in no real time, and
// its timings are exact. The store is a real SQLite file; the target is
// the memory connector, with failures injected by its Fail hook.

// rig is an engine over a real store and one memory target.
type rig struct {
	t      *testing.T
	st     store.Store
	mem    *memory.Target
	target *Target
	eng    *Engine

	mu     sync.Mutex
	events []Event
	runEnd chan model.Run
}

type rigOpts struct {
	settings pace.Settings
	retry    config.Retry
	lease    time.Duration
	engine   func(*Options)
	// conn wraps the memory target (a connector that gates its own
	// requests, a slow one); wrap wraps the store (a failing heartbeat).
	conn func(*memory.Target) connector.Connector
	wrap func(storeT) storeT
	// batch, above 1, lets the memory target add that many members at
	// once (group batching).
	batch int
}

// newRig builds the rig; call it inside the bubble.
func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	st := openStore(t)
	r := &rig{t: t, st: st, mem: memory.New(), runEnd: make(chan model.Run, 16)}
	if o.settings.Concurrency == 0 {
		o.settings = pace.SettingsOf(&config.Target{Concurrency: 4})
	}
	if o.retry.MaxAttempts == 0 {
		o.retry = config.Retry{MaxAttempts: 4, Base: time.Second, Max: 30 * time.Second}
	}
	r.mem.BatchMembers = o.batch
	var conn connector.Connector = r.mem
	if o.conn != nil {
		conn = o.conn(r.mem)
	}
	var est store.Store = st
	if o.wrap != nil {
		est = o.wrap(st)
	}
	r.target = &Target{Name: "crm", Conn: conn, Concurrency: o.settings.Concurrency, Retry: o.retry, Settings: o.settings}
	opts := Options{Lease: o.lease, Poll: 500 * time.Millisecond, Grace: time.Second, Logger: slog.New(slog.DiscardHandler), Owner: "A",
		OnEvent: func(ev Event) {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
			if ev.Type == EventRunDone {
				r.runEnd <- *ev.Run
			}
		}}
	if o.engine != nil {
		o.engine(&opts)
	}
	r.eng = New(est, []*Target{r.target}, opts)
	return r
}

// start runs the engine until the test ends.
func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.eng.Run(ctx)
	}()
	r.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// queue queues a run of the given jobs.
func (r *rig) queue(id string, jobs []model.Job) {
	r.t.Helper()
	run := model.Run{ID: id, Scope: "all", State: model.RunPending, CreatedAt: time.Now()}
	require.NoError(r.t, r.st.CreateRun(context.Background(), &run, jobs))
	r.eng.Wake()
}

// creates queues a run of n creates, one job per person.
func (r *rig) creates(id string, n int) {
	r.t.Helper()
	jobs := make([]model.Job, n)
	for i := range jobs {
		key := fmt.Sprintf("%s-%03d", id, i)
		jobs[i] = model.Job{PersonKey: key, Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpCreate,
			Attributes: model.Attributes{"userName": key}}}}
	}
	r.queue(id, jobs)
}

// finish waits, in fake time, for the run to end.
func (r *rig) finish(limit time.Duration) model.Run {
	r.t.Helper()
	select {
	case run := <-r.runEnd:
		return run
	case <-time.After(limit):
		r.t.Fatalf("no run finished within %s (fake time)", limit)
		return model.Run{}
	}
}

// actions returns the run's actions.
func (r *rig) actions(run string) []model.Action {
	r.t.Helper()
	as, err := r.st.ListActions(context.Background(), store.ActionQuery{RunID: run})
	require.NoError(r.t, err)
	return as
}

// outcomes counts EventAction outcomes by name.
func (r *rig) outcomes() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, ev := range r.events {
		if ev.Type == EventAction {
			out[ev.Outcome]++
		}
	}
	return out
}

// down is an unhelpful target answer: 503 with no detail.
var down = &connector.Error{Kind: connector.Unavailable, Status: 503, Message: "503 Service Unavailable"}

// calls records when each call of an operation reached the target, per
// person, in fake time.
type calls struct {
	mu  sync.Mutex
	at  map[string][]time.Time
	all []time.Time
}

func (c *calls) note(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at == nil {
		c.at = map[string][]time.Time{}
	}
	c.at[key] = append(c.at[key], time.Now())
	c.all = append(c.all, time.Now())
	return len(c.at[key])
}

func (c *calls) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.all)
}

// settingsWith is the default pacing of a target with a few changes.
func settingsWith(concurrency int, perSecond float64, burst int, f func(*config.Failure)) pace.Settings {
	s := pace.SettingsOf(&config.Target{Concurrency: concurrency, RateLimit: config.RateLimit{PerSecond: perSecond, Burst: burst}})
	if f != nil {
		f(&s.Failure)
	}
	return s
}

type storeT = store.Store

func auditQuery(action int64) store.AuditQuery { return store.AuditQuery{ActionID: action} }

// template is a store file with every migration applied, made once for
// the package: migrating a new SQLite file takes most of a test's time
// (seconds under the race detector), copying one takes milliseconds.
var template string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "accord-engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	template = filepath.Join(dir, "accord.db")
	st, err := sqlstore.OpenSQLite(context.Background(), template)
	if err == nil {
		err = st.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "make the template store:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// openStore opens a copy of the template store, closed when the test
// ends.
func openStore(t *testing.T) storeT {
	t.Helper()
	b, err := os.ReadFile(template)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "accord.db")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	st, err := sqlstore.OpenSQLite(context.Background(), p)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}
