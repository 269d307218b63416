package targetsim

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFailNextRequestsChangesNothing(t *testing.T) {
	s, c := startSim(t, Options{})
	id, err := s.AddFault(Rule{Kind: FaultFail, Method: "post", Path: "/scim/v2/Users", Times: 2, Status: 502})
	require.NoError(t, err)
	for i := range 2 {
		r := c.do("POST", "/scim/v2/Users", userBody("jim", nil))
		requireSCIMError(t, r, 502, "")
		require.Empty(t, s.SCIM().Users(), "attempt %d: a faulted request changes no state", i)
	}
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users", nil).status, "GET does not match the rule")
	require.Equal(t, 201, c.do("POST", "/scim/v2/Users", userBody("jim", nil)).status)
	require.Empty(t, s.Faults(), "the rule is used up")

	log := s.Requests()
	require.Len(t, log, 4)
	require.Equal(t, []FaultKind{FaultFail}, log[0].Faults)
	require.Equal(t, []string{id}, log[0].Rules)
	require.Equal(t, 502, log[1].Status)
	require.False(t, log[2].Injected())
	require.False(t, log[3].Injected())
	st := s.Stats()
	require.Equal(t, uint64(2), st.Faults[FaultFail])
	require.Equal(t, uint64(2), st.ByStatus[502])
	require.Equal(t, uint64(4), st.Requests)
}

func TestFailWithCustomBodyAndHeaders(t *testing.T) {
	s, c := startSim(t, Options{})
	_, err := s.AddFault(Rule{Kind: FaultFail, Pattern: "/scim/v2/Users/*", Status: 400,
		Body: `{"error":"mapping"}`, Header: map[string]string{"X-Target": "quirky"}})
	require.NoError(t, err)
	id := c.createUser("kim", nil)
	r := c.do("GET", "/scim/v2/Users/"+id, nil)
	require.Equal(t, 400, r.status)
	require.Equal(t, "quirky", r.header.Get("X-Target"))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.JSONEq(t, `{"error":"mapping"}`, string(r.raw))
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users", nil).status, "the pattern needs a segment after /Users")
}

func TestRandomFailuresAreSeeded(t *testing.T) {
	pattern := func(seed int64) []int {
		s, c := startSim(t, Options{Seed: seed})
		_, err := s.AddFault(Rule{Kind: FaultFail, Fraction: 0.3, Status: 503})
		require.NoError(t, err)
		var out []int
		for range 60 {
			out = append(out, c.do("GET", "/scim/v2/Users", nil).status)
		}
		return out
	}
	a, b, other := pattern(7), pattern(7), pattern(8)
	require.Equal(t, a, b)
	require.NotEqual(t, a, other)
	fails := 0
	for _, st := range a {
		if st == 503 {
			fails++
		}
	}
	require.Greater(t, fails, 0)
	require.Less(t, fails, 60)
}

func TestRateLimitRecordsRetryAfterViolations(t *testing.T) {
	clk := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clk.Now})
	_, err := s.AddFault(Rule{Kind: FaultRateLimit, Times: 1, RetryAfter: Duration(1500 * time.Millisecond)})
	require.NoError(t, err)

	r := c.do("POST", "/scim/v2/Users", userBody("lou", nil))
	requireSCIMError(t, r, 429, "")
	require.Equal(t, "2", r.header.Get("Retry-After"), "rounded up to whole seconds")
	require.Empty(t, s.Violations())
	require.Equal(t, t0.Add(2*time.Second), s.RetryAfterUntil())

	clk.Advance(1900 * time.Millisecond)
	require.Equal(t, 201, c.do("POST", "/scim/v2/Users", userBody("lou", nil)).status, "the rule is used up; the client is early")
	v := s.Violations()
	require.Len(t, v, 1)
	require.Equal(t, "POST", v[0].Method)
	require.Equal(t, "/scim/v2/Users", v[0].Path)
	require.Equal(t, t0.Add(2*time.Second), v[0].WindowUntil)
	log := s.Requests()
	require.Equal(t, log[1].Seq, v[0].Seq)
	require.True(t, log[1].Violation)
	require.False(t, log[0].Violation)

	clk.Advance(100 * time.Millisecond)
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users", nil).status)
	require.Len(t, s.Violations(), 1, "a request at the end of the window is on time")
	require.Equal(t, 1, s.Stats().Violations)
}

func TestRateLimitWindowAndPatientClient(t *testing.T) {
	clk := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clk.Now})
	_, err := s.AddFault(Rule{Kind: FaultRateLimit, For: Duration(10 * time.Second), RetryAfter: Duration(3 * time.Second)})
	require.NoError(t, err)
	limited := 0
	for range 10 {
		r := c.do("GET", "/scim/v2/Users", nil)
		if r.status != 429 {
			require.Equal(t, 200, r.status)
			break
		}
		limited++
		require.Equal(t, "3", r.header.Get("Retry-After"))
		clk.Advance(3 * time.Second) // a client that waits as told
	}
	require.Equal(t, 4, limited, "0s, 3s, 6s and 9s fall in the 10s window")
	require.Empty(t, s.Violations())
}

func TestFailWithRetryAfterOpensWindow(t *testing.T) {
	clk := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clk.Now})
	_, err := s.AddFault(Rule{Kind: FaultDown, Times: 1, RetryAfter: Duration(5 * time.Second)})
	require.NoError(t, err)
	r := c.do("GET", "/scim/v2/Users", nil)
	requireSCIMError(t, r, 503, "")
	require.Equal(t, "5", r.header.Get("Retry-After"))
	c.do("GET", "/scim/v2/Users", nil)
	require.Len(t, s.Violations(), 1)
}

func TestDownForAPeriodAndUntilCleared(t *testing.T) {
	clk := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clk.Now})
	_, err := s.AddFault(Rule{Kind: FaultDown, For: Duration(time.Minute)})
	require.NoError(t, err)
	requireSCIMError(t, c.do("POST", "/scim/v2/Users", userBody("max", nil)), 503, "")
	clk.Advance(59 * time.Second)
	requireSCIMError(t, c.do("GET", "/scim/v2/Users", nil), 503, "")
	clk.Advance(time.Second)
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users", nil).status)
	require.Empty(t, s.SCIM().Users())

	_, err = s.AddFault(Rule{Kind: FaultDown})
	require.NoError(t, err)
	clk.Advance(24 * time.Hour)
	requireSCIMError(t, c.do("GET", "/scim/v2/Users", nil), 503, "")
	s.ClearFaults()
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users", nil).status)
}

// fresh returns a client that opens a new connection per request, so a
// closed connection surfaces as an error instead of a transparent retry.
func fresh(c *client) *client {
	cp := *c
	cp.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return &cp
}

func TestRefuseAndDropCloseTheConnection(t *testing.T) {
	for _, rule := range []Rule{
		{Kind: FaultDown, Refuse: true, Times: 2},
		{Kind: FaultDrop, Times: 2},
	} {
		t.Run(string(rule.Kind), func(t *testing.T) {
			s, c := startSim(t, Options{})
			c = fresh(c)
			_, err := s.AddFault(rule)
			require.NoError(t, err)
			for range 2 {
				resp, err := c.send("POST", "/scim/v2/Users", userBody("ned", nil))
				if err == nil {
					resp.Body.Close()
				}
				require.Error(t, err)
			}
			require.Empty(t, s.SCIM().Users(), "a closed connection changed no state")
			require.Equal(t, 201, c.do("POST", "/scim/v2/Users", userBody("ned", nil)).status)
			log := s.Requests()
			require.Len(t, log, 3)
			require.Equal(t, 0, log[0].Status)
			require.Equal(t, []FaultKind{rule.Kind}, log[0].Faults)
			require.NotEmpty(t, log[0].Body, "the request was read before the connection closed")
			require.Equal(t, uint64(2), s.Stats().ByStatus[0])
		})
	}
}

// sleepRecorder stands in for the timer so latency tests need no waiting.
type sleepRecorder struct {
	mu    sync.Mutex
	slept []time.Duration
}

func (r *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.slept = append(r.slept, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *sleepRecorder) got() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.slept...)
}

func TestLatencyAddsUpAndLetsTheRequestThrough(t *testing.T) {
	rec := &sleepRecorder{}
	s, c := startSim(t, Options{Sleep: rec.sleep})
	_, err := s.AddFault(Rule{Kind: FaultLatency, Delay: Duration(200 * time.Millisecond), Method: "POST"})
	require.NoError(t, err)
	_, err = s.AddFault(Rule{Kind: FaultLatency, Delay: Duration(50 * time.Millisecond), Times: 1})
	require.NoError(t, err)
	require.Equal(t, 201, c.do("POST", "/scim/v2/Users", userBody("ola", nil)).status)
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users", nil).status)
	require.Equal(t, 201, c.do("POST", "/scim/v2/Users", userBody("pia", nil)).status)
	require.Equal(t, []time.Duration{250 * time.Millisecond, 200 * time.Millisecond}, rec.got())
	require.Len(t, s.SCIM().Users(), 2)
	log := s.Requests()
	require.Equal(t, []FaultKind{FaultLatency, FaultLatency}, log[0].Faults)
	require.False(t, log[1].Injected())
}

func TestLatencyClientGivesUpChangesNothing(t *testing.T) {
	entered, left := make(chan struct{}), make(chan struct{})
	sleep := func(ctx context.Context, d time.Duration) error {
		close(entered)
		<-ctx.Done()
		close(left)
		return ctx.Err()
	}
	s, c := startSim(t, Options{Sleep: sleep})
	_, err := s.AddFault(Rule{Kind: FaultLatency, Delay: Duration(time.Hour)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/scim/v2/Users", jsonReader(t, userBody("quinn", nil)))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		resp, err := c.hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	cancel()
	require.Error(t, <-errc)
	<-left
	require.Empty(t, s.SCIM().Users())
}

func TestSlowResponseArrivesWholeAndLate(t *testing.T) {
	rec := &sleepRecorder{}
	s, c := startSim(t, Options{Sleep: rec.sleep})
	id := c.createUser("rita", map[string]any{"title": "Slowpoke"})
	plain := c.do("GET", "/scim/v2/Users/"+id, nil)
	_, err := s.AddFault(Rule{Kind: FaultSlow, Delay: Duration(time.Second), Interval: Duration(10 * time.Millisecond), Chunk: 100})
	require.NoError(t, err)
	slow := c.do("GET", "/scim/v2/Users/"+id, nil)
	require.Equal(t, 200, slow.status)
	require.Equal(t, plain.raw, slow.raw)
	require.Equal(t, plain.header.Get("ETag"), slow.header.Get("ETag"))
	chunks := (len(slow.raw) + 99) / 100
	want := []time.Duration{time.Second}
	for range chunks - 1 {
		want = append(want, 10*time.Millisecond)
	}
	require.Equal(t, want, rec.got())

	require.Equal(t, 201, c.do("POST", "/scim/v2/Users", userBody("sam", nil)).status)
	_, ok := s.SCIM().UserByName("sam")
	require.True(t, ok, "a slow answer still did the work")
	require.Equal(t, []FaultKind{FaultSlow}, s.Requests()[2].Faults)
}

func TestRuleMatchingAndLifetime(t *testing.T) {
	clk := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clk.Now})
	id := c.createUser("tess", nil)
	_, err := s.AddFault(Rule{Kind: FaultFail, Status: 500, Method: "DELETE", Pattern: "/scim/v2/Users/*", For: Duration(time.Minute)})
	require.NoError(t, err)
	_, err = s.AddFault(Rule{Kind: FaultFail, Status: 418, Path: "/scim/v2/Groups"})
	require.NoError(t, err)
	require.Equal(t, 418, c.do("GET", "/scim/v2/Groups", nil).status)
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users/"+id, nil).status)
	require.Equal(t, 500, c.do("DELETE", "/scim/v2/Users/"+id, nil).status)
	require.Len(t, s.Faults(), 2)
	clk.Advance(time.Minute)
	require.Len(t, s.Faults(), 1, "the windowed rule has ended")
	require.Equal(t, 204, c.do("DELETE", "/scim/v2/Users/"+id, nil).status)
	st := s.Faults()[0]
	require.Equal(t, uint64(1), st.Applied)
	require.True(t, s.RemoveFault(st.ID))
	require.False(t, s.RemoveFault(st.ID))
	require.Equal(t, 200, c.do("GET", "/scim/v2/Groups", nil).status)
}

func TestRuleValidation(t *testing.T) {
	s := New(Options{})
	for _, r := range []Rule{
		{},
		{Kind: "explode"},
		{Kind: FaultLatency},
		{Kind: FaultSlow},
		{Kind: FaultFail, Times: -1},
		{Kind: FaultFail, Fraction: 1.5},
		{Kind: FaultFail, Status: 42},
		{Kind: FaultFail, Path: "scim"},
		{Kind: FaultFail, Pattern: "[unclosed"},
		{Kind: FaultFail, For: Duration(-time.Second)},
	} {
		_, err := s.AddFault(r)
		require.Error(t, err, "%+v", r)
		require.Contains(t, err.Error(), "rule: ")
	}
	require.Empty(t, s.Faults())
}
