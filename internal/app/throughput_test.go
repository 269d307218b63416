package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// BenchmarkThroughput measures accord against the simulator with no added
// latency and, in the same run, a plain Go HTTP load generator sending the
// same kinds of requests with the same concurrency: the ratio of their
// request rates is what accord's bookkeeping (durable outcomes, audit,
// leases, read-backs) costs. A third leg sends accord's own requests
// through its connector with no engine and no store, which splits that
// cost in two; "cores" is CPU time over wall time, since on a small
// machine every leg is CPU-bound and the ratio compares CPU per request.
//
//	go test -run '^$' -bench Throughput -benchtime 1x ./internal/app/
//
// A second case adds 20ms to every answer, as a SaaS on the internet
// takes: there the target, not accord, sets the pace.
//
// ACCORD_BENCH_POSTGRES_DSN, if set, puts accord's store in PostgreSQL
// instead of SQLite: a DSN whose search_path names an empty schema.
func BenchmarkThroughput(b *testing.B) {
	const concurrency = 8
	for _, c := range []struct {
		name    string
		persons int
		latency time.Duration
	}{
		{"latency=0", 2000, 0},
		{"latency=20ms", 200, 20 * time.Millisecond},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				accord := runAccord(b, c.persons, concurrency, c.latency)
				raw := runRaw(b, accord.requests, concurrency, c.latency)
				conn := runConnectorOnly(b, c.persons, concurrency, c.latency)
				b.ReportMetric(conn.rate(), "conn-req/s")
				b.ReportMetric(accord.rate(), "accord-req/s")
				b.ReportMetric(raw.rate(), "raw-req/s")
				b.ReportMetric(accord.rate()/raw.rate(), "ratio")
				b.ReportMetric(conn.cpuPerRequest(), "conn-cpu-µs/req")
				b.ReportMetric(accord.cpuPerRequest(), "accord-cpu-µs/req")
				b.ReportMetric(raw.cpuPerRequest(), "raw-cpu-µs/req")
				b.ReportMetric(accord.cpuPerRequest()/raw.cpuPerRequest(), "cpu-ratio")
				elapsed := accord.wall
				b.ReportMetric(float64(c.persons)/elapsed.Seconds(), "persons/s")
			}
		})
	}
}

// addLatency delays every answer of the simulator by d.
func addLatency(b *testing.B, sim *targetsim.Sim, d time.Duration) {
	b.Helper()
	if d <= 0 {
		return
	}
	if _, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(d)}); err != nil {
		b.Fatal(err)
	}
}

// leg is what one leg of a comparison did: requests the simulator
// answered, its wall time and the CPU time the process spent meanwhile.
type leg struct {
	requests  int
	wall, cpu time.Duration
}

func (l leg) rate() float64 { return float64(l.requests) / l.wall.Seconds() }

// cpuPerRequest is in microseconds: on a CPU-bound machine it is the
// figure to compare, as wall time depends on what else runs.
func (l leg) cpuPerRequest() float64 {
	return float64(l.cpu.Microseconds()) / float64(l.requests)
}

// measure runs f as a leg, reporting its cores under name. With
// ACCORD_BENCH_PROFILE=prefix, the accord leg also writes
// prefix.accord.cpu and prefix.accord.alloc (pprof), so a profile shows
// that leg alone.
func measure(b *testing.B, name string, f func() int) leg {
	b.Helper()
	stop := profileLeg(b, name)
	start, cpu0 := time.Now(), cpuTime()
	reqs := f()
	l := leg{requests: reqs, wall: time.Since(start), cpu: cpuTime() - cpu0}
	stop()
	b.ReportMetric(l.cpu.Seconds()/l.wall.Seconds(), name+"-cores")
	return l
}

func profileLeg(b *testing.B, name string) func() {
	prefix := os.Getenv("ACCORD_BENCH_PROFILE")
	if prefix == "" || name != "accord" {
		return func() {}
	}
	cpu, err := os.Create(prefix + "." + name + ".cpu")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatal(err)
	}
	runtime.MemProfileRate = 64 << 10
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		alloc, err := os.Create(prefix + "." + name + ".alloc")
		if err != nil {
			b.Fatal(err)
		}
		defer alloc.Close()
		if err := pprof.Lookup("allocs").WriteTo(alloc, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func runAccord(b *testing.B, persons, concurrency int, latency time.Duration) leg {
	b.Helper()
	// PATCH answers 204 (RFC 7644 allows it) so that rendering groups of
	// thousands of members does not dominate both sides of the comparison.
	w := newSimWorldWith(b, persons, concurrency, targetsim.Options{DisableLog: true, PatchNoContent: true}, func(cfg string) string {
		if os.Getenv("ACCORD_BENCH_POSTGRES_DSN") == "" {
			return cfg
		}
		return strings.Replace(cfg, "store:\n  path: accord.db\n", "store:\n  driver: postgres\n  dsn: ${env:ACCORD_BENCH_POSTGRES_DSN}\n", 1)
	})
	addLatency(b, w.sim, latency)
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "bench")
	if err != nil || run == nil || run.State != model.RunPending {
		b.Fatalf("enforce: %v %+v", err, run)
	}
	l := measure(b, "accord", func() int {
		before := w.sim.Stats().Requests
		w.runUntilDone(nil)
		return int(w.sim.Stats().Requests - before)
	})
	r, _ := w.app.Store.GetRun(context.Background(), run.ID)
	if r.State != model.RunSucceeded {
		b.Fatalf("run %s: %v", r.State, r.Counts)
	}
	return l
}

// runRaw sends the same mix — per person a create, a read, a membership
// patch and a read — from plain goroutines, recording nothing.
func runRaw(b *testing.B, requests, concurrency int, latency time.Duration) leg {
	b.Helper()
	sim := targetsim.New(targetsim.Options{Token: "raw", DisableLog: true, PatchNoContent: true})
	addLatency(b, sim, latency)
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	g, err := sim.SCIM().CreateGroup("all")
	if err != nil {
		b.Fatal(err)
	}
	do := rawSender(b, concurrency, "raw")
	var next atomic.Int64
	var sent atomic.Int64
	return measure(b, "raw", func() int {
		var wg sync.WaitGroup
		for w := 0; w < concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sent.Load() < int64(requests) {
					i := next.Add(1)
					loc := do("POST", base+"/scim/v2/Users", fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"raw%d@example.com","displayName":"Raw %d","active":true}`, i, i))
					do("GET", loc, nil)
					id := loc[len(loc)-36:]
					do("PATCH", base+"/scim/v2/Groups/"+g.ID, fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, id))
					do("GET", loc, nil)
					sent.Add(4)
				}
			}()
		}
		wg.Wait()
		return int(sent.Load())
	})
}

// rawSender returns a function that sends a request with the bearer
// token, reads the answer whole, records nothing, and returns the
// Location header: the bare load generator's one step.
func rawSender(b *testing.B, concurrency int, token string) func(method, url string, body []byte) string {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}}
	return func(method, url string, body []byte) string {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return ""
		}
		defer resp.Body.Close()
		var buf bytes.Buffer // as the figures in BENCHMARKS.md were taken
		_, _ = buf.ReadFrom(resp.Body)
		return resp.Header.Get("Location")
	}
}

// cpuTime is the CPU time this process has used so far, user and system:
// over a run's wall time it tells how many cores the run kept busy.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runConnectorOnly sends accord's own requests — the same actions, through
// the same connector, HTTP client and audit capture — with no engine and
// no store: its rate over the raw generator's is what the connector's
// side of a request costs, and accord's rate over it is what the engine
// and the durable records cost.
func runConnectorOnly(b *testing.B, persons, concurrency int, latency time.Duration) leg {
	b.Helper()
	ctx := context.Background()
	w := newSimWorld(b, persons, concurrency, targetsim.Options{DisableLog: true, PatchNoContent: true})
	addLatency(b, w.sim, latency)
	run, _, err := w.app.Enforce(ctx, app.Filter{}, "bench")
	if err != nil || run == nil {
		b.Fatalf("enforce: %v", err)
	}
	acts, err := w.app.Store.ListActions(ctx, store.ActionQuery{RunID: run.ID})
	if err != nil {
		b.Fatal(err)
	}
	byPerson := map[string][]model.Action{}
	var keys []string
	for _, a := range acts {
		if byPerson[a.PersonKey] == nil {
			keys = append(keys, a.PersonKey)
		}
		byPerson[a.PersonKey] = append(byPerson[a.PersonKey], a)
	}
	conn := w.app.Conns["saas"]
	discard := audit.SinkFunc(func(context.Context, ...audit.Record) {})
	var next atomic.Int64
	before := w.sim.Stats().Requests
	return measure(b, "conn", func() int {
		var wg sync.WaitGroup
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < int64(len(keys)); i = next.Add(1) - 1 {
					var ref connector.AccountRef
					for _, a := range byPerson[keys[i]] {
						cctx := audit.WithCall(ctx, audit.Call{RunID: a.RunID, ActionID: a.ID, Attempt: 1, PersonKey: a.PersonKey, Target: a.Target, Operation: string(a.Op), Sink: discard})
						switch a.Op {
						case model.OpCreate:
							acct, err := conn.Create(cctx, connector.CreateRequest{PersonKey: a.PersonKey, Attributes: a.Attributes, Entitlements: a.Entitlements})
							if err != nil {
								b.Error(err)
								return
							}
							ref = connector.AccountRef{PersonKey: a.PersonKey, NativeID: acct.NativeID, Link: acct.Link}
						case model.OpGrant:
							if err := conn.Grant(cctx, ref, a.Entitlements); err != nil {
								b.Error(err)
								return
							}
						}
						if _, err := conn.Get(cctx, ref); err != nil {
							b.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		return int(w.sim.Stats().Requests - before)
	})
}
