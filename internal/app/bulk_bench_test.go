package app_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// BenchmarkBulkJoiners runs the same initial load, joiners with ten
// groups each on one SCIM target with no added latency, with /Bulk and
// with bulk: off, in one run: requests at the simulator, wall time and
// CPU of each leg.
//
//	ACCORD_BENCH_BULK_PERSONS=10000 go test -run '^$' -bench BulkJoiners -benchtime 1x -timeout 60m ./internal/app/
func BenchmarkBulkJoiners(b *testing.B) {
	persons := 10000
	if v, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_BULK_PERSONS")); err == nil && v > 0 {
		persons = v
	}
	for _, bulk := range []string{"auto", "off"} {
		b.Run("bulk="+bulk, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				reqs, elapsed, cpu := runJoiners(b, persons, bulk)
				b.ReportMetric(float64(reqs), "requests")
				b.ReportMetric(float64(reqs)/float64(persons), "req/joiner")
				b.ReportMetric(elapsed.Seconds(), "wall-s")
				b.ReportMetric(float64(persons)/elapsed.Seconds(), "joiners/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(persons), "cpu-µs/joiner")
			}
		})
	}
}

func runJoiners(b *testing.B, persons int, bulk string) (int, time.Duration, time.Duration) {
	b.Helper()
	groups := make([]string, 10)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i)
	}
	opts := targetsim.Options{DisableLog: true, PatchNoContent: true, Bulk: targetsim.Bulk{Supported: true}}
	w := newSimWorldWith(b, persons, 8, opts, func(cfg string) string {
		cfg = strings.Replace(cfg, "entitlements_by: displayName", "entitlements_by: displayName\n      bulk: \""+bulk+"\"", 1)
		return strings.Replace(cfg, "birthright: [all-staff]", "birthright: ["+strings.Join(groups, ", ")+"]", 1)
	})
	for _, g := range groups {
		if _, err := w.sim.SCIM().CreateGroup(g); err != nil {
			b.Fatal(err)
		}
	}
	// A department without roles: the ten birthright groups are all.
	w.writeFeed(persons, func(_ int, row []string) { row[4] = "Finance" })
	if _, err := w.app.Import(context.Background(), ""); err != nil {
		b.Fatal(err)
	}
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "bench")
	if err != nil || run == nil || run.State != model.RunPending {
		b.Fatalf("enforce: %v %+v", err, run)
	}
	start, cpu0 := time.Now(), cpuTime()
	before := w.sim.Stats().Requests
	testkit.Drain(b, w.app, nil, 30*time.Minute)
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	reqs := int(w.sim.Stats().Requests - before)
	r, _ := w.app.Store.GetRun(context.Background(), run.ID)
	if r.State != model.RunSucceeded {
		b.Fatalf("run %s: %v", r.State, r.Counts)
	}
	for _, g := range groups {
		gr, _ := w.sim.SCIM().GroupByName(g)
		if n := len(w.sim.SCIM().Members(gr.ID)); n != persons {
			b.Fatalf("%s has %d members, want %d", g, n, persons)
		}
	}
	return reqs, elapsed, cpu
}
