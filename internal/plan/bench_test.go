package plan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	_ "github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/policy"
	"github.com/accord-iam/accord/internal/population"
)

// benchConfig builds the policy of the initial-load population
// (internal/population) with nTargets targets where every person is
// entitled to exactly entsPerTarget entitlements per target: two
// birthrights and the rest from one department role.
func benchConfig(tb testing.TB, nTargets, entsPerTarget, nDepts int) *policy.Policy {
	tb.Helper()
	cfgText := population.Spec{Targets: nTargets, Depts: nDepts, PerRole: entsPerTarget - 2}.Config()
	dir := tb.TempDir()
	path := filepath.Join(dir, "accord.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	pol, probs := policy.Compile(cfg)
	if len(probs) > 0 {
		tb.Fatal(probs)
	}
	return pol
}

// benchWorld is persons with their known accounts: most are in accord,
// one in ten moved department since, one in fifty left, one in twenty is
// new (no accounts).
func benchWorld(pol *policy.Policy, nPersons, nDepts int, today model.Date) ([]model.Person, [][]model.Account) {
	persons := make([]model.Person, nPersons)
	known := make([][]model.Account, nPersons)
	spec := population.Spec{Depts: nDepts}
	for i := range persons {
		p := spec.Person(i)
		if i%20 == 7 {
			persons[i] = p
			continue // a joiner: nothing known yet
		}
		ev, err := pol.Evaluate(&p, today)
		if err != nil {
			panic(err)
		}
		for _, d := range ev.Accounts {
			a := model.Account{Target: d.Target, PersonKey: p.Key, NativeID: "n-" + p.Key, State: model.AccountEnabled, Attributes: d.Attributes}
			for _, g := range d.Grants {
				a.Entitlements = append(a.Entitlements, g.Entitlement)
			}
			known[i] = append(known[i], a)
		}
		switch {
		case i%10 == 3: // a mover
			p.Attributes["dept"] = fmt.Sprintf("d%d", (i+1)%nDepts)
		case i%50 == 11: // a leaver
			p.End = today.AddDays(-1)
		}
		persons[i] = p
	}
	return persons, known
}

func capsFor(pol *policy.Policy) map[string]connector.Capabilities {
	caps := map[string]connector.Capabilities{}
	for _, t := range pol.Targets {
		caps[t.Name] = connector.Capabilities{Read: true, Delete: true, MaxBatch: 1}
	}
	return caps
}

// peakRSS reads the process's high-water mark of resident memory, in MB.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkPlan100k plans 100,000 persons on 5 targets with 10
// entitlements each (500,000 desired accounts, 5,000,000 desired
// entitlements) against known state with movers, leavers and joiners.
func BenchmarkPlan100k(b *testing.B) {
	const nPersons, nTargets, nEnts, nDepts = 100_000, 5, 10, 20
	today := model.MustDate("2026-06-01")
	pol := benchConfig(b, nTargets, nEnts, nDepts)
	persons, known := benchWorld(pol, nPersons, nDepts, today)
	runtime.GC()
	inputRSS := peakRSS()
	b.ReportAllocs()
	b.ResetTimer()
	var actions, jobs int
	for i := 0; i < b.N; i++ {
		pl := &plan.Planner{Policy: pol, Caps: capsFor(pol), Today: today}
		res := &plan.Result{}
		for j := range persons {
			pl.PlanPerson(&persons[j], known[j], res, false)
		}
		actions, jobs = res.Actions(), len(res.Jobs)
	}
	b.StopTimer()
	b.ReportMetric(float64(actions), "actions")
	b.ReportMetric(float64(jobs), "jobs")
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
	// What the generated persons and known accounts alone took, before
	// planning: the planner's own share is the difference.
	b.ReportMetric(inputRSS, "input-RSS-MB")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nPersons, "ns/person")
}

func TestBenchWorldPlansWhatItShould(t *testing.T) {
	today := model.MustDate("2026-06-01")
	pol := benchConfig(t, 2, 10, 4)
	persons, known := benchWorld(pol, 200, 4, today)
	pl := &plan.Planner{Policy: pol, Caps: capsFor(pol), Today: today}
	res := &plan.Result{}
	for j := range persons {
		pl.PlanPerson(&persons[j], known[j], res, false)
	}
	tally := plan.Count(res.Jobs)
	// 200 persons: 10 joiners (i%20==7), 20 movers (i%10==3), 4 leavers
	// (i%50==11), per target.
	for _, tg := range []string{"t0", "t1"} {
		require.Equal(t, 10, tally[tg][model.OpCreate], "creates on %s", tg)
		require.Equal(t, 4, tally[tg][model.OpDisable], "disables on %s", tg)
		require.Equal(t, 20, tally[tg][model.OpUpdate], "updates on %s", tg)
		// joiners get 10 grants each, movers 8 new ones
		require.Equal(t, 10*10+20*8, tally[tg][model.OpGrant], "grants on %s", tg)
		// movers lose 8, leavers lose all 10
		require.Equal(t, 20+4, tally[tg][model.OpRevoke], "accounts with revokes on %s", tg)
	}
}

// BenchmarkPlanAccountCase: one account's diff of 20 wanted against 20
// known entitlements that agree, so nothing is planned: exact (known in the
// policy's spelling) against folded, with known in the policy's spelling
// (as accord stores it) and in the target's capitals, to show what
// folding costs per account.
func BenchmarkPlanAccountCase(b *testing.B) {
	var want, same, upper []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("group %02d", i))
		upper = append(upper, fmt.Sprintf("GROUP %02d", i))
	}
	same = want
	d := &model.DesiredAccount{Desire: model.DesireEnabled, Grants: grants(want...)}
	for _, c := range []struct {
		name string
		fold bool
		have []string
	}{{"exact", false, same}, {"fold_same_spelling", true, same}, {"fold_other_case", true, upper}} {
		k := &model.Account{NativeID: "n1", State: model.AccountEnabled, Entitlements: c.have}
		in := plan.AccountInput{Caps: connector.Capabilities{EntitlementsFoldCase: c.fold}}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if len(plan.PlanAccount(d, k, in)) != 0 {
					b.Fatal("planned work for agreeing states")
				}
			}
		})
	}
}
