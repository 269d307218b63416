package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// The initial load's population (issue 16): 20 departments, each with a
// role of 8 groups, and 2 birthright groups, so every person gets an
// account and 10 memberships.
const (
	loadDepartments = 20
	loadRoleGroups  = 8
)

var loadBirthright = []string{"all-staff", "intranet"}

func loadDept(i int) string { return fmt.Sprintf("D%02d", i%loadDepartments) }

// loadGroups are the groups person i belongs to.
func loadGroups(i int) []string {
	out := append([]string(nil), loadBirthright...)
	for g := range loadRoleGroups {
		out = append(out, fmt.Sprintf("%s-g%d", strings.ToLower(loadDept(i)), g))
	}
	return out
}

// BenchmarkInitialLoadSim executes the initial load of N persons × 1 SCIM
// target against the simulator with no added latency (N from
// ACCORD_BENCH_PERSONS, 10,000 unless set; 100,000 for the record), then
// in the same run a bare load generator sends the same requests with the
// same concurrency to a fresh simulator:
//
//	ACCORD_BENCH_PERSONS=100000 go test -run '^$' -bench InitialLoadSim -benchtime 1x -timeout 2h ./internal/app/
//
// It reports the time to import the feed and to plan and store the run,
// then for execution actions/s, CPU per action and per request, and the
// throughput ratio against the generator.
func BenchmarkInitialLoadSim(b *testing.B) {
	persons := 10000
	if v := os.Getenv("ACCORD_BENCH_PERSONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("ACCORD_BENCH_PERSONS=%q: want a positive number of persons", v)
		}
		persons = n
	}
	const concurrency = 8
	for i := 0; i < b.N; i++ {
		accord, actions := runInitialLoad(b, persons, concurrency)
		raw := runRawLoad(b, persons, accord.requests, concurrency)
		b.ReportMetric(float64(actions)/accord.wall.Seconds(), "actions/s")
		b.ReportMetric(float64(accord.cpu.Microseconds())/float64(actions), "cpu-µs/action")
		b.ReportMetric(float64(persons)/accord.wall.Seconds(), "persons/s")
		b.ReportMetric(accord.rate(), "accord-req/s")
		b.ReportMetric(raw.rate(), "raw-req/s")
		b.ReportMetric(accord.rate()/raw.rate(), "ratio")
		b.ReportMetric(accord.cpuPerRequest(), "accord-cpu-µs/req")
		b.ReportMetric(raw.cpuPerRequest(), "raw-cpu-µs/req")
	}
}

// runInitialLoad imports persons, stores the run and executes it, and
// returns the execution leg and the number of actions it ran.
func runInitialLoad(b *testing.B, persons, concurrency int) (leg, int) {
	b.Helper()
	ctx := context.Background()
	b.Setenv("CHAOS_SIM_TOKEN", "chaos-token-1234")
	sim := targetsim.New(targetsim.Options{Token: "chaos-token-1234", DisableLog: true, PatchNoContent: true})
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	groups := map[string]bool{}
	for i := range loadDepartments {
		for _, g := range loadGroups(i) {
			if !groups[g] {
				groups[g] = true
				if _, err := sim.SCIM().CreateGroup(g); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(initialLoadConfig(base, concurrency, persons)), 0o600); err != nil {
		b.Fatal(err)
	}
	var feed bytes.Buffer
	feed.WriteString(loadHR().Header())
	for i := range persons {
		fmt.Fprintf(&feed, "E%07d,First,Last%d,p%d@example.com,%s,Engineer,2026-01-01,\n", i, i, i, loadDept(i))
	}
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), feed.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	a, err := app.Open(ctx, filepath.Join(dir, "accord.yaml"), app.Options{Logger: testkit.QuietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(ctx)

	start := time.Now()
	if _, err := a.Import(ctx, ""); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "import-s")
	start = time.Now()
	run, _, err := a.Enforce(ctx, app.Filter{}, "bench")
	if err != nil || run == nil || run.State != model.RunPending {
		b.Fatalf("enforce: %v %+v", err, run)
	}
	b.ReportMetric(time.Since(start).Seconds(), "plan-and-store-s")
	stored, err := a.Store.GetRun(ctx, run.ID)
	if err != nil {
		b.Fatal(err)
	}
	actions := 0
	for _, n := range stored.Counts {
		actions += n
	}
	// A person's grants share one action (a create, then one grant of
	// 10 groups): CPU per action is per half a person.
	b.Logf("run %s: %d actions for %d persons", run.ID, actions, persons)
	l := measure(b, "accord", func() int {
		before := sim.Stats().Requests
		testkit.Drain(b, a, nil, 4*time.Hour)
		return int(sim.Stats().Requests - before)
	})
	b.ReportMetric(l.wall.Seconds(), "execute-s")
	r, err := a.Store.GetRun(ctx, run.ID)
	if err != nil || r.State != model.RunSucceeded || r.Counts[model.ActionSucceeded] != actions {
		b.Fatalf("run %s: %v %v", r.State, r.Counts, err)
	}
	if got := len(sim.SCIM().Users()); got != persons {
		b.Fatalf("%d accounts on the simulator for %d persons", got, persons)
	}
	for _, g := range sim.SCIM().Groups() {
		if g.Str("displayName") == loadBirthright[0] {
			if n := len(sim.SCIM().Members(g.ID)); n != persons {
				b.Fatalf("%s has %d members, want %d", loadBirthright[0], n, persons)
			}
		}
	}
	return l, actions
}

func loadHR() testkit.HR {
	deps := make([]string, loadDepartments)
	for i := range deps {
		deps[i] = loadDept(i)
	}
	return testkit.HR{Columns: testkit.StandardColumns("title"), Departments: deps}
}

func initialLoadConfig(base string, concurrency, persons int) string {
	var roles strings.Builder
	roles.WriteString("policy:\n  roles:\n")
	for i := range loadDepartments {
		groups := loadGroups(i)[len(loadBirthright):]
		fmt.Fprintf(&roles, "    - name: %s\n      when: department == %q\n      grants: [{target: saas, entitlements: [%s]}]\n",
			strings.ToLower(loadDept(i)), loadDept(i), strings.Join(groups, ", "))
	}
	targets := strings.Replace(fmt.Sprintf(simTargets, base, concurrency),
		"birthright: [all-staff]", "birthright: ["+strings.Join(loadBirthright, ", ")+"]", 1)
	return "\nstore:\n  path: accord.db\n" + loadHR().Source() + targets + roles.String() +
		fmt.Sprintf("  thresholds: {creates: \"%d\"}\nengine:\n  poll: 20ms\n  lease: 30s\n", persons+1)
}

// runRawLoad sends what the initial load sends, from plain goroutines
// that record nothing: per person a create and its read, a membership
// patch per group and a read, until as many requests as accord's.
func runRawLoad(b *testing.B, persons, requests, concurrency int) leg {
	b.Helper()
	sim := targetsim.New(targetsim.Options{Token: "raw", DisableLog: true, PatchNoContent: true})
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	ids := map[string]string{}
	for i := range loadDepartments {
		for _, g := range loadGroups(i) {
			if ids[g] == "" {
				grp, err := sim.SCIM().CreateGroup(g)
				if err != nil {
					b.Fatal(err)
				}
				ids[g] = grp.ID
			}
		}
	}
	do := rawSender(b, concurrency, "raw")
	var next, sent atomic.Int64
	return measure(b, "raw", func() int {
		var wg sync.WaitGroup
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sent.Load() < int64(requests) {
					i := int(next.Add(1) - 1)
					loc := do("POST", base+"/scim/v2/Users", fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"raw%d@example.com","displayName":"Raw %d","title":"Engineer","active":true}`, i, i))
					do("GET", loc, nil)
					id := loc[len(loc)-36:]
					groups := loadGroups(i % persons)
					for _, g := range groups {
						do("PATCH", base+"/scim/v2/Groups/"+ids[g], fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, id))
					}
					do("GET", loc, nil)
					sent.Add(int64(3 + len(groups)))
				}
			}()
		}
		wg.Wait()
		return int(sent.Load())
	})
}
