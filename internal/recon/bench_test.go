package recon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// TestMain lets the test binary serve a simulator in a process of its
// own (ACCORD_RECON_SIM_SEED=<state file>), so that the benchmark's peak
// memory is accord's alone, not the simulator's copy of the target.
func TestMain(m *testing.M) {
	if seed := os.Getenv("ACCORD_RECON_SIM_SEED"); seed != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		err := targetsim.Serve(ctx, "127.0.0.1:0", targetsim.Options{Token: "bench", DisableLog: true, SeedFile: seed, MaxResults: 1000}, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkReconcile reconciles a target of ACCORD_BENCH_ACCOUNTS
// accounts (default 100000), each with its person in HR and its known
// account in the store, 1% of them changed by hand, against the
// simulator in another process:
//
//	go test -run '^$' -bench BenchmarkReconcile -benchtime 1x ./internal/recon/
//
// ACCORD_BENCH_PAGE sets the page size (default 1000). It reports the
// time, the peak RSS of the reconciliation (VmHWM, reset
// after setup) and the requests sent.
func BenchmarkReconcile(b *testing.B) {
	n := 100000
	if v := os.Getenv("ACCORD_BENCH_ACCOUNTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	base := startSimProcess(b, dir, n)
	a := benchApp(b, dir, base, n)
	env := &recon.Env{Store: a.Store, Config: a.Cfg, Policy: a.Policy, Conns: a.Conns, Now: a.Now, Log: testkit.QuietLogger(), Notifier: a.Notifier,
		Planner: func(ctx context.Context, target string) (*plan.Planner, error) {
			p, _, err := a.Planner(ctx, app.Filter{Target: target})
			return p, err
		}}
	b.ResetTimer()
	for i := range b.N {
		before := simRequests(b, base)
		resetPeakRSS(b)
		start := time.Now()
		res, err := recon.Reconcile(context.Background(), env, "saas", recon.Options{})
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		if res.Recon.Accounts != n {
			b.Fatalf("read %d accounts, want %d", res.Recon.Accounts, n)
		}
		if got := res.Counts["attribute"]; i == 0 && got != (n+99)/100 {
			b.Fatalf("found %d attribute drifts, want %d", got, n/100)
		}
		b.ReportMetric(float64(peakRSS(b))/1024, "peak-RSS-MiB")
		b.ReportMetric(float64(simRequests(b, base)-before), "requests")
		b.ReportMetric(elapsed.Seconds(), "seconds")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "accounts/s")
	}
}

// startSimProcess writes a seed of n users in three groups and serves it
// from a child process; it returns the SCIM base URL.
func startSimProcess(b *testing.B, dir string, n int) string {
	b.Helper()
	seed := filepath.Join(dir, "seed.json")
	f, err := os.Create(seed)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprint(w, `{"users":[`)
	for i := range n {
		if i > 0 {
			fmt.Fprint(w, ",")
		}
		title := "Rep"
		if i%100 == 0 {
			title = "Changed by hand"
		}
		fmt.Fprintf(w, `{"id":"u%07d","userName":"p%07d@example.com","active":true,"title":%q,"name":{"givenName":"First%d","familyName":"Last%d"}}`,
			i, i, title, i, i)
	}
	fmt.Fprint(w, `],"groups":[`)
	for g, name := range []string{"all-staff", "crm", "github"} {
		if g > 0 {
			fmt.Fprint(w, ",")
		}
		fmt.Fprintf(w, `{"displayName":%q,"members":[`, name)
		first := true
		for i := range n {
			if g == 0 || (g == 1) == (i%2 == 0) {
				if !first {
					fmt.Fprint(w, ",")
				}
				first = false
				fmt.Fprintf(w, `{"value":"u%07d"}`, i)
			}
		}
		fmt.Fprint(w, "]}")
	}
	fmt.Fprint(w, "]}")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	_ = f.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ACCORD_RECON_SIM_SEED="+seed)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("simulator did not start: %v", err)
	}
	return strings.TrimSpace(line)
}

// benchApp opens accord on a config for the simulator with n persons
// imported and their accounts known, as after an enforcement.
func benchApp(b *testing.B, dir, base string, n int) *app.App {
	b.Helper()
	tok := filepath.Join(dir, "token")
	hrFeed := testkit.HR{Columns: []string{"employee_id", "first_name", "last_name", "email", "department"}, Departments: []string{"Sales", "Engineering"}}
	cfg := fmt.Sprintf("\nstore: {path: accord.db}\n"+hrFeed.Source()+`targets:
  - name: saas
    type: scim
    connection:
      url: %s/scim/v2
      auth: {type: bearer, token: "${file:%s}"}
      entitlements_by: displayName
      discovery: false
      page_size: %d
    account:
      userName: "{{ email }}"
      name.givenName: "{{ first_name }}"
      name.familyName: "{{ last_name }}"
      title: "Rep"
    birthright: [all-staff]
    reconcile:
      correlate:
        - {account: userName, person: email, ignore_case: true}
      drift: {attribute: converge}
`+testkit.DepartmentRoles("saas", []string{"crm"}, []string{"github"}), base, tok, pageSize())
	must(b, os.WriteFile(tok, []byte("bench"), 0o600))
	must(b, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(cfg), 0o600))
	var hr strings.Builder
	hr.WriteString(hrFeed.Header())
	for i := range n {
		fmt.Fprintf(&hr, "E%07d,First%d,Last%d,p%07d@example.com,%s\n", i, i, i, i, dept(i))
	}
	must(b, os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(hr.String()), 0o600))
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Logger: testkit.QuietLogger()})
	must(b, err)
	b.Cleanup(func() { a.Close(context.Background()) })
	_, err = a.Import(context.Background(), "")
	must(b, err)
	var batch []model.AccountChange
	for i := range n {
		role := "github"
		if dept(i) == "Sales" {
			role = "crm"
		}
		batch = append(batch, model.AccountChange{Target: "saas", PersonKey: fmt.Sprintf("E%07d", i), NativeID: fmt.Sprintf("u%07d", i),
			Upsert: true, State: model.AccountEnabled, Grant: []string{"all-staff", role},
			Attributes: model.Attributes{"userName": fmt.Sprintf("p%07d@example.com", i), "name.givenName": fmt.Sprintf("First%d", i),
				"name.familyName": fmt.Sprintf("Last%d", i), "title": "Rep"}})
		if len(batch) == 5000 || i == n-1 {
			must(b, a.Store.ApplyAccountChanges(context.Background(), batch))
			batch = batch[:0]
		}
	}
	return a
}

// pageSize is ACCORD_BENCH_PAGE, default 1000 (the simulator's cap here).
func pageSize() int {
	if n, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_PAGE")); err == nil && n > 0 {
		return n
	}
	return 1000
}

func dept(i int) string {
	if i%2 == 0 {
		return "Sales"
	}
	return "Engineering"
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux: 5 to
// clear_refs), after returning setup's garbage to the OS.
func resetPeakRSS(b *testing.B) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): the figure includes setup", err)
	}
}

// peakRSS is VmHWM in KiB.
func peakRSS(b *testing.B) int {
	data, err := os.ReadFile("/proc/self/status")
	must(b, err)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			must(b, err)
			return n
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

func simRequests(b *testing.B, base string) uint64 {
	resp, err := http.Get(base + "/_sim/stats")
	must(b, err)
	defer resp.Body.Close()
	var st struct {
		Requests uint64 `json:"requests"`
	}
	must(b, json.NewDecoder(resp.Body).Decode(&st))
	return st.Requests
}
