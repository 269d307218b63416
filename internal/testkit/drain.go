package testkit

import (
	"context"
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

// Drain runs an engine of a until no run is pending or running; a held
// run is left alone. observe, when not nil, sees every engine event, on
// the engine's goroutines. Drain wakes on the engine's run-done events
// and otherwise looks at the store once every drainLook: counting a large
// run's actions on every event would cost more than the run.
//
// timeout guards against a hang, not a slow machine: Drain fails tb when
// the unfinished runs have made no progress (no action reached a final
// state, no run finished) for that long. A large run on a loaded machine
// may take far longer in all; its callers need not guess how much.
func Drain(tb testing.TB, a *app.App, observe func(engine.Event), timeout time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{}, 1)
	eng := a.NewEngine(app.EngineOptions{OnEvent: func(ev engine.Event) {
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
	stalled := time.NewTimer(timeout)
	defer stalled.Stop()
	look := time.NewTicker(drainLook)
	defer look.Stop()
	var last drainProgress
	for {
		runs, err := a.Store.ListRuns(context.Background(), store.RunQuery{States: []model.RunState{model.RunPending, model.RunRunning}})
		if err != nil {
			tb.Fatalf("list unfinished runs: %v", err)
		}
		if len(runs) == 0 {
			return
		}
		if p := progressOf(runs); p != last {
			last = p
			stalled.Reset(timeout)
		}
		select {
		case <-finished:
		case <-look.C:
		case <-stalled.C:
			tb.Fatalf("runs made no progress for %s (%s since the drain began): %+v; engine: %+v",
				timeout, time.Since(start).Round(time.Second), runs, eng.Status())
		}
	}
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
