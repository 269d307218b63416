package targetsim

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAllowDuplicatesCreatesASecondUser: in duplicates mode a second POST
// with a taken userName is a second user, a filter by userName finds
// both, deleting one leaves the other findable, and UserNameCounts shows
// the duplicate; group names stay unique.
func TestAllowDuplicatesCreatesASecondUser(t *testing.T) {
	s, c := startSim(t, Options{AllowDuplicates: true})
	first := c.createUser("Bob@example.com", nil)
	r := c.do("POST", "/scim/v2/Users", userBody("bob@EXAMPLE.com", nil))
	require.Equal(t, 201, r.status, "%s", r.raw)
	second := r.str("id")
	require.NotEqual(t, first, second)
	c.createUser("alice@example.com", nil)

	list := c.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "bob@example.com"`), nil)
	require.Equal(t, 200, list.status, "%s", list.raw)
	require.EqualValues(t, 2, list.body["totalResults"], "%s", list.raw)
	require.Equal(t, map[string]int{"bob@example.com": 2, "alice@example.com": 1}, s.SCIM().UserNameCounts())

	require.Equal(t, 204, c.do("DELETE", "/scim/v2/Users/"+first, nil).status)
	u, ok := s.SCIM().UserByName("bob@example.com")
	require.True(t, ok, "the other holder of the name is still found by it")
	require.Equal(t, second, u.ID)

	c.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{SchemaGroup}, "displayName": "admins"})
	requireSCIMError(t, c.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{SchemaGroup}, "displayName": "ADMINS"}), 409, "uniqueness")

	// Without the mode, the same second POST is refused.
	_, plain := startSim(t, Options{})
	plain.createUser("bob@example.com", nil)
	requireSCIMError(t, plain.do("POST", "/scim/v2/Users", userBody("bob@example.com", nil)), 409, "uniqueness")
}

// TestIdempotencyKeyReplaysTheFirstAnswer: a POST repeated with the same
// Idempotency-Key gets the first 201 again and creates nothing; another
// key creates (duplicates allowed); a refused POST is not remembered.
func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	s, c := startSim(t, Options{AllowDuplicates: true})
	a := c.do("POST", "/scim/v2/Users", userBody("bob@example.com", nil), IdempotencyHeader, "run-1/7")
	require.Equal(t, 201, a.status, "%s", a.raw)
	b := c.do("POST", "/scim/v2/Users", userBody("bob@example.com", nil), IdempotencyHeader, "run-1/7")
	require.Equal(t, 201, b.status, "%s", b.raw)
	require.Equal(t, a.str("id"), b.str("id"))
	require.Equal(t, a.header.Get("Location"), b.header.Get("Location"))
	require.Equal(t, 1, s.SCIM().UserNameCounts()["bob@example.com"], "the repeat created nothing")

	c.do("POST", "/scim/v2/Users", userBody("bob@example.com", nil), IdempotencyHeader, "run-1/8")
	require.Equal(t, 2, s.SCIM().UserNameCounts()["bob@example.com"], "a new key is a new request")

	bad := c.do("POST", "/scim/v2/Users", map[string]any{"schemas": []string{SchemaUser}}, IdempotencyHeader, "run-1/9")
	require.Equal(t, 400, bad.status)
	require.Equal(t, 201, c.do("POST", "/scim/v2/Users", userBody("carol@example.com", nil), IdempotencyHeader, "run-1/9").status)
}

func TestMaxRateAndOverlaps(t *testing.T) {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	req := func(seq uint64, key string, from, to int) Request {
		return Request{Seq: seq, Time: at(from), Done: at(to), Header: map[string][]string{"X-Correlation-Id": {key}}}
	}
	reqs := []Request{
		req(1, "r/1", 0, 100), req(2, "r/1", 100, 200), // one after the other: fine
		req(3, "r/2", 50, 300), req(4, "r/2", 250, 260), // overlap
		req(5, "", 900, 950), req(6, "r/3", 1000, 1010), req(7, "r/3", 1005, 1006),
	}
	key := func(r Request) string { return r.Header.Get("X-Correlation-ID") }
	ov := Overlaps(reqs, key)
	require.Len(t, ov, 2)
	require.Equal(t, "r/2", ov[0].Key)
	require.Equal(t, uint64(3), ov[0].First.Seq)
	require.Equal(t, uint64(4), ov[0].Then.Seq)
	require.Equal(t, "r/3", ov[1].Key)

	require.Equal(t, 6, MaxRate(reqs, time.Second), "arrivals 0..900 ms")
	require.Equal(t, 3, MaxRate(reqs, 150*time.Millisecond), "arrivals at 900, 1000, 1005 ms")
	require.Equal(t, 2, MaxRate(reqs, 100*time.Millisecond), "a window is half open")
}

// TestMaxInFlight counts requests the simulator handled at once: three
// requests held in the simulator's latency until all three arrived.
func TestMaxInFlight(t *testing.T) {
	arrived, release := make(chan struct{}, 3), make(chan struct{})
	s, c := startSim(t, Options{Sleep: func(ctx context.Context, _ time.Duration) error {
		arrived <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	_, err := s.AddFault(Rule{Kind: FaultLatency, Delay: Duration(time.Second)})
	require.NoError(t, err)
	done := make(chan error, 3)
	for range 3 {
		go func() {
			resp, err := c.send("GET", "/scim/v2/Users", nil)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for range 3 {
		<-arrived
	}
	close(release)
	for range 3 {
		require.NoError(t, <-done)
	}
	require.Equal(t, 3, s.MaxInFlight())
}
