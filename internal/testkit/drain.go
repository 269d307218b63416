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
// run's actions on every event would cost more than the run. timeout only
// guards against a hang: when runs are still unfinished by then, it fails
// tb.
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
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	look := time.NewTicker(drainLook)
	defer look.Stop()
	for {
		runs, err := a.Store.ListRuns(context.Background(), store.RunQuery{States: []model.RunState{model.RunPending, model.RunRunning}})
		if err != nil {
			tb.Fatalf("list unfinished runs: %v", err)
		}
		if len(runs) == 0 {
			return
		}
		select {
		case <-finished:
		case <-look.C:
		case <-deadline.C:
			tb.Fatalf("runs did not finish in %s: %+v; engine: %+v", timeout, runs, eng.Status())
		}
	}
}
