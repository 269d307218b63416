package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
)

// BenchmarkThroughput measures accord against the simulator with no added
// latency and, in the same run, a plain Go HTTP load generator sending the
// same kinds of requests with the same concurrency: the ratio of their
// request rates is what accord's bookkeeping (durable outcomes, audit,
// leases, read-backs) costs.
//
//	go test -run '^$' -bench Throughput -benchtime 1x ./internal/app/
func BenchmarkThroughput(b *testing.B) {
	const persons = 2000
	const concurrency = 8
	for i := 0; i < b.N; i++ {
		accordRate, requests, elapsed := runAccord(b, persons, concurrency)
		rawRate := runRaw(b, requests, concurrency)
		b.ReportMetric(accordRate, "accord-req/s")
		b.ReportMetric(rawRate, "raw-req/s")
		b.ReportMetric(accordRate/rawRate, "ratio")
		b.ReportMetric(float64(persons)/elapsed.Seconds(), "persons/s")
	}
}

func runAccord(b *testing.B, persons, concurrency int) (float64, int, time.Duration) {
	b.Helper()
	// PATCH answers 204 (RFC 7644 allows it) so that rendering groups of
	// thousands of members does not dominate both sides of the comparison.
	w := newSimWorld(b, persons, concurrency, targetsim.Options{DisableLog: true, PatchNoContent: true})
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "bench")
	if err != nil || run == nil || run.State != model.RunPending {
		b.Fatalf("enforce: %v %+v", err, run)
	}
	start := time.Now()
	before := w.sim.Stats().Requests
	w.runUntilDone(nil)
	elapsed := time.Since(start)
	reqs := int(w.sim.Stats().Requests - before)
	r, _ := w.app.Store.GetRun(context.Background(), run.ID)
	if r.State != model.RunSucceeded {
		b.Fatalf("run %s: %v", r.State, r.Counts)
	}
	return float64(reqs) / elapsed.Seconds(), reqs, elapsed
}

// runRaw sends the same mix — per person a create, a read, a membership
// patch and a read — from plain goroutines, recording nothing.
func runRaw(b *testing.B, requests, concurrency int) float64 {
	b.Helper()
	sim := targetsim.New(targetsim.Options{Token: "raw", DisableLog: true, PatchNoContent: true})
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	g, err := sim.SCIM().CreateGroup("all")
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}}
	do := func(method, url string, body []byte) string {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer raw")
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return ""
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		loc := resp.Header.Get("Location")
		return loc
	}
	var next atomic.Int64
	var sent atomic.Int64
	start := time.Now()
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
	return float64(sent.Load()) / time.Since(start).Seconds()
}
