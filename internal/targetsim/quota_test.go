package targetsim

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuotaCountsPerWindowAndAnnouncesIt(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clk := NewManualClock(start.Add(200 * time.Millisecond))
	s, c := startSim(t, Options{Now: clk.Now, Quota: &Quota{Limit: 3, Window: 2 * time.Second, Style: QuotaXRateLimit}})
	reset := strconv.FormatInt(start.Add(2*time.Second).Unix(), 10)
	for i, left := range []string{"2", "1", "0"} {
		r := c.do("GET", "/scim/v2/Users", nil)
		require.Equal(t, 200, r.status, "request %d is within the quota", i)
		require.Equal(t, "3", r.header.Get("X-RateLimit-Limit"))
		require.Equal(t, left, r.header.Get("X-RateLimit-Remaining"))
		require.Equal(t, reset, r.header.Get("X-RateLimit-Reset"), "a Unix time: the end of the window")
	}
	require.Empty(t, s.Violations(), "using the quota up is allowed")

	clk.Advance(500 * time.Millisecond)
	r := c.do("POST", "/scim/v2/Users", userBody("ann", nil))
	requireSCIMError(t, r, 429, "")
	require.Empty(t, r.header.Get("Retry-After"), "only the quota headers say when")
	require.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))
	require.Empty(t, s.SCIM().Users(), "a refused request changes nothing")
	require.Len(t, s.Violations(), 1, "the answer before said nothing was left")

	clk.Set(start.Add(2 * time.Second))
	r = c.do("GET", "/scim/v2/Users", nil)
	require.Equal(t, 200, r.status, "a new window")
	require.Equal(t, "2", r.header.Get("X-RateLimit-Remaining"))
	require.Len(t, s.Violations(), 1, "a request at the reset is on time")
	require.Equal(t, uint64(1), s.Stats().ByStatus[429])
}

func TestQuotaStyles(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		style QuotaStyle
		want  map[string]string
	}{
		{QuotaRateLimitReset, map[string]string{"RateLimit-Limit": "5", "RateLimit-Remaining": "4", "RateLimit-Reset": "4"}},
		{QuotaRateLimitField, map[string]string{"RateLimit": `"default";r=4;t=4`, "RateLimit-Policy": `"default";q=5;w=10`}},
	} {
		t.Run(string(c.style), func(t *testing.T) {
			clk := NewManualClock(start.Add(6500 * time.Millisecond))
			_, cl := startSim(t, Options{Now: clk.Now, Quota: &Quota{Limit: 5, Window: 10 * time.Second, Style: c.style}})
			r := cl.do("GET", "/scim/v2/Users", nil)
			require.Equal(t, 200, r.status)
			for k, v := range c.want {
				require.Equal(t, v, r.header.Get(k), "%s (3.5s left, rounded up)", k)
			}
		})
	}
}

func TestQuotaCheck(t *testing.T) {
	require.NoError(t, Quota{Limit: 1}.Check())
	require.ErrorContains(t, Quota{}.Check(), "limit must be positive")
	require.ErrorContains(t, Quota{Limit: 1, Window: 1500 * time.Millisecond}.Check(), "whole seconds")
	require.ErrorContains(t, Quota{Limit: 1, Style: "github"}.Check(), `unknown quota style "github"`)
	require.Panics(t, func() { New(Options{Quota: &Quota{Limit: -1}}) })
}
