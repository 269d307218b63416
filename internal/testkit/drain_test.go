package testkit

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"

	_ "github.com/accord-iam/accord/internal/connector/scim"
)

// TestDrainProgress: a drain progresses when an action becomes final or a
// run finishes, not when actions only move between pending and running
// (a target that fails every attempt must still count as a hang).
func TestDrainProgress(t *testing.T) {
	run := func(c map[model.ActionState]int) model.Run { return model.Run{Counts: c} }
	before := progressOf([]model.Run{run(map[model.ActionState]int{model.ActionPending: 5, model.ActionSucceeded: 2}), run(nil)})
	require.Equal(t, before, progressOf([]model.Run{run(map[model.ActionState]int{model.ActionPending: 4, model.ActionRunning: 1, model.ActionSucceeded: 2}), run(nil)}))
	require.NotEqual(t, before, progressOf([]model.Run{run(map[model.ActionState]int{model.ActionPending: 4, model.ActionSucceeded: 2, model.ActionFailed: 1}), run(nil)}))
	require.NotEqual(t, before, progressOf([]model.Run{run(map[model.ActionState]int{model.ActionPending: 5, model.ActionSucceeded: 2})}))
}

// TestDrainWatchTellsSlowFromHung: anything the engine does (an event, a
// request in flight, started or ended, an action changing state, a probe
// or pause it waits for) keeps a drain from being called hung for the
// quiet limit; only an action becoming final or a run finishing keeps it
// for the busy limit, so a drain that is busy forever still ends. Either
// way the verdict names what waited.
func TestDrainWatchTellsSlowFromHung(t *testing.T) {
	lim := drainLimits{quiet: time.Minute, busy: 4 * time.Minute}
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	runs := func(c map[model.ActionState]int) []model.Run {
		return []model.Run{{ID: "r1", State: model.RunRunning, Counts: c}}
	}
	pending := runs(map[model.ActionState]int{model.ActionPending: 5})
	closed := []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed}}
	type step struct {
		at     time.Duration // since t0
		runs   []model.Run
		events int64
		sts    []engine.TargetStatus
		want   string // in the verdict; "" not hung
	}
	for name, steps := range map[string][]step{
		"nothing happens": {
			{0, pending, 0, closed, ""},
			{59 * time.Second, pending, 0, closed, ""},
			{time.Minute, pending, 0, closed, "nothing happened for 1m0s"},
		},
		"events without progress": {
			{0, pending, 0, closed, ""},
			{50 * time.Second, pending, 1, closed, ""},
			{100 * time.Second, pending, 2, closed, ""},
			{150 * time.Second, pending, 3, closed, ""},
			{200 * time.Second, pending, 4, closed, ""},
			{239 * time.Second, pending, 5, closed, ""},
			{240 * time.Second, pending, 6, closed, "no action became final and no run finished for 4m0s"},
		},
		"actions changing state, then one final": {
			{0, pending, 0, closed, ""},
			{50 * time.Second, runs(map[model.ActionState]int{model.ActionPending: 4, model.ActionRunning: 1}), 0, closed, ""},
			{100 * time.Second, runs(map[model.ActionState]int{model.ActionPending: 4, model.ActionSucceeded: 1}), 0, closed, ""},
			{159 * time.Second, runs(map[model.ActionState]int{model.ActionPending: 4, model.ActionSucceeded: 1}), 0, closed, ""},
			{160 * time.Second, runs(map[model.ActionState]int{model.ActionPending: 4, model.ActionSucceeded: 1}), 0, closed, "nothing happened for 1m0s"},
		},
		"a slow request in flight, stuck at last": {
			{0, pending, 0, closed, ""},
			{time.Second, pending, 1, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, InFlight: 1}}, ""},
			{3 * time.Minute, pending, 1, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, InFlight: 1}}, ""},
			{4 * time.Minute, pending, 1, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, InFlight: 1}}, "no action became final"},
		},
		"requests between looks": {
			{0, pending, 0, closed, ""},
			{50 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, LastRequest: t0.Add(40 * time.Second)}}, ""},
			{100 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, LastRequest: t0.Add(90 * time.Second)}}, ""},
			{160 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, LastRequest: t0.Add(90 * time.Second)}},
				"target saas: circuit closed, 0 in flight, last request 1m10s ago"},
		},
		"waiting for a probe, then half open with nothing sent": {
			{0, pending, 0, closed, ""},
			{50 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitOpen, Reason: "3 consecutive failures", ProbeAt: t0.Add(70 * time.Second)}}, ""},
			{69 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitOpen, Reason: "3 consecutive failures", ProbeAt: t0.Add(70 * time.Second)}}, ""},
			{128 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitHalfOpen, Reason: "3 consecutive failures", ProbeJob: 42, ProbeAt: t0.Add(70 * time.Second)}}, ""},
			{129 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitHalfOpen, Reason: "3 consecutive failures", ProbeJob: 42, ProbeAt: t0.Add(70 * time.Second)}},
				"waiting: run r1 (running): pending 5; target saas: circuit half_open (3 consecutive failures), probe job 42, 0 in flight, no request yet"},
		},
		"a pause the target asked for": {
			{0, pending, 0, closed, ""},
			{50 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, PausedUntil: t0.Add(5 * time.Minute), PauseReason: "429"}}, ""},
			{170 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, PausedUntil: t0.Add(5 * time.Minute), PauseReason: "429"}}, ""},
			{240 * time.Second, pending, 0, []engine.TargetStatus{{Name: "saas", Circuit: engine.CircuitClosed, PausedUntil: t0.Add(5 * time.Minute), PauseReason: "429"}},
				"paused for 1m0s (429)"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := drainWatch{lim: lim, progressAt: t0, activeAt: t0}
			for i, s := range steps {
				got := w.look(t0.Add(s.at), s.runs, s.events, s.sts)
				if s.want == "" {
					require.Empty(t, got, "step %d", i)
				} else {
					require.Contains(t, got, s.want, "step %d", i)
				}
			}
		})
	}
}

// fatalTB is a test whose Fatalf is recorded and ends the goroutine that
// called it, as testing.T's does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// drained runs drain with lim on a in a goroutine and returns its
// verdict: "" when it drained, else the failure's message.
func drained(t *testing.T, a *app.App, lim drainLimits) string {
	t.Helper()
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		drain(tb, a, nil, lim)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the drain itself did not end")
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.msg
}

const drainConfig = `store: {path: accord.db}
%s
targets:
  - name: saas
    type: scim
    concurrency: 1
    connection:
      url: %s/scim/v2
      auth: {type: bearer, token: "${file:%s}"}
      discovery: false
      entitlements_by: displayName
    account:
      userName: "{{ email }}"
    birthright: [all-staff]
    retry: {base: 10ms, max: 40ms, max_attempts: 2}
    failure: {open_after: 2, probe_after: 50ms, probe_max: 200ms}
engine: {poll: 20ms, lease: 2s}
`

// drainWorld is accord against the simulator with the faults, two
// joiners planned and stored.
func drainWorld(t *testing.T, faults ...targetsim.Rule) *app.App {
	t.Helper()
	sim := targetsim.New(targetsim.Options{Token: "drain-token"})
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	_, err = sim.SCIM().CreateGroup("all-staff")
	require.NoError(t, err)
	dir := t.TempDir()
	tok := WriteFile(t, dir, "token", "drain-token")
	WriteFile(t, dir, "accord.yaml", fmt.Sprintf(drainConfig, HR{}.Source(), base, tok))
	HR{}.Write(t, dir, "E1,Ada,Lovelace,ada@example.com,Sales,2026-01-01,", "E2,Alan,Turing,alan@example.com,Sales,2026-01-01,")
	a := OpenApp(t, dir, app.Options{})
	ctx := context.Background()
	_, err = a.Import(ctx, "")
	require.NoError(t, err)
	for _, f := range faults {
		_, err := sim.AddFault(f)
		require.NoError(t, err)
	}
	run, _, err := a.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	require.NotNil(t, run)
	return a
}

// A target that is down for good is probed forever and no action ends:
// busy, never done. The drain ends at the busy limit, naming the target.
// (The quiet limit is out of the way: a store commit alone took 1.7 s
// under the race detector on a quiet machine, longer under load.)
func TestDrainEndsWhenBusyWithoutProgress(t *testing.T) {
	a := drainWorld(t, targetsim.Rule{Kind: targetsim.FaultDown})
	msg := drained(t, a, drainLimits{quiet: time.Hour, busy: 12 * time.Second, look: 100 * time.Millisecond})
	require.Contains(t, msg, "no action became final and no run finished for 12s, though the engine was busy")
	require.Contains(t, msg, "target saas: circuit ")
	require.Regexp(t, `waiting: run \S+ \(running\): [^;]*pending \d`, msg)
}

// Work that nothing will ever take (its target is not the engine's) is a
// deadlock: the drain ends at the quiet limit.
func TestDrainEndsWhenNothingHappens(t *testing.T) {
	a := drainWorld(t)
	ctx := context.Background()
	require.NoError(t, a.Store.CreateRun(ctx, &model.Run{ID: "ghost-run", Scope: "all", State: model.RunPending, CreatedAt: time.Now()},
		[]model.Job{{PersonKey: "E9", Target: "ghost", Actions: []model.Action{{Seq: 1, Op: model.OpCreate, Attributes: model.Attributes{"userName": "e9"}}}}}))
	msg := drained(t, a, drainLimits{quiet: 2 * time.Second, busy: time.Hour, look: 100 * time.Millisecond})
	require.Contains(t, msg, "nothing happened for 2s")
	require.Contains(t, msg, "run ghost-run (pending): pending 1")
	require.True(t, strings.HasPrefix(msg, "drain hung after "), msg)
}
