package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/console"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

// The page-load benchmark's data: persons with an account each on one
// target, and audit records spread over them, written through the store
// API (the HR feed through a real import).
const (
	benchPersons = 100_000
	benchAudit   = 1_000_000
)

// benchConfig: the console's target, served by nobody (pages read the
// store, never the target); the API's rate limit out of the way, as the
// console calls the API in process as the signed-in key.
var benchConfig = "store:\n  path: accord.db\n" + testHR.Source() + `targets:
  - name: saas
    type: scim
    connection:
      url: http://127.0.0.1:9/scim/v2
      auth: {type: bearer, token: "${env:ACCORD_BENCH_UNUSED_TOKEN}"}
      entitlements_by: displayName
      discovery: false
    account:
      userName: "{{ email }}"
      displayName: "{{ first_name }} {{ last_name }}"
    birthright: [all-staff]
    lifecycle: {leaver: disable}
` + testkit.DepartmentRoles("saas", []string{"crm"}, []string{"github"}) + `engine:
  poll: 1h
  lease: 3h
api:
  rate_limit: {per_second: 1000000, burst: 1000000}
`

type benchSite struct {
	url    string
	client *http.Client
	// deepID is a record ID near the start of the audit trail.
	deepID int64
}

// fillBench writes the persons, their accounts and the audit trail.
func fillBench(b *testing.B, a *app.App, dir string) int64 {
	ctx := context.Background()
	depts := []string{"Sales", "Engineering", "Finance"}
	var feed strings.Builder
	feed.WriteString(testHR.Header())
	for i := range benchPersons {
		fmt.Fprintf(&feed, "P%06d,First%d,Last%d,p%06d@example.com,%s,employee,2025-01-01,\n", i, i, i, i, depts[i%3])
	}
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(feed.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	if _, err := a.Import(ctx, ""); err != nil {
		b.Fatal(err)
	}
	at := a.Now()
	var changes []model.AccountChange
	for i := range benchPersons {
		ents := []string{"all-staff", "crm"}
		if i%3 == 1 {
			ents = []string{"all-staff", "github"}
		}
		changes = append(changes, model.AccountChange{Target: "saas", PersonKey: fmt.Sprintf("P%06d", i), NativeID: fmt.Sprintf("u-%d", i),
			Upsert: true, State: model.AccountEnabled, Grant: ents, At: at,
			Attributes: model.Attributes{"userName": fmt.Sprintf("p%06d@example.com", i)}})
		if len(changes) == 5000 {
			if err := a.Store.ApplyAccountChanges(ctx, changes); err != nil {
				b.Fatal(err)
			}
			changes = changes[:0]
		}
	}
	kinds := []audit.Kind{audit.KindAttemptStart, audit.KindExchange, audit.KindExchange, audit.KindAttemptEnd}
	var recs []audit.Record
	var first int64
	for i := range benchAudit {
		p := (i * 7919) % benchPersons // spread each person's records over the trail
		run := fmt.Sprintf("run-bench-%05d", i/1000)
		r := audit.Record{Time: at.Add(time.Duration(i) * time.Millisecond), Kind: kinds[i%4], RunID: run, ActionID: int64(i/4 + 1),
			PersonKey: fmt.Sprintf("P%06d", p), Target: "saas", Operation: "grant", Actor: "engine", Outcome: ""}
		switch r.Kind {
		case audit.KindExchange:
			r.Method, r.URL, r.Status = "PATCH", "https://saas.example/scim/v2/Groups/g-1", 200
			r.RequestHeaders = map[string]string{"Authorization": "[REDACTED]", "X-Correlation-Id": fmt.Sprintf("%s/%d", run, r.ActionID)}
			r.RequestBody = `{"Operations":[{"op":"add","path":"members","value":[{"value":"u-1"}]}]}`
			r.ResponseExcerpt = `{"id":"g-1","displayName":"crm"}`
		case audit.KindAttemptEnd:
			r.Outcome = "succeeded"
			if i%40 == 3 {
				r.Outcome, r.ErrorKind, r.Message = "failed", "transient", "503 Service Unavailable"
			}
		}
		recs = append(recs, r)
		if len(recs) == 10_000 {
			if err := a.Store.AppendAudit(ctx, recs); err != nil {
				b.Fatal(err)
			}
			if first == 0 {
				first = recs[0].ID
			}
			recs = recs[:0]
		}
	}
	return first
}

// newBenchSite fills a store and serves it. With ACCORD_CONSOLE_BENCH_DIR
// set, the store is kept in that folder and reused by the next run (its
// migrations applied): filling takes minutes.
func newBenchSite(b *testing.B) *benchSite {
	b.Setenv("ACCORD_BENCH_UNUSED_TOKEN", "unused")
	dir := os.Getenv("ACCORD_CONSOLE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	marker := filepath.Join(dir, "filled")
	prev, _ := os.ReadFile(marker)
	if err := os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(benchConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	if prev == nil {
		_ = os.Remove(filepath.Join(dir, "accord.db"))
		if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(testHR.Header()), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Logger: testkit.QuietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close(context.Background()) })
	var first int64
	if prev != nil {
		if _, err := fmt.Sscan(string(prev), &first); err != nil {
			b.Fatalf("%s: %v", marker, err)
		}
	} else {
		start := time.Now()
		first = fillBench(b, a, dir)
		b.Logf("filled %d persons, %d accounts and %d audit records in %s", benchPersons, benchPersons, benchAudit, time.Since(start).Round(time.Second))
		if err := os.WriteFile(marker, []byte(fmt.Sprint(first)), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	srv := api.New(api.Options{App: a, Logger: testkit.QuietLogger()})
	c, err := console.New(console.Options{API: srv, Sessions: a.Store.(console.Sessions), Config: a.Cfg.API.Console, Logger: testkit.QuietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	srv.Mount(c)
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	key, _, err := api.CreateKey(context.Background(), a.Store, fmt.Sprintf("bench-%d", time.Now().UnixNano()), []string{api.ScopeRead}, time.Time{}, "bench", a.Now())
	if err != nil {
		b.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.PostForm(hs.URL+"/signin", url.Values{"key": {key}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %v %v", err, resp)
	}
	resp.Body.Close()
	return &benchSite{url: hs.URL, client: cl, deepID: first + 50_000}
}

// BenchmarkConsolePages measures the server time of the console's pages
// over 100,000 persons and 1,000,000 audit records in SQLite: the time
// from the request to the last byte of the page, over loopback HTTP with
// a signed-in session (the session check, the API calls in process, the
// store queries and the template). It reports the median and the 99th
// percentile per page. Filling the store takes a few minutes and is not
// timed.
//
//	go test -run '^$' -bench BenchmarkConsolePages -benchtime 200x -timeout 30m ./internal/console/
func BenchmarkConsolePages(b *testing.B) {
	site := newBenchSite(b)
	pages := []struct {
		name string
		path func(i int) string
	}{
		{"overview", func(int) string { return "/" }},
		{"person", func(i int) string { return fmt.Sprintf("/persons/P%06d", (i*37)%benchPersons) }},
		{"persons-search", func(i int) string { return fmt.Sprintf("/persons?q=last%d", 90000+i%1000) }},
		{"audit-first", func(int) string { return "/audit" }},
		{"audit-deep-filtered", func(i int) string {
			return fmt.Sprintf("/audit?q=%s&before=%d", url.QueryEscape("target:saas outcome:failed"), site.deepID+int64(i))
		}},
		{"audit-person", func(i int) string {
			return "/audit?q=" + url.QueryEscape(fmt.Sprintf("person:P%06d", (i*53)%benchPersons))
		}},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			var times []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				resp, err := site.client.Get(site.url + pg.path(i))
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				times = append(times, time.Since(start))
				if resp.StatusCode != http.StatusOK || n == 0 {
					b.Fatalf("%s: %d", pg.path(i), resp.StatusCode)
				}
				i++
			}
			slices.Sort(times)
			b.ReportMetric(ms(times[len(times)/2]), "ms-median")
			b.ReportMetric(ms(times[min(len(times)-1, len(times)*99/100)]), "ms-p99")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
