package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// Benchmarks run on SQLite, and on PostgreSQL too when
// ACCORD_TEST_POSTGRES_DSN is set:
//
//	go test -run '^$' -bench . -benchtime 3x ./internal/store/sqlstore/

var benchTargets = []string{"crm", "mail", "hr", "wiki", "vpn"}

func benchStores(b *testing.B, fn func(b *testing.B, s *sqlstore.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.sqlite"))
		require.NoError(b, err)
		b.Cleanup(func() { _ = s.Close() })
		fn(b, s)
	})
	if os.Getenv("ACCORD_TEST_POSTGRES_DSN") == "" {
		return
	}
	b.Run("postgres", func(b *testing.B) {
		s, err := sqlstore.Open(context.Background(), "postgres", benchSchema(b))
		require.NoError(b, err)
		b.Cleanup(func() { _ = s.Close() })
		fn(b, s)
	})
}

// benchSchema is freshSchema with durable commits: benchmarks measure
// what production pays.
func benchSchema(b *testing.B) string {
	dsn := postgresDSN(b)
	return schemaDSN(b, dsn, "search_path", newSchema(b, dsn))
}

var runSeq int

// benchRun builds a run of one job per person and target, each with
// actionsPerJob actions, as the planner would.
func benchRun(persons, actionsPerJob int, created time.Time) (*model.Run, []model.Job) {
	runSeq++
	run := &model.Run{ID: fmt.Sprintf("run-%06d", runSeq), Trigger: "bench", Scope: "all", State: model.RunPending, CreatedAt: created}
	jobs := make([]model.Job, 0, persons*len(benchTargets))
	for p := range persons {
		key := fmt.Sprintf("E%07d", p)
		for _, tg := range benchTargets {
			j := model.Job{PersonKey: key, Target: tg}
			for k := range actionsPerJob {
				a := model.Action{Seq: k + 1, Op: model.OpGrant, Entitlements: []string{fmt.Sprintf("group-%d", k)}, Reason: "joiner"}
				if k == 0 {
					a.Op, a.Entitlements = model.OpCreate, nil
					a.Attributes = model.Attributes{"mail": key + "@example.com", "dept": "eng", "start": model.MustDate("2025-03-01")}
				}
				j.Actions = append(j.Actions, a)
			}
			jobs = append(jobs, j)
		}
	}
	return run, jobs
}

// BenchmarkCreateRun stores runs of persons x 5 targets jobs, one action
// each: persons=100000 is the 500,000-action run of a first import.
func BenchmarkCreateRun(b *testing.B) {
	for _, persons := range []int{2000, 100000} {
		b.Run(fmt.Sprintf("persons=%d", persons), func(b *testing.B) {
			benchStores(b, func(b *testing.B, s *sqlstore.Store) {
				ctx := context.Background()
				n := 0
				for b.Loop() {
					b.StopTimer()
					run, jobs := benchRun(persons, 1, time.Now())
					b.StartTimer()
					require.NoError(b, s.CreateRun(ctx, run, jobs))
					n += len(jobs)
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "actions/s")
			})
		})
	}
}

// BenchmarkCommit commits group-commit batches as the engine writes them:
// for 500 jobs of 2 actions, 1000 action outcomes, 500 job outcomes,
// 3000 audit records and 1000 account changes.
func BenchmarkCommit(b *testing.B) {
	benchStores(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		run, jobs := benchRun(100, 2, time.Now())
		require.NoError(b, s.CreateRun(ctx, run, jobs))
		now := time.Now()
		batch := func() store.Batch {
			var bt store.Batch
			for _, j := range jobs {
				for _, a := range j.Actions {
					for _, k := range []audit.Kind{audit.KindAttemptStart, audit.KindExchange, audit.KindAttemptEnd} {
						bt.Audit = append(bt.Audit, audit.Record{Time: now, Kind: k, RunID: run.ID, ActionID: a.ID, Attempt: 1,
							PersonKey: a.PersonKey, Target: a.Target, Method: "POST", URL: "https://t.example/users", Status: 201,
							RequestHeaders: map[string]string{"Content-Type": "application/json"}, ResponseExcerpt: `{"id":"u-1"}`})
					}
					bt.Actions = append(bt.Actions, store.ActionUpdate{ID: a.ID, State: model.ActionSucceeded, Attempts: 1, At: now})
					bt.Accounts = append(bt.Accounts, model.AccountChange{Target: a.Target, PersonKey: a.PersonKey, Upsert: true,
						NativeID: "u-" + a.PersonKey, Attributes: a.Attributes, Grant: a.Entitlements, At: now})
				}
				bt.Jobs = append(bt.Jobs, store.JobUpdate{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: now})
			}
			return bt
		}
		records := 0
		for b.Loop() {
			b.StopTimer()
			bt := batch()
			b.StartTimer()
			require.NoError(b, s.Commit(ctx, bt))
			records += len(bt.Actions)
		}
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "actions/s")
	})
}

// BenchmarkLeaseJobs leases 100 jobs at a time from a queue of 100,000
// (20,000 persons x 5 targets), finishing each lease untimed, as workers
// drain a large run.
func BenchmarkLeaseJobs(b *testing.B) {
	benchStores(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		now := time.Now()
		b.StopTimer()
		run, jobs := benchRun(20000, 2, now)
		require.NoError(b, s.CreateRun(ctx, run, jobs))
		b.StartTimer()
		leased := 0
		for b.Loop() {
			got, err := s.LeaseJobs(ctx, store.LeaseRequest{Owner: "bench", Max: 100, Now: now, Until: now.Add(time.Minute)})
			require.NoError(b, err)
			b.StopTimer()
			if len(got) == 0 { // drained: start over with a new run
				run, jobs = benchRun(20000, 2, now)
				require.NoError(b, s.CreateRun(ctx, run, jobs))
			}
			var bt store.Batch
			for _, j := range got {
				bt.Jobs = append(bt.Jobs, store.JobUpdate{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: now})
			}
			require.NoError(b, s.Commit(ctx, bt))
			leased += len(got)
			b.StartTimer()
		}
		b.ReportMetric(float64(leased)/b.Elapsed().Seconds(), "jobs/s")
	})
}

// BenchmarkEachAccount streams 100,000 known accounts of 10 entitlements.
func BenchmarkEachAccount(b *testing.B) {
	benchStores(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		const accounts = 100000
		b.StopTimer()
		ents := make([]string, 10)
		for i := range ents {
			ents[i] = fmt.Sprintf("cn=group-%d,ou=groups,dc=example,dc=com", i)
		}
		changes := make([]model.AccountChange, 0, 10000)
		for i := range accounts {
			key := fmt.Sprintf("E%07d", i/len(benchTargets))
			changes = append(changes, model.AccountChange{Target: benchTargets[i%len(benchTargets)], PersonKey: key, Upsert: true,
				NativeID: "u-" + key, Attributes: model.Attributes{"mail": key + "@example.com", "active": true}, Grant: ents})
			if len(changes) == cap(changes) {
				require.NoError(b, s.ApplyAccountChanges(ctx, changes))
				changes = changes[:0]
			}
		}
		b.StartTimer()
		rows := 0
		for b.Loop() {
			require.NoError(b, s.EachAccount(ctx, "", func(a model.Account) error {
				rows++
				return nil
			}))
		}
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "accounts/s")
	})
}
