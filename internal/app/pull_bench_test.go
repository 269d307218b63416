package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// BenchmarkPullImport100k imports 100,000 employees from the
// simulator's HR API (pages of 500) through accord's import, pull and
// store included, into an empty SQLite store. peak-heap-MB is the most
// the live heap grew during the import (the simulator's data excluded:
// it is in place before).
//
//	go test -run '^$' -bench PullImport100k -benchtime 1x ./internal/app/
func BenchmarkPullImport100k(b *testing.B) {
	const n = 100_000
	sim := targetsim.New(targetsim.Options{DisableLog: true})
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	b.Setenv("HR_PULL_PASSWORD", "pull-secret-42")
	sim.HR().SetOptions(targetsim.HROptions{Username: "accord", Password: "pull-secret-42"})
	for i := 0; i < n; i++ {
		sim.HR().Put(hrEmployee(i, fmt.Sprintf("Person %d", i)))
	}
	var peak uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		cfg := strings.Replace(fmt.Sprintf(pullConfig, base, "bench-pull"), "size: 5,", "size: 500,", 1)
		if err := os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(cfg), 0o600); err != nil {
			b.Fatal(err)
		}
		a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Logger: testkit.QuietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		heap := testkit.SampleHeap()
		sums, err := a.Import(context.Background(), "hr")
		peak = max(peak, heap.End())
		b.StopTimer()
		a.Close(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(sums) != 1 || sums[0].Added != n || sums[0].Pages != n/500 {
			b.Fatalf("import: %+v, want %d added in %d pages", sums, n, n/500)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
