package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// webhookReceiver counts signed alerts by kind; an unsigned or badly
// signed delivery fails the test.
type webhookReceiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	kinds  map[string]int
	srv    *httptest.Server
}

func newWebhookReceiver(t *testing.T, secret string) *webhookReceiver {
	r := &webhookReceiver{t: t, secret: secret, kinds: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if !notify.VerifySignature([]byte(r.secret), req.Header.Get(notify.HeaderTimestamp), body, req.Header.Get(notify.HeaderSignature)) {
			t.Errorf("webhook delivery with a bad signature: %s", body)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.mu.Lock()
		r.kinds[req.Header.Get(notify.HeaderEvent)]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *webhookReceiver) count(kind notify.Kind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kinds[string(kind)]
}

// TestChaosRunConvergesThroughFaults runs `accord enforce --wait` for
// 1,000 persons while the target first fails 20% of requests with 503,
// then answers bursts of 429 with Retry-After, then goes down and comes
// back. Every action must end succeeded, the target must hold exactly the
// desired state, no request may arrive inside a Retry-After window, the
// outage must alert once (a signed webhook to a test receiver), and the
// audit must hold every attempt and every request.
func TestChaosRunConvergesThroughFaults(t *testing.T) {
	chaosRun(t, "")
}

// TestChaosRunConvergesThroughFaultsWithGroupBatching is the same run
// with group batching on: grants and revokes of many persons share
// requests, read back in shared requests, and every one of those must
// be audited as well.
func TestChaosRunConvergesThroughFaultsWithGroupBatching(t *testing.T) {
	chaosRun(t, "      group_batching: true\n      batch_members: 50\n      batch_linger: 50ms\n")
}

// chaosRun is the chaos run, with conn added to the target's connection.
func chaosRun(t *testing.T, conn string) {
	const persons = 1000
	t.Setenv("ACCORD_TEST_WEBHOOK_SECRET", "whsec-chaos-1234")
	hooks := newWebhookReceiver(t, "whsec-chaos-1234")
	w := newE2EWith(t, persons, 8,
		// Requests already in flight when a 429 is sent cannot have seen it.
		targetsim.Options{Seed: 42, InFlightGrace: 250 * time.Millisecond, LogLimit: 200000},
		func(cfg string) string {
			cfg = strings.Replace(cfg, "      discovery: false\n", "      discovery: false\n"+conn, 1)
			cfg = strings.Replace(cfg, "    concurrency: 8\n", `    concurrency: 8
    retry: {max_attempts: 12, base: 20ms, max: 300ms}
    failure: {open_after: 10, probe_after: 100ms, probe_max: 400ms}
`, 1)
			return cfg + "notify:\n  webhook: {url: " + hooks.srv.URL + ", secret: \"${env:ACCORD_TEST_WEBHOOK_SECRET}\"}\n"
		})
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)

	// The phases follow the target's own count of requests: about 5,000
	// are needed in all.
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Fraction: 0.2, Status: 503})
	require.NoError(t, err)
	stop := make(chan struct{})
	phases := make(chan int, 1)
	go func() {
		phase := 0
		defer func() { phases <- phase }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			n := w.sim.Stats().Requests
			switch {
			case phase == 0 && n >= 1500:
				phase = 1
				w.sim.ClearFaults()
				_, _ = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Times: 30, RetryAfter: targetsim.Duration(time.Second)})
			case phase == 1 && n >= 2500:
				phase = 2
				w.sim.ClearFaults()
				_, _ = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultDown, Refuse: true, For: targetsim.Duration(1500 * time.Millisecond)})
				return
			}
		}
	}()
	code, out = accord(t, w.dir, "enforce", "--wait", "-c", "accord.yaml")
	close(stop)
	require.Equal(t, 2, <-phases, "every phase ran")
	require.Equal(t, 0, code, out)

	w.checkExact(t, persons)
	require.Empty(t, w.sim.Violations(), "no request inside a Retry-After window")
	require.Equal(t, 1, hooks.count(notify.TargetDown), "one alert per outage, not one per action")
	require.Equal(t, 1, hooks.count(notify.TargetBack))
	stats := w.sim.Stats()
	t.Logf("requests: %d, faults: %v", stats.Requests, stats.Faults)

	st := openStore(t, w.dir)
	ctx := context.Background()
	acts, err := st.ListActions(ctx, store.ActionQuery{})
	require.NoError(t, err)
	recs, err := st.ListAudit(ctx, store.AuditQuery{Kinds: []audit.Kind{audit.KindAttemptStart, audit.KindAttemptEnd, audit.KindExchange}})
	require.NoError(t, err)
	starts, ends := map[int64]int{}, map[int64]int{}
	uncounted := map[int64]int{} // attempts that spent none of max_attempts (engine.Counted)
	var exchanges []audit.Record
	for _, r := range recs {
		switch r.Kind {
		case audit.KindAttemptStart:
			starts[r.ActionID]++
		case audit.KindAttemptEnd:
			ends[r.ActionID]++
			if !engine.Counted(r) {
				uncounted[r.ActionID]++
			}
		case audit.KindExchange:
			exchanges = append(exchanges, r)
		}
	}
	retried := 0
	for _, a := range acts {
		require.Equal(t, model.ActionSucceeded, a.State, "action %d", a.ID)
		require.Equal(t, starts[a.ID], ends[a.ID], "action %d", a.ID)
		require.Equal(t, a.Attempts, starts[a.ID]-uncounted[a.ID], "action %d", a.ID)
		if starts[a.ID] > 1 {
			retried++
		}
	}
	require.Positive(t, retried, "the faults caused retries")
	requireAuditedOneToOne(t, w.sim.Requests(), exchanges)
}

// exchangeKey is what ties a request the target received to its audit
// record: method, path and query, correlation ID, and the status the
// target answered (0: none).
type exchangeKey struct {
	method, url, corr string
	status            int
}

// requireAuditedOneToOne checks the target's request log against the
// audit's exchange records one to one: every request the target answered
// has exactly one record with its method, URL, correlation ID and
// status, and no answered record lacks its request. A request the target
// logged without answering has a record with no status; a record with
// no status may also be a request that never reached the target (a
// refused connection), so those are the only records allowed beyond the
// log.
func requireAuditedOneToOne(t *testing.T, log []targetsim.Request, exchanges []audit.Record) {
	t.Helper()
	audited := map[exchangeKey]int{}
	for _, r := range exchanges {
		u, err := url.Parse(r.URL)
		require.NoError(t, err, r.URL)
		corr := ""
		for k, v := range r.RequestHeaders {
			if strings.EqualFold(k, "X-Correlation-ID") {
				corr = v
			}
		}
		audited[exchangeKey{r.Method, u.RequestURI(), corr, r.Status}]++
	}
	batched := 0
	for _, req := range log {
		k := exchangeKey{req.Method, req.Path, req.Header.Get("X-Correlation-ID"), req.Status}
		if req.RawQuery != "" {
			k.url += "?" + req.RawQuery
		}
		require.NotEmpty(t, k.corr, "request %s %s has no correlation ID", req.Method, k.url)
		if strings.Contains(k.corr, "/batch-") {
			batched++
		}
		require.Positive(t, audited[k], "request %s %s (%s, answered %d) has no audit record", req.Method, k.url, k.corr, req.Status)
		audited[k]--
	}
	for k, n := range audited {
		require.True(t, n == 0 || k.status == 0, "%d audit records of %s %s (%s, answered %d) the target did not receive", n, k.method, k.url, k.corr, k.status)
	}
	t.Logf("%d requests audited one to one (%d of them shared by a batch)", len(log), batched)
}

// checkExact asserts the simulator holds exactly one active account per
// person with exactly the memberships policy gives (all-staff for all,
// crm and sales-drive for Sales, github and jira for Engineering).
func (w *e2eWorld) checkExact(t testing.TB, persons int) {
	t.Helper()
	users := w.sim.SCIM().Users()
	// The count alone: the users themselves would bury the message.
	require.Equal(t, persons, len(users), "accounts on the target: one per person, no duplicate")
	names := map[string]string{}
	for _, u := range users {
		names[u.ID] = u.Str("userName")
		require.Equal(t, true, u.Get("active"), u.Str("userName"))
	}
	want := map[string]func(i int) bool{
		"all-staff":   func(int) bool { return true },
		"crm":         func(i int) bool { return i%3 == 0 },
		"sales-drive": func(i int) bool { return i%3 == 0 },
		"github":      func(i int) bool { return i%3 == 1 },
		"jira":        func(i int) bool { return i%3 == 1 },
	}
	for group, in := range want {
		g, ok := w.sim.SCIM().GroupByName(group)
		require.True(t, ok)
		members := map[string]bool{}
		for _, id := range w.sim.SCIM().Members(g.ID) {
			members[names[id]] = true
		}
		for i := 0; i < persons; i++ {
			email := "p" + strconv.Itoa(i) + "@example.com"
			require.Equal(t, in(i), members[email], "%s in %s", email, group)
		}
	}
}
