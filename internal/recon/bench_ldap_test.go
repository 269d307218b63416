package recon_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/testkit"
)

// peakHeap samples the heap in use until stop is called, and returns the
// largest value seen.
func peakHeap() (stop func() uint64) {
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkReconcileLDAP: a directory of N accounts (default 10,000;
// ACCORD_LDAP_BENCH_N) loaded with ldapadd, N persons in the store; a
// full paged reconciliation (page_size 500), then 100 accounts changed
// behind accord's back and a delta reconciliation. Reported: seconds and
// peak Go heap of the full one, seconds and entries read of the delta.
//
//	go test -run '^$' -bench BenchmarkReconcileLDAP -benchtime 1x ./internal/recon/
func BenchmarkReconcileLDAP(b *testing.B) {
	if _, err := exec.LookPath("ldapadd"); err != nil {
		b.Skip("ldapadd not installed")
	}
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("ACCORD_LDAP_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		b.StopTimer()
		sl := testkit.StartSlapd(b, testkit.SlapdOptions{})
		dir := b.TempDir()
		var ldif strings.Builder
		hr := testkit.HR{}
		var rows strings.Builder
		rows.WriteString(hr.Header())
		for i := range n {
			fmt.Fprintf(&ldif, "dn: uid=user%05d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: user%05d\ncn: User %d\nsn: Last\nemployeeNumber: E%05d\n\n",
				i, sl.Suffix, i, i, i)
			fmt.Fprintf(&rows, "E%05d,User%05d,Last,u%d@example.com,Sales,2026-01-01,\n", i, i, i)
		}
		file := filepath.Join(dir, "load.ldif")
		require.NoError(b, os.WriteFile(file, []byte(ldif.String()), 0o600))
		out, err := exec.Command("ldapadd", "-x", "-H", sl.URL, "-D", sl.AdminDN, "-w", sl.AdminPassword, "-f", file).CombinedOutput()
		require.NoError(b, err, "%s", out)
		pw := filepath.Join(dir, "pw")
		require.NoError(b, os.WriteFile(pw, []byte(sl.AdminPassword), 0o600))
		cfg := strings.Replace(fmt.Sprintf(deltaConfig, hr.Source(), sl.URL, sl.AdminDN, pw), "page_size: 4", "page_size: 500", 1)
		cfg = strings.Replace(cfg, "full_every: 3", "full_every: 100", 1)
		require.NoError(b, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(cfg), 0o600))
		require.NoError(b, os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(rows.String()), 0o600))
		clock := testkit.NewClock("2026-03-02")
		a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Now: clock.Now, Logger: testkit.QuietLogger()})
		require.NoError(b, err)
		_, err = a.Import(context.Background(), "")
		require.NoError(b, err)
		env := &recon.Env{Store: a.Store, Config: a.Cfg, Policy: a.Policy, Conns: a.Conns, Now: a.Now, Log: a.Log, Owner: "bench",
			Planner: func(ctx context.Context, target string) (*plan.Planner, error) {
				p, _, err := a.Planner(ctx, app.Filter{Target: target})
				return p, err
			}}
		runtime.GC()
		b.StartTimer()

		stop := peakHeap()
		start := time.Now()
		full, err := recon.Reconcile(context.Background(), env, "dir", recon.Options{})
		fullSecs := time.Since(start).Seconds()
		peak := stop()
		require.NoError(b, err)
		require.Equal(b, n, full.Recon.Accounts)

		b.StopTimer()
		admin, err := goldap.DialURL(sl.URL)
		require.NoError(b, err)
		require.NoError(b, admin.Bind(sl.AdminDN, sl.AdminPassword))
		for i := 0; i < 100; i++ {
			m := goldap.NewModifyRequest(fmt.Sprintf("uid=user%05d,ou=people,%s", i*(n/100), sl.Suffix), nil)
			m.Replace("sn", []string{"Changed"})
			require.NoError(b, admin.Modify(m))
		}
		_ = admin.Close()
		clock.Set("2026-03-03")
		b.StartTimer()

		start = time.Now()
		delta, err := recon.Reconcile(context.Background(), env, "dir", recon.Options{})
		deltaSecs := time.Since(start).Seconds()
		require.NoError(b, err)
		require.True(b, delta.Recon.Delta)

		b.ReportMetric(fullSecs, "full-s")
		b.ReportMetric(float64(peak)/(1<<20), "full-peak-heap-MiB")
		b.ReportMetric(float64(full.Recon.Accounts), "full-entries-read")
		b.ReportMetric(deltaSecs, "delta-s")
		b.ReportMetric(float64(delta.Recon.Accounts), "delta-entries-read")
		b.StopTimer()
		a.Close(context.Background())
		b.StartTimer()
	}
}
