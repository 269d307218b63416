package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// BenchmarkCluster measures, in one run, what more `accord serve` nodes
// on one PostgreSQL bring against a target that answers in 25 ms and has
// no rate limit: the request rate of 1, 2 and 3 nodes working off the
// same run (and the scaling ratios), and the failover time, from a node's
// SIGKILL to the first and the last of its unfinished actions being sent
// by the surviving node.
//
//	go test -run '^$' -bench Cluster -benchtime 1x ./cmd/accord/
//
// Each leg plans the run once with `accord enforce` and then starts the
// nodes, so they share one run's work; the time counts from the start of
// the processes to the run's end. concurrency is the cluster's (one set
// of request slots in PostgreSQL), so it is set high enough (24 in
// flight: 960 req/s at 25 ms) that the nodes, not the target's limit,
// set the pace; engine.lease is 3s.
func BenchmarkCluster(b *testing.B) {
	const persons = 300
	for i := 0; i < b.N; i++ {
		var rate [4]float64
		for n := 1; n <= 3; n++ {
			rate[n] = clusterRate(b, n, persons)
			b.ReportMetric(rate[n], "req/s-"+strconv.Itoa(n)+"-nodes")
		}
		b.ReportMetric(rate[2]/rate[1], "scaling-2/1")
		b.ReportMetric(rate[3]/rate[1], "scaling-3/1")
		first, last := failover(b, persons)
		b.ReportMetric(first.Seconds(), "failover-first-s")
		b.ReportMetric(last.Seconds(), "failover-last-s")
	}
}

// clusterBenchConcurrency is the cluster's concurrency in the benchmark.
const clusterBenchConcurrency = 24

// clusterWorld is a world whose store is a fresh PostgreSQL schema and
// whose target answers in 25 ms, with the run already planned.
func clusterWorld(b *testing.B, persons int) *e2eWorld {
	b.Helper()
	b.Setenv("ACCORD_DSN", testkit.PostgresSchema(b))
	w := newE2EWith(b, persons, clusterBenchConcurrency, targetsim.Options{AllowDuplicates: true}, func(cfg string) string {
		return withAPI(strings.Replace(cfg, "store:\n  path: accord.db\n", "store:\n  driver: postgres\n  dsn: ${env:ACCORD_DSN}\n", 1))
	})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(25 * time.Millisecond)})
	require.NoError(b, err)
	code, out := accord(b, w.dir, "import", "-c", "accord.yaml")
	require.Equal(b, 0, code, out)
	code, out = accord(b, w.dir, "enforce", "-c", "accord.yaml")
	require.Equal(b, 0, code, out)
	return w
}

func clusterRate(b *testing.B, n, persons int) float64 {
	b.Helper()
	w := clusterWorld(b, persons)
	before := len(w.sim.Requests())
	start := time.Now()
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(b, w.dir, "node"+strconv.Itoa(i), false)
	}
	waitConverged(b, w, persons, 5*time.Minute, nodes...)
	elapsed := time.Since(start)
	for _, n := range nodes {
		n.kill(b)
	}
	w.checkExact(b, persons)
	return float64(len(w.sim.Requests())-before) / elapsed.Seconds()
}

// failover runs two nodes, the second with a correlation header of its
// own so the target tells them apart, kills the first in the middle of
// the run, and returns how long after the kill the survivor sent the
// first and the last of the actions the killed node had started.
func failover(b *testing.B, persons int) (first, last time.Duration) {
	b.Helper()
	w := clusterWorld(b, persons)
	cfg, err := os.ReadFile(filepath.Join(w.dir, "accord.yaml"))
	require.NoError(b, err)
	own := strings.Replace(string(cfg), "      discovery: false\n", "      discovery: false\n      correlation_header: X-Survivor-ID\n", 1)
	require.NoError(b, os.WriteFile(filepath.Join(w.dir, "survivor.yaml"), []byte(own), 0o600))

	victim := startNode(b, w.dir, "victim", false)
	survivor := startNodeWith(b, w.dir, "survivor", "survivor.yaml", false)
	waitForRequests(b, w.sim, len(w.sim.Requests())+persons, victim, survivor)
	victim.kill(b)
	killed := time.Now()
	waitConverged(b, w, persons, 5*time.Minute, survivor)
	survivor.kill(b)
	w.checkExact(b, persons)

	started := map[string]bool{}
	taken := map[string]time.Time{}
	for _, r := range w.sim.Requests() {
		if id := r.Header.Get("X-Correlation-ID"); id != "" && r.Time.Before(killed) {
			started[id] = true
		}
		if id := r.Header.Get("X-Survivor-ID"); id != "" && r.Time.After(killed) && started[id] {
			if _, seen := taken[id]; !seen {
				taken[id] = r.Time
			}
		}
	}
	require.NotEmpty(b, taken, "the survivor took over none of the killed node's actions")
	var waits []time.Duration
	for _, at := range taken {
		waits = append(waits, at.Sub(killed))
	}
	slices.Sort(waits)
	b.Logf("failover: %d actions of the killed node taken over, after %s to %s", len(waits), waits[0].Round(time.Millisecond), waits[len(waits)-1].Round(time.Millisecond))
	return waits[0], waits[len(waits)-1]
}
