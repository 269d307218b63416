package connector

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestQuotaSpentReadsEveryStyle(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	epoch := strconv.FormatInt(now.Add(42*time.Second).Unix(), 10)
	epochMS := strconv.FormatInt(now.Add(1500*time.Millisecond).UnixMilli(), 10)
	for _, c := range []struct {
		name  string
		h     http.Header
		spent bool
		wait  time.Duration
	}{
		{"x-ratelimit, Unix seconds", header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epoch), true, 42 * time.Second},
		{"x-ratelimit, Unix milliseconds", header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epochMS), true, 1500 * time.Millisecond},
		{"x-ratelimit, seconds from now", header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "7"), true, 7 * time.Second},
		{"x-rate-limit spelling", header("X-Rate-Limit-Remaining", "0", "X-Rate-Limit-Reset", "3"), true, 3 * time.Second},
		{"ratelimit-reset", header("RateLimit-Remaining", "0", "RateLimit-Reset", "30"), true, 30 * time.Second},
		{"ratelimit field", header("RateLimit", `"default";r=0;t=12`), true, 12 * time.Second},
		{"ratelimit field, spread members", header("RateLimit", "limit=10, remaining=0, reset=5"), true, 5 * time.Second},
		{"ratelimit field, the spent policy's reset", header("RateLimit", `"burst";r=0;t=2, "daily";r=900;t=80000`), true, 2 * time.Second},
		{"requests left", header("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "7"), false, 0},
		{"field with requests left", header("RateLimit", `"default";r=4;t=12`), false, 0},
		{"spent, reset unsaid", header("X-RateLimit-Remaining", "0"), false, 0},
		{"spent, reset in the past", header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)), false, 0},
		{"garbage", header("X-RateLimit-Remaining", "none", "X-RateLimit-Reset", "soon", "RateLimit", "r=;t=x"), false, 0},
		{"a reset beyond a day is capped", header("RateLimit-Remaining", "0", "RateLimit-Reset", "999999"), true, 24 * time.Hour},
		{"no quota headers", header("Content-Type", "application/json"), false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			wait, spent := QuotaSpent(c.h, now)
			require.Equal(t, c.spent, spent)
			require.Equal(t, c.wait, wait)
		})
	}
}

func TestWaitFromPrefersRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	require.Equal(t, 4*time.Second, WaitFrom(header("Retry-After", "4", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "60"), now))
	require.Equal(t, 60*time.Second, WaitFrom(header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "60"), now), "no Retry-After: the reset")
	require.Equal(t, 9*time.Second, WaitFrom(header("Retry-After", now.Add(9*time.Second).Format(http.TimeFormat)), now), "an HTTP date")
	require.Equal(t, 2*time.Second, WaitFrom(header("RateLimit", `"a";r=3;t=2, "b";r=7;t=50`), now),
		"a refusal naming no spent policy: the soonest reset")
	require.Zero(t, WaitFrom(header(), now))
}

func TestHoldInContext(t *testing.T) {
	HoldFrom(context.Background())(time.Now()) // no hold: nothing happens
	var got time.Time
	ctx := WithHold(context.Background(), func(until time.Time) { got = until })
	at := time.Now().Add(time.Minute)
	HoldFrom(ctx)(at)
	require.Equal(t, at, got)
}

func TestResetTimesAreReadAgainstTheTargetsClock(t *testing.T) {
	ours := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	theirs := ours.Add(-5 * time.Minute) // the target's clock is five minutes slow
	reset := strconv.FormatInt(theirs.Add(30*time.Second).Unix(), 10)
	h := header("Date", theirs.Format(http.TimeFormat), "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset)
	wait, spent := QuotaSpent(h, ours)
	require.True(t, spent)
	require.Equal(t, 30*time.Second, wait, "by our clock the reset is long past; by the target's it is 30s away")
	require.Equal(t, 30*time.Second, WaitFrom(h, ours))
	require.Equal(t, 20*time.Second, WaitFrom(header("Date", theirs.Format(http.TimeFormat),
		"Retry-After", theirs.Add(20*time.Second).Format(http.TimeFormat)), ours), "a Retry-After date too")
	require.Equal(t, 7*time.Second, WaitFrom(header("Date", "yesterday", "Retry-After", "7"), ours), "a bad Date is ignored")

	// A Date that agrees with our clock to the second is our clock: its
	// rounding to whole seconds adds nothing to the wait.
	later := ours.Add(700 * time.Millisecond)
	wait, _ = QuotaSpent(header("Date", ours.Format(http.TimeFormat), "X-RateLimit-Remaining", "0",
		"X-RateLimit-Reset", strconv.FormatInt(ours.Add(time.Second).Unix(), 10)), later)
	require.Equal(t, 300*time.Millisecond, wait)
}
