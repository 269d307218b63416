package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// BenchmarkRetryOverhead runs the 1,000-person plan twice: once against a
// healthy target (the minimum number of requests the plan needs) and once
// through 20% 503s, 429 bursts and an outage, and reports how many more
// requests the faults cost.
//
//	go test -run '^$' -bench RetryOverhead -benchtime 1x ./internal/app/
func BenchmarkRetryOverhead(b *testing.B) {
	for i := 0; i < b.N; i++ {
		clean, cleanTime := faultRun(b, false)
		faulty, faultyTime := faultRun(b, true)
		b.ReportMetric(float64(clean), "min-requests")
		b.ReportMetric(float64(faulty), "faulty-requests")
		b.ReportMetric(float64(faulty)/float64(clean), "overhead-ratio")
		b.ReportMetric(cleanTime.Seconds(), "clean-s")
		b.ReportMetric(faultyTime.Seconds(), "faulty-s")
	}
}

// faultRun provisions 1,000 persons, with or without the chaos test's
// phases of faults, and returns the requests the target received and how
// long it took.
func faultRun(b *testing.B, faults bool) (int, time.Duration) {
	b.Helper()
	const persons = 1000
	w := newSimWorld(b, persons, 8, targetsim.Options{Seed: 42, DisableLog: true})
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "bench")
	if err != nil || run == nil {
		b.Fatal(err)
	}
	r0, _ := w.app.Store.GetRun(context.Background(), run.ID)
	total := int64(r0.Counts[model.ActionPending])
	var done atomic.Int64
	var phase atomic.Int32
	if faults {
		if _, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Fraction: 0.2, Status: 503}); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	w.runUntilDone(func(ev engine.Event) {
		if !faults || ev.Type != engine.EventAction || ev.Outcome != "succeeded" {
			return
		}
		d := done.Add(1)
		switch {
		case d >= total*3/10 && phase.CompareAndSwap(0, 1):
			w.sim.ClearFaults()
			_, _ = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Times: 30, RetryAfter: targetsim.Duration(time.Second)})
		case d >= total*5/10 && phase.CompareAndSwap(1, 2):
			w.sim.ClearFaults()
			_, _ = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultDown, Refuse: true, For: targetsim.Duration(1500 * time.Millisecond)})
		}
	})
	elapsed := time.Since(start)
	r, _ := w.app.Store.GetRun(context.Background(), run.ID)
	if r.State != model.RunSucceeded {
		b.Fatalf("run %s: %v", r.State, r.Counts)
	}
	return int(w.sim.Stats().Requests), elapsed
}

// BenchmarkDrainAfterOutage queues a backlog while the target is down,
// brings it back, and compares the time to drain the backlog with the
// theoretical minimum at the configured rate limit (requests / rate).
//
//	go test -run '^$' -bench DrainAfterOutage -benchtime 1x ./internal/app/
func BenchmarkDrainAfterOutage(b *testing.B) {
	const persons, rateLimit = 500, 200.0
	for i := 0; i < b.N; i++ {
		w := newSimWorld(b, persons, 8, targetsim.Options{DisableLog: true})
		cfgPath := filepath.Join(w.dir, "accord.yaml")
		cfg, _ := os.ReadFile(cfgPath)
		cfg = []byte(strings.Replace(string(cfg), "    concurrency: 8\n", "    concurrency: 8\n    rate_limit: {per_second: 200, burst: 20}\n", 1))
		if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
			b.Fatal(err)
		}
		a, err := app.Open(context.Background(), cfgPath, app.Options{Logger: testkit.QuietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		w.app = a
		// The target is down when the run starts; the engine opens the
		// circuit and waits. It comes back after two seconds.
		if _, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultDown, Refuse: true, For: targetsim.Duration(2 * time.Second)}); err != nil {
			b.Fatal(err)
		}
		backAt := time.Now().Add(2 * time.Second)
		if _, _, err := a.Enforce(context.Background(), app.Filter{}, "bench"); err != nil {
			b.Fatal(err)
		}
		w.runUntilDone(nil)
		drained := time.Since(backAt)
		st := w.sim.Stats()
		served := int(st.Requests) - int(st.Faults[targetsim.FaultDown])
		minimum := time.Duration(float64(served) / rateLimit * float64(time.Second))
		b.ReportMetric(drained.Seconds(), "drain-s")
		b.ReportMetric(minimum.Seconds(), "min-drain-s")
		b.ReportMetric(drained.Seconds()/minimum.Seconds(), "drain-ratio")
		b.ReportMetric(float64(served), "requests")
		a.Close(context.Background())
	}
}
