package api

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAuthBackoffDoublesAndForgets(t *testing.T) {
	b := newAuthBackoff(100)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range authFreeFailures {
		require.Zero(t, b.failed("a", t0))
	}
	require.Zero(t, b.wait("a", t0))
	now := t0
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		require.Equal(t, want, b.failed("a", now), "failure %d past the free ones", i+1)
		require.Equal(t, want, b.wait("a", now))
		now = now.Add(want)
		require.Zero(t, b.wait("a", now), "the wait ends")
	}
	for range 30 {
		b.failed("a", now)
	}
	require.Equal(t, authMaxWait, b.wait("a", now), "capped")

	// Quiet for authForget: the count starts again.
	now = now.Add(authMaxWait + authForget + time.Second)
	require.Zero(t, b.failed("a", now))

	b.succeeded("a")
	require.NotContains(t, b.clients, "a")
}

func TestAuthBackoffMemoryIsBounded(t *testing.T) {
	b := newAuthBackoff(10)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	held := func(addr string) {
		for range authFreeFailures + 1 {
			b.failed(addr, now)
		}
		require.Positive(t, b.wait(addr, now), addr)
	}
	for i := range 10 {
		held(fmt.Sprintf("10.0.0.%d", i))
	}
	// Full of held-back addresses: a new one is not tracked, and pushes
	// none of them out.
	for i := range 100 {
		b.failed(fmt.Sprintf("192.0.2.%d", i), now)
	}
	require.Len(t, b.clients, 10)
	for i := range 10 {
		require.Positive(t, b.wait(fmt.Sprintf("10.0.0.%d", i), now))
	}
	// Once their failures are forgotten, room is made.
	later := now.Add(authMaxWait + authForget + time.Minute)
	b.failed("192.0.2.1", later)
	require.Len(t, b.clients, 1)
	require.Contains(t, b.clients, "192.0.2.1")
}

func TestClientAddrDropsThePort(t *testing.T) {
	require.Equal(t, "203.0.113.7", clientAddr("203.0.113.7:4000"))
	require.Equal(t, "2001:db8::1", clientAddr("[2001:db8::1]:443"))
	require.Equal(t, "pipe", clientAddr("pipe"))
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90d":                  now.AddDate(0, 0, 90),
		"36h":                  now.Add(36 * time.Hour),
		"2027-01-31":           time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
		"2026-03-02T12:00:00Z": time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC),
	} {
		got, err := ParseExpiry(in, now)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for in, want := range map[string]string{
		"0d":         "a number of days is a positive whole number",
		"-1h":        "a lifetime must be positive",
		"2026-03-01": "is not in the future (now is 2026-03-02T10:00:00Z)",
		"soon":       "use a lifetime (90d, 36h), a date (2027-01-31) or a time",
	} {
		_, err := ParseExpiry(in, now)
		require.ErrorContains(t, err, want, in)
	}
}
