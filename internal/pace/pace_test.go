package pace_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/pace"
)

// All tests run on synctest's one fake clock: waits are exact, and the
// tests take no real time.

func settings(perSecond float64, burst int) pace.Settings {
	return pace.SettingsOf(&config.Target{Concurrency: 4, RateLimit: config.RateLimit{PerSecond: perSecond, Burst: burst}})
}

// Waiting for accord's own limiter is waiting, never an error: requests
// queued far beyond what the rate allows in the caller's patience all go
// through, each when its turn comes (issue 12).
func TestGateWaitsAndNeverFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pace.New("t", settings(2, 1), pace.Options{})
		start := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Int32
		for range 10 {
			wg.Go(func() {
				if p.Gate(context.Background()) != nil {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		require.Zero(t, failed.Load())
		require.Equal(t, 4500*time.Millisecond, time.Since(start), "10 requests at 2/s, burst 1")

		// Only the caller's own context ends a wait.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- p.Gate(ctx); done <- p.Gate(ctx) }()
		require.NoError(t, <-done)
		synctest.Wait()
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}

// A hold (Retry-After, a spent quota) stops every request until it ends.
func TestHoldPausesEveryRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pace.New("t", settings(0, 0), pace.Options{})
		start := time.Now()
		p.Hold(start.Add(5 * time.Second))
		n, _ := p.Leasable(8, time.Now())
		require.Zero(t, n, "no work is leased while held")
		st := p.Status()
		require.Equal(t, start.Add(5*time.Second), st.PausedUntil)
		require.NotEmpty(t, st.PauseReason)
		require.NoError(t, p.Gate(context.Background()))
		require.Equal(t, 5*time.Second, time.Since(start))
		n, _ = p.Leasable(8, time.Now())
		require.Equal(t, 8, n)
	})
}

// After 429s the rate halves (once per burst of them), never below an
// eighth, and climbs back to the configured rate within seconds of the
// end of the pause: doubling every second, not per success.
func TestAdaptiveRateDropsAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pace.New("t", settings(20, 20), pace.Options{})
		ctx := context.Background()
		limited := &connector.Error{Kind: connector.RateLimited, Status: 429}
		rateNow := func() float64 { return p.Status().RateLimit }

		for range 5 {
			p.Record(ctx, 1, limited, time.Now(), true)
		}
		require.Equal(t, 10.0, rateNow(), "a burst of 429s is one signal")
		for range 5 {
			time.Sleep(time.Second)
			p.Record(ctx, 1, limited, time.Now(), true)
		}
		require.Equal(t, 2.5, rateNow(), "never below an eighth of where it started")

		// The last 429 came with Retry-After: 5s. Nothing recovers during
		// the pause nor for RecoverAfter; then three doublings, 500 ms
		// apart, reach the configured rate.
		last := time.Now()
		p.Hold(last.Add(5 * time.Second))
		time.Sleep(6 * time.Second)
		require.Equal(t, 2.5, rateNow())
		time.Sleep(500 * time.Millisecond)
		require.Equal(t, 5.0, rateNow())
		time.Sleep(time.Second)
		require.Equal(t, 20.0, rateNow(), "back to rate_limit 2.5 s after the pause, 7.5 s after the last 429")
		require.Equal(t, 7500*time.Millisecond, time.Since(last))
		time.Sleep(time.Minute)
		require.Equal(t, 20.0, rateNow(), "never above the configured rate")
	})
}

// Without a configured limit, a 429 sets one from the observed rate, and
// it is dropped again once far above anything the target refused.
func TestAdaptiveRateWithoutLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pace.New("t", settings(0, 0), pace.Options{})
		ctx := context.Background()
		for range 40 {
			require.NoError(t, p.Gate(ctx))
		}
		require.Zero(t, p.Status().RateLimit)
		p.Record(ctx, 1, &connector.Error{Kind: connector.RateLimited}, time.Now(), true)
		require.Equal(t, 20.0, p.Status().RateLimit, "half the 40 req/s observed")
		time.Sleep(7 * time.Second)
		require.Zero(t, p.Status().RateLimit, "unlimited again")
	})
}

// The circuit opens after OpenAfter failed requests in a row; only one
// probe goes through, at ProbeAfter, doubling after each failed probe;
// a successful probe closes it and wakes the dispatcher.
func TestCircuitOpensProbesAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := settings(0, 0)
		s.Failure.OpenAfter, s.Failure.ProbeAfter, s.Failure.ProbeMax = 3, 2*time.Second, 3*time.Second
		p := pace.New("t", s, pace.Options{})
		ctx := context.Background()
		down := &connector.Error{Kind: connector.Unavailable, Message: "503"}
		for range 2 {
			p.Observe(ctx, connector.Unavailable, 503, "503", time.Now())
		}
		p.Observe(ctx, "", 200, "", time.Now())
		for range 2 {
			p.Observe(ctx, connector.Unavailable, 503, "503", time.Now())
		}
		require.Equal(t, pace.CircuitClosed, p.Status().Circuit, "failures in a row, not in total")
		p.Observe(ctx, connector.Unavailable, 503, "", time.Now())
		require.Equal(t, pace.CircuitOpen, p.Status().Circuit)
		require.Equal(t, "3 consecutive failures, last: unavailable (HTTP 503)", p.Status().Reason, "an exchange without a message: its kind and status")
		ok, _ := p.Allow(7)
		require.False(t, ok)
		n, _ := p.Leasable(8, time.Now())
		require.Zero(t, n)

		time.Sleep(2 * time.Second)
		n, probe := p.Leasable(8, time.Now())
		require.True(t, probe)
		require.Equal(t, 1, n, "one probe")
		p.StartProbe(7)
		ok, _ = p.Allow(8)
		require.False(t, ok, "only the probe")
		ok, _ = p.Allow(7)
		require.True(t, ok)
		require.False(t, p.Record(ctx, 7, down, time.Now(), true))
		require.Equal(t, time.Now().Add(3*time.Second), p.Status().ProbeAt, "probe wait doubled, up to ProbeMax")

		time.Sleep(3 * time.Second)
		_, probe = p.Leasable(8, time.Now())
		require.True(t, probe)
		p.StartProbe(9)
		require.True(t, p.Record(ctx, 9, nil, time.Now(), true))
		require.Equal(t, pace.CircuitClosed, p.Status().Circuit)
		select {
		case <-p.Wake():
		default:
			t.Fatal("closing the circuit wakes the dispatcher")
		}
	})
}

// A probe job that returns without its answer reaching Record (its lease
// lost, its batch gave it back) does not leave the circuit half open
// with nothing leasable: the circuit is open again and probed at once.
// Another job's end changes nothing, nor does the probe's end once it was
// answered.
func TestProbeThatEndsUnansweredIsProbedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := settings(0, 0)
		s.Failure.OpenAfter, s.Failure.ProbeAfter, s.Failure.ProbeMax = 1, 2*time.Second, 3*time.Second
		p := pace.New("t", s, pace.Options{})
		ctx := context.Background()
		p.Observe(ctx, connector.Unavailable, 503, "503", time.Now())
		require.Equal(t, pace.CircuitOpen, p.Status().Circuit)
		time.Sleep(2 * time.Second)
		_, probe := p.Leasable(8, time.Now())
		require.True(t, probe)
		p.StartProbe(7)
		n, _ := p.Leasable(8, time.Now())
		require.Zero(t, n, "nothing else is leased while the probe runs")
		require.Equal(t, int64(7), p.Status().ProbeJob, "the status names the probe")

		p.EndProbe(8, time.Now())
		require.Equal(t, pace.CircuitHalfOpen, p.Status().Circuit, "not the probe")
		p.EndProbe(7, time.Now())
		require.Equal(t, pace.CircuitOpen, p.Status().Circuit)
		require.Zero(t, p.Status().ProbeJob)
		n, probe = p.Leasable(8, time.Now())
		require.True(t, probe, "probed again at once")
		require.Equal(t, 1, n)

		p.StartProbe(9)
		require.True(t, p.Record(ctx, 9, nil, time.Now(), true))
		p.EndProbe(9, time.Now())
		require.Equal(t, pace.CircuitClosed, p.Status().Circuit, "an answered probe's end changes nothing")
	})
}

// The status tells when a request last started or ended, so that a
// watcher can tell a quiet target from one whose requests are slow.
func TestStatusSaysWhenTheLastRequestWas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pace.New("t", settings(0, 0), pace.Options{})
		require.True(t, p.Status().LastRequest.IsZero(), "no request yet")
		start := time.Now()
		require.NoError(t, p.Do(context.Background(), false, func() error {
			require.Equal(t, start, p.Status().LastRequest, "started")
			require.Equal(t, 1, p.Status().InFlight)
			time.Sleep(3 * time.Second)
			return nil
		}))
		st := p.Status()
		require.Zero(t, st.InFlight)
		require.Equal(t, start.Add(3*time.Second), st.LastRequest, "ended")
		time.Sleep(time.Minute)
		require.Equal(t, start.Add(3*time.Second), p.Status().LastRequest, "quiet since")
	})
}

// Refused credentials pause the target until failure.auth_probe, or at
// once when an operator resumes it.
func TestAuthPauseAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pace.New("t", settings(0, 0), pace.Options{})
		ctx := context.Background()
		closed := p.Record(ctx, 1, &connector.Error{Kind: connector.Auth, Status: 401, Message: "401"}, time.Now(), true)
		require.False(t, closed)
		st := p.Status()
		require.Equal(t, pace.CircuitPaused, st.Circuit)
		require.Equal(t, time.Now().Add(time.Minute), st.ProbeAt, "failure.auth_probe defaults to 1m")
		n, _ := p.Leasable(8, time.Now())
		require.Zero(t, n)

		require.NoError(t, p.Resume(ctx))
		n, probe := p.Leasable(8, time.Now())
		require.Equal(t, 1, n)
		require.True(t, probe, "resume probes at once")
		p.StartProbe(2)
		require.True(t, p.Record(ctx, 2, nil, time.Now(), true))
		require.Equal(t, pace.CircuitClosed, p.Status().Circuit)
	})
}

// Retries draw on a budget: RetryBurst of credit, RetryRatio per success,
// and a slow refill with time, so a failing target is retried less.
func TestRetryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := settings(0, 0)
		s.Failure.RetryBurst, s.Failure.RetryRatio = 2, 0.5
		p := pace.New("t", s, pace.Options{})
		for range 2 {
			ok, _ := p.SpendRetry(time.Now())
			require.True(t, ok)
		}
		ok, wait := p.SpendRetry(time.Now())
		require.False(t, ok)
		require.Equal(t, 500*time.Millisecond, wait)
		time.Sleep(wait)
		ok, _ = p.SpendRetry(time.Now())
		require.True(t, ok)
		p.Record(context.Background(), 1, nil, time.Now(), true)
		p.Record(context.Background(), 1, nil, time.Now(), true)
		ok, _ = p.SpendRetry(time.Now())
		require.True(t, ok, "two successes earn one retry")
	})
}

// Concurrency bounds the calls in flight; waiting for a slot is not a
// failure.
func TestDoBoundsCallsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := settings(0, 0)
		s.Concurrency = 3
		p := pace.New("t", s, pace.Options{})
		var mu sync.Mutex
		var now, peak int
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				err := p.Do(context.Background(), true, func() error {
					mu.Lock()
					now++
					peak = max(peak, now)
					mu.Unlock()
					time.Sleep(time.Second)
					mu.Lock()
					now--
					mu.Unlock()
					return nil
				})
				require.NoError(t, err)
			})
		}
		synctest.Wait()
		require.Equal(t, 3, p.Status().InFlight)
		wg.Wait()
		require.Equal(t, 3, peak)
	})
}

func TestBackoffIsBoundedAndGrows(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		ceil := min(time.Second<<(attempt-1), time.Minute)
		if attempt > 20 {
			ceil = time.Minute
		}
		for range 50 {
			d := pace.Backoff(time.Second, time.Minute, attempt)
			require.True(t, d >= 0 && d < ceil, "attempt %d: %s not in [0, %s)", attempt, d, ceil)
		}
	}
	require.Zero(t, pace.Backoff(0, 0, 3))
}

// A success without a status (an LDAP request: result code 0 is carried
// as no status and no error kind) ends a failure streak as an HTTP 200
// does; an exchange that failed without an answer does not.
func TestObserveSuccessWithoutStatusResetsStreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := settings(0, 0)
		s.Failure.OpenAfter = 3
		p := pace.New("t", s, pace.Options{})
		ctx := context.Background()
		for range 5 {
			p.Observe(ctx, connector.Unavailable, 0, "connection refused", time.Now())
			p.Observe(ctx, connector.Unavailable, 0, "connection refused", time.Now())
			p.Observe(ctx, "", 0, "", time.Now())
		}
		require.Equal(t, pace.CircuitClosed, p.Status().Circuit, "two failures, then a success, five times over")

		// A refusal with a result code is an answer too (LDAP 32: no such object).
		p.Observe(ctx, connector.Unavailable, 0, "connection refused", time.Now())
		p.Observe(ctx, connector.Unavailable, 0, "connection refused", time.Now())
		p.Observe(ctx, connector.NotFound, 32, "no such object", time.Now())
		p.Observe(ctx, connector.Unavailable, 0, "connection refused", time.Now())
		p.Observe(ctx, connector.Unavailable, 0, "connection refused", time.Now())
		require.Equal(t, pace.CircuitClosed, p.Status().Circuit)

		// A failure without an answer and without a kind of its own
		// (unknown) does not end the streak.
		p.Observe(ctx, connector.Unknown, 0, "cut off", time.Now())
		p.Observe(ctx, connector.Unavailable, 0, "connection refused", time.Now())
		require.Equal(t, pace.CircuitOpen, p.Status().Circuit, "three transient failures with only an unanswered exchange between")
	})
}
