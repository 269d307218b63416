package testkit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// drainLook is how long Drain waits between looks at the store when no
// run reports done, for runs that finish without a run-done event
// reaching it (such as one finished by another engine).
const drainLook = time.Second

// minQuiet is the least time Drain lets pass with nothing happening at
// all before it calls the drain hung, whatever its caller asked: on a
// loaded two-core machine (load average 25-44, each test's process
// starved for seconds at a time) 20 s failed drains that were only slow.
const minQuiet = time.Minute

// busyFactor is how many times the quiet limit a drain may stay busy
// without any action becoming final before it is called hung.
const busyFactor = 4

// Drain runs an engine of a until no run is pending or running; a held
// run is left alone. observe, when not nil, sees every engine event, on
// the engine's goroutines. Drain wakes on the engine's run-done events
// and otherwise looks at the store once every drainLook: counting a large
// run's actions on every event would cost more than the run.
//
// timeout guards against a hang, not a slow machine; a large run on a
// loaded machine may take far longer in all, and its callers need not
// guess how much. Drain fails tb, naming the runs and targets that
// waited, when
//   - nothing has happened for timeout (at least minQuiet): no engine
//     event (an attempt's end, a lease, a job's end), no request in
//     flight, started or ended, no action changing state, and no target
//     waiting for a time of its own (a probe, a pause it was asked for):
//     a deadlock;
//   - or work went on for busyFactor times as long without any action
//     becoming final or any run finishing: a target that fails every
//     attempt without using them up (probed forever), a livelock.
func Drain(tb testing.TB, a *app.App, observe func(engine.Event), timeout time.Duration) {
	tb.Helper()
	quiet := max(timeout, minQuiet)
	drain(tb, a, observe, drainLimits{quiet: quiet, busy: busyFactor * quiet, look: drainLook})
}

// drainLimits are how long a drain may go without anything happening
// (quiet) and without progress (busy), and how often it looks.
type drainLimits struct{ quiet, busy, look time.Duration }

func drain(tb testing.TB, a *app.App, observe func(engine.Event), lim drainLimits) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{}, 1)
	var events atomic.Int64
	eng := a.NewEngine(app.EngineOptions{OnEvent: func(ev engine.Event) {
		events.Add(1)
		if observe != nil {
			observe(ev)
		}
		if ev.Type == engine.EventRunDone {
			select {
			case finished <- struct{}{}:
			default:
			}
		}
	}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eng.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	start := time.Now()
	w := drainWatch{lim: lim, progressAt: start, activeAt: start}
	look := time.NewTicker(lim.look)
	defer look.Stop()
	for {
		runs, err := a.Store.ListRuns(context.Background(), store.RunQuery{States: []model.RunState{model.RunPending, model.RunRunning}})
		if err != nil {
			tb.Fatalf("list unfinished runs: %v", err)
		}
		if len(runs) == 0 {
			return
		}
		if why := w.look(time.Now(), runs, events.Load(), eng.Status()); why != "" {
			tb.Fatalf("drain hung after %s: %s", time.Since(start).Round(time.Second), why)
		}
		select {
		case <-finished:
		case <-look.C:
		}
	}
}

// drainWatch tells a slow drain from a hung one, from what it sees at
// each look.
type drainWatch struct {
	lim        drainLimits
	progress   drainProgress
	activity   drainActivity
	progressAt time.Time // when progress last changed
	activeAt   time.Time // when anything last happened
}

// look returns why the drain is hung, or "" while it is not.
func (w *drainWatch) look(now time.Time, runs []model.Run, events int64, sts []engine.TargetStatus) string {
	if p := progressOf(runs); p != w.progress {
		w.progress, w.progressAt, w.activeAt = p, now, now
	}
	if act := activityOf(runs, events, sts); act != w.activity || waitsForTime(sts, now) {
		w.activity, w.activeAt = act, now
	}
	switch {
	case now.Sub(w.activeAt) >= w.lim.quiet:
		return fmt.Sprintf("nothing happened for %s: no engine event, no request in flight, started or ended, no action changed state, "+
			"and no target waits for a probe or a pause; waiting: %s", now.Sub(w.activeAt).Round(time.Second), waiting(runs, sts, now))
	case now.Sub(w.progressAt) >= w.lim.busy:
		return fmt.Sprintf("no action became final and no run finished for %s, though the engine was busy (%d events so far, the last change %s ago); waiting: %s",
			now.Sub(w.progressAt).Round(time.Second), events, now.Sub(w.activeAt).Round(time.Second), waiting(runs, sts, now))
	}
	return ""
}

// drainProgress is what Drain watches to tell a slow drain from a hung
// one: how many runs are unfinished, and how many of their actions are
// final. Either changes only as work gets done (or new work arrives).
type drainProgress struct{ runs, final int }

func progressOf(runs []model.Run) drainProgress {
	p := drainProgress{runs: len(runs)}
	for _, r := range runs {
		for st, n := range r.Counts {
			if st.Final() {
				p.final += n
			}
		}
	}
	return p
}

// drainActivity is what changes whenever the engine does anything, done
// or not: its events, its requests, its actions' states.
type drainActivity struct {
	events      int64
	counts      string
	lastRequest time.Time
}

func activityOf(runs []model.Run, events int64, sts []engine.TargetStatus) drainActivity {
	act := drainActivity{events: events, counts: countsOf(runs)}
	for _, st := range sts {
		if st.LastRequest.After(act.lastRequest) {
			act.lastRequest = st.LastRequest
		}
	}
	return act
}

// waitsForTime says whether a target has a request in flight or waits
// for a time it knows (its next probe, a pause): it will act then.
func waitsForTime(sts []engine.TargetStatus, now time.Time) bool {
	for _, st := range sts {
		if st.InFlight > 0 || st.PausedUntil.After(now) || (st.Circuit != engine.CircuitClosed && st.ProbeAt.After(now)) {
			return true
		}
	}
	return false
}

// countsOf sums the runs' actions by state, as "state n" in the order of
// the states' names.
func countsOf(runs []model.Run) string {
	sum := map[model.ActionState]int{}
	for _, r := range runs {
		for st, n := range r.Counts {
			sum[st] += n
		}
	}
	return formatCounts(sum)
}

func formatCounts(c map[model.ActionState]int) string {
	states := make([]model.ActionState, 0, len(c))
	for st, n := range c {
		if n > 0 {
			states = append(states, st)
		}
	}
	slices.Sort(states)
	parts := make([]string, len(states))
	for i, st := range states {
		parts[i] = fmt.Sprintf("%s %d", st, c[st])
	}
	return strings.Join(parts, ", ")
}

// waiting describes the unfinished runs and the engine's targets.
func waiting(runs []model.Run, sts []engine.TargetStatus, now time.Time) string {
	var b strings.Builder
	for i, r := range runs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "run %s (%s): %s", r.ID, r.State, formatCounts(r.Counts))
	}
	for _, st := range sts {
		fmt.Fprintf(&b, "; target %s: circuit %s", st.Name, st.Circuit)
		if st.Reason != "" {
			fmt.Fprintf(&b, " (%s)", st.Reason)
		}
		if st.ProbeJob != 0 {
			fmt.Fprintf(&b, ", probe job %d", st.ProbeJob)
		}
		fmt.Fprintf(&b, ", %d in flight", st.InFlight)
		if st.LastRequest.IsZero() {
			b.WriteString(", no request yet")
		} else {
			fmt.Fprintf(&b, ", last request %s ago", now.Sub(st.LastRequest).Round(time.Millisecond))
		}
		if st.ProbeAt.After(now) {
			fmt.Fprintf(&b, ", probe in %s", st.ProbeAt.Sub(now).Round(time.Millisecond))
		}
		if st.PausedUntil.After(now) {
			fmt.Fprintf(&b, ", paused for %s (%s)", st.PausedUntil.Sub(now).Round(time.Millisecond), st.PauseReason)
		}
	}
	if len(sts) == 0 {
		b.WriteString("; the engine has no targets")
	}
	return b.String()
}
