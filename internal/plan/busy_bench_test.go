package plan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/population"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/testkit"
)

// BenchmarkPlanWhileRunPending plans everyone while a run is pending
// for every person on every target (all pairs busy, so nothing is
// planned): "given" reads the busy pairs whole into the planner's map
// first, as the planner did before it paged them; "paged" is the
// planner reading them a page at a time. peak-heap-MB is the highest
// heap sampled while planning, above the heap before it.
//
//	ACCORD_BENCH_BUSY_PERSONS=100000 go test -run '^$' -bench PlanWhileRunPending -benchtime 1x ./internal/plan/
func BenchmarkPlanWhileRunPending(b *testing.B) {
	persons := 20_000
	if v, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_BUSY_PERSONS")); err == nil && v > 0 {
		persons = v
	}
	const nTargets = 5
	ctx := context.Background()
	pol := benchConfig(b, nTargets, 10, 20)
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "accord.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	today := model.MustDate("2026-06-01")
	spec := population.Spec{Targets: nTargets}
	feed := func(fn func(model.Person) error) error {
		for i := 0; i < persons; i++ {
			if err := fn(spec.Person(i)); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := st.ApplyImport(ctx, store.Import{Source: "hr", Persons: feed, Date: today, At: time.Now()}); err != nil {
		b.Fatal(err)
	}
	// The pending run, stored in parts as the planner stores one.
	live := &model.Run{ID: "live", Trigger: "bench", Scope: "all", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.BeginRun(ctx, live); err != nil {
		b.Fatal(err)
	}
	var batch []model.Job
	for i := 0; i < persons; i++ {
		for t := 0; t < nTargets; t++ {
			batch = append(batch, model.Job{PersonKey: population.Key(i), Target: fmt.Sprintf("t%d", t), State: model.JobPending,
				Actions: []model.Action{{Seq: 1, Op: model.OpCreate, State: model.ActionPending}}})
		}
		if len(batch) >= 4000 || i == persons-1 {
			if err := st.AppendJobs(ctx, live, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	live.State = model.RunPending
	if _, err := st.FinishRun(ctx, live); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"given", "paged"} {
		b.Run(mode, func(b *testing.B) {
			var peak uint64
			for i := 0; i < b.N; i++ {
				heap := testkit.SampleHeap()
				pl := &plan.Planner{Policy: pol, Caps: capsFor(pol), Today: today}
				if mode == "given" {
					busy, err := st.Busy(ctx)
					if err != nil {
						b.Fatal(err)
					}
					pl.Busy = make(map[plan.Key]bool, len(busy))
					for k := range busy {
						pl.Busy[plan.Key{Person: k.Person, Target: k.Target}] = true
					}
				}
				res, err := plan.Stream(ctx, st, pl, false, func(*model.Job) error { return nil })
				peak = max(peak, heap.End())
				if err != nil {
					b.Fatal(err)
				}
				if res.Busy.Count != persons*nTargets || res.PlannedJobs != 0 {
					b.Fatalf("busy %d, planned %d jobs: want %d busy, none planned", res.Busy.Count, res.PlannedJobs, persons*nTargets)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(persons), "ns/person")
		})
	}
}
