package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/store"
)

// failFirst makes the first n creates of each person fail with err, and
// records every create's time.
func failFirst(r *rig, n int, err error, c *calls) {
	r.mem.Fail = func(op string, call memory.Call) error {
		if op != "create" {
			return nil
		}
		if c.note(model.FormatValue(call.Attributes["userName"])) <= n {
			return err
		}
		return nil
	}
}

func requireAllSucceeded(t *testing.T, r *rig, run string) []model.Action {
	t.Helper()
	as := r.actions(run)
	for _, a := range as {
		require.Equal(t, model.ActionSucceeded, a.State, "action %d of %s: %+v", a.ID, a.PersonKey, a.Error)
	}
	require.Zero(t, r.outcomes()["failed"], "no attempt failed its action")
	return as
}

// Retries back off exponentially with full jitter: the wait after
// attempt n is below min(max, base·2^(n-1)) (plus one poll for the
// dispatcher to notice the job is due), grows with n on average, is
// capped, and varies between jobs.
func TestRetriesBackOffCappedAndJittered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people, failures = 30, 5
		poll := 500 * time.Millisecond
		r := newRig(t, rigOpts{
			settings: settingsWith(8, 0, 0, func(f *config.Failure) { f.OpenAfter, f.RetryBurst = 1<<20, 1<<20 }),
			retry:    config.Retry{MaxAttempts: failures + 1, Base: time.Second, Max: 4 * time.Second},
		})
		var c calls
		failFirst(r, failures, down, &c)
		r.start()
		r.creates("r1", people)
		require.Equal(t, model.RunSucceeded, r.finish(10*time.Minute).State)
		requireAllSucceeded(t, r, "r1")

		gaps := make([][]time.Duration, failures) // gaps[n-1]: the wait after attempt n
		for key, at := range c.at {
			require.Len(t, at, failures+1, key)
			for n := 1; n <= failures; n++ {
				gap := at[n].Sub(at[n-1])
				ceil := min(4*time.Second, time.Second<<(n-1))
				require.Less(t, gap, ceil+poll+50*time.Millisecond, "%s: wait after attempt %d", key, n)
				gaps[n-1] = append(gaps[n-1], gap)
			}
		}
		mean := func(ds []time.Duration) time.Duration {
			var sum time.Duration
			for _, d := range ds {
				sum += d
			}
			return sum / time.Duration(len(ds))
		}
		for n := 1; n < 3; n++ {
			require.Less(t, mean(gaps[n-1]), mean(gaps[n]), "waits grow: after attempt %d vs %d", n, n+1)
		}
		slices.Sort(gaps[2])
		require.Greater(t, gaps[2][len(gaps[2])-1]-gaps[2][0], time.Second, "jitter spreads the jobs' retries")
	})
}

// An empty retry budget makes retries wait; it never fails an action and
// never spends an attempt: with max_attempts 2, every action that failed
// once still succeeds at its second attempt, however long it waited for
// budget.
func TestSpentRetryBudgetWaitsAndDoesNotFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people = 20
		r := newRig(t, rigOpts{
			settings: settingsWith(8, 0, 0, func(f *config.Failure) { f.OpenAfter, f.RetryBurst, f.RetryRatio = 1<<20, 2, 0.5 }),
			retry:    config.Retry{MaxAttempts: 2, Base: time.Millisecond, Max: time.Millisecond},
		})
		var c calls
		failFirst(r, 1, down, &c)
		r.start()
		start := time.Now()
		r.creates("r1", people)
		require.Equal(t, model.RunSucceeded, r.finish(10*time.Minute).State)
		for _, a := range requireAllSucceeded(t, r, "r1") {
			require.Equal(t, 2, a.Attempts, a.PersonKey)
		}
		var retries []time.Time
		for _, at := range c.at {
			retries = append(retries, at[1])
		}
		slices.SortFunc(retries, time.Time.Compare)
		// Without a budget the retries go within milliseconds; with two of
		// credit and two a second of refill (plus half a retry per
		// success), the twenty take seconds.
		require.Greater(t, retries[len(retries)-1].Sub(start), 3*time.Second, "retries waited for the budget")
		inFirstSecond := 0
		for _, at := range retries {
			if at.Sub(start) < time.Second {
				inFirstSecond++
			}
		}
		require.LessOrEqual(t, inFirstSecond, 8, "the budget bounds retries in the first second")
	})
}

// The circuit opens after open_after failed requests in a row; while it
// is open only one probe at a time reaches the target, at growing
// intervals; a successful probe closes it and the waiting work flows,
// none of it failed, though max_attempts is 2.
func TestCircuitOpensProbesOneAtATimeAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people = 12
		downFor := 20 * time.Second
		var c *counted
		r := newRig(t, rigOpts{
			settings: settingsWith(2, 0, 0, func(f *config.Failure) {
				f.OpenAfter, f.ProbeAfter, f.ProbeMax, f.RetryBurst = 3, 2*time.Second, 8*time.Second, 1<<20
			}),
			retry: config.Retry{MaxAttempts: 2, Base: 100 * time.Millisecond, Max: time.Second},
			conn: func(m *memory.Target) connector.Connector {
				c = &counted{Target: m}
				return c
			},
		})
		c.circuit = func() string { return r.target.Pace.Status().Circuit }
		start := time.Now()
		// What the engine's status shows while a probe's create is in
		// flight (the stall watch of 'enforce --wait' reads it).
		var probes, shown atomic.Int32
		r.mem.Fail = func(op string, _ memory.Call) error {
			if st := r.eng.Status()[0]; op == "create" && st.Circuit == pace.CircuitHalfOpen {
				probes.Add(1)
				if st.ProbeJob != 0 && st.InFlight == 1 && time.Since(st.LastRequest) == 100*time.Millisecond {
					shown.Add(1)
				}
			}
			if op == "create" && time.Since(start) < downFor {
				return down
			}
			return nil
		}
		r.start()
		r.creates("r1", people)
		time.Sleep(5 * time.Second)
		require.Equal(t, pace.CircuitOpen, r.target.Pace.Status().Circuit, "opened after 3 failures")
		run := r.finish(5 * time.Minute)
		require.Equal(t, model.RunSucceeded, run.State)
		requireAllSucceeded(t, r, "r1")
		require.Equal(t, pace.CircuitClosed, r.target.Pace.Status().Circuit)

		c.mu.Lock()
		defer c.mu.Unlock()
		// Once open, only the first attempts already started went on
		// (one per job at most); then the probes, one at a time, at 2, 4,
		// 8 and 8 s intervals: the last one, after the 20 s down, closed it.
		require.LessOrEqual(t, c.byState[pace.CircuitOpen], people, "no retries while open")
		require.Equal(t, 1, c.mostHalfOpen, "one probe at a time")
		require.GreaterOrEqual(t, c.byState[pace.CircuitHalfOpen], 3)
		require.LessOrEqual(t, c.byState[pace.CircuitHalfOpen], 6)
		require.Less(t, time.Since(start), downFor+8*time.Second+5*time.Second, "the probe after recovery closes it and the rest flows")
		require.Positive(t, probes.Load())
		require.Equal(t, probes.Load(), shown.Load(), "each probe's request showed its job, in flight, started 100 ms before")
	})
}

// counted counts the creates sent in each circuit state, and the most
// in flight at once while the circuit is half-open. Each takes 100 ms,
// so that calls could overlap.
type counted struct {
	*memory.Target
	circuit func() string

	mu           sync.Mutex
	byState      map[string]int
	inFlight     int
	mostHalfOpen int
}

func (c *counted) Create(ctx context.Context, req connector.CreateRequest) (connector.Account, error) {
	st := c.circuit()
	c.mu.Lock()
	if c.byState == nil {
		c.byState = map[string]int{}
	}
	c.byState[st]++
	c.inFlight++
	if st == pace.CircuitHalfOpen {
		c.mostHalfOpen = max(c.mostHalfOpen, c.inFlight)
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	time.Sleep(100 * time.Millisecond)
	return c.Target.Create(ctx, req)
}

// After 429s the rate halves, and once they stop it climbs back to the
// configured rate within seconds; no action fails, and waiting for the
// rate never counts as an attempt. The figure goes to BENCHMARKS.md.
func TestAdaptiveRateRecoversAfter429s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const perSecond = 20.0
		limitedFor := 5 * time.Second
		r := newRig(t, rigOpts{settings: settingsWith(4, perSecond, int(perSecond), nil)})
		start := time.Now()
		var last atomic.Int64 // fake ns since start of the last 429
		r.mem.Fail = func(op string, _ memory.Call) error {
			if op == "create" && time.Since(start) < limitedFor {
				last.Store(int64(time.Since(start)))
				return &connector.Error{Kind: connector.RateLimited, Status: 429, Message: "429 Too Many Requests", RetryAfter: time.Second}
			}
			return nil
		}
		r.start()
		r.creates("r1", 150)
		lowest := perSecond
		var backAt time.Duration
		for range 300 { // 30 s, by 100 ms
			time.Sleep(100 * time.Millisecond)
			rate := r.target.Pace.Status().RateLimit
			lowest = min(lowest, rate)
			if time.Since(start) > limitedFor && rate >= 0.9*perSecond {
				backAt = time.Since(start)
				break
			}
		}
		require.Less(t, lowest, perSecond/2, "the 429s slowed the rate down")
		require.NotZero(t, backAt, "the rate came back")
		recovery := backAt - time.Duration(last.Load())
		t.Logf("rate back to >= 90%% of %.0f/s %s after the last 429 (fake time)", perSecond, recovery)
		require.LessOrEqual(t, recovery, 10*time.Second)
		require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
		requireAllSucceeded(t, r, "r1")
	})
}

// gated is a connector that passes its own requests through the gate in
// its context, then gives each request a timeout of its own, as httpx
// does: a request's timeout starts when it is sent.
type gated struct {
	*memory.Target
	timeout time.Duration
	took    time.Duration
}

func (g gated) Capabilities() connector.Capabilities {
	c := g.Target.Capabilities()
	c.GatesRequests = true
	return c
}

func (g gated) Create(ctx context.Context, req connector.CreateRequest) (connector.Account, error) {
	if err := connector.GateFrom(ctx)(ctx); err != nil {
		return connector.Account{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	select {
	case <-rctx.Done():
		return connector.Account{}, &connector.Error{Kind: connector.Timeout, Message: fmt.Sprintf("no answer within %s", g.timeout), Err: rctx.Err()}
	case <-time.After(g.took):
	}
	return g.Target.Create(rctx, req)
}

// Waiting for accord's own pacing (the rate limit, a hold after a 429,
// the request slots) never spends an attempt nor fails an action, even
// when the wait is many times the 2 s request timeout (issue 12).
func TestPacingNeverSpendsAttemptsNorFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people = 30
		r := newRig(t, rigOpts{
			settings: settingsWith(4, 2, 1, nil),
			conn: func(m *memory.Target) connector.Connector {
				return gated{Target: m, timeout: 2 * time.Second, took: 50 * time.Millisecond}
			},
		})
		var n atomic.Int32
		r.mem.Fail = func(op string, _ memory.Call) error {
			if op == "create" && n.Add(1) <= 2 {
				return &connector.Error{Kind: connector.RateLimited, Status: 429, Message: "429", RetryAfter: 5 * time.Second}
			}
			return nil
		}
		start := time.Now()
		r.start()
		r.creates("r1", people)
		require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
		require.Greater(t, time.Since(start), 15*time.Second, "30 creates at 2/s: most waited far beyond 2 s")
		for _, a := range requireAllSucceeded(t, r, "r1") {
			// The two answered 429 were retried, and a 429 is the target
			// asking to wait: it spends no attempt either (spendsAttempt).
			require.Equal(t, 1, a.Attempts, a.PersonKey)
		}
		require.Equal(t, 2, r.outcomes()["retry"], "only the two answered 429 were retried: no attempt ended for accord's own limits")
	})
}

// slowCreate makes creates take a while (after the gate).
type slowCreate struct {
	*memory.Target
	took time.Duration
}

func (s slowCreate) Create(ctx context.Context, req connector.CreateRequest) (connector.Account, error) {
	time.Sleep(s.took)
	return s.Target.Create(ctx, req)
}

// noHeartbeat is a store whose lease extensions fail.
type noHeartbeat struct{ storeT }

func (noHeartbeat) ExtendLeases(context.Context, string, time.Time) error {
	return errors.New("injected: extend leases failed")
}

// A job is sent for only while its lease is surely this engine's. With
// heartbeats, a job outlives its lease many times over and runs through.
// Without them, the next action of a job whose lease may pass is not
// sent: the job is given back, and its next lease finishes it, with the
// abandoned attempt in the audit and one request only for that action.
func TestLeaseHeartbeatAndAbandon(t *testing.T) {
	job := func(key string) model.Job {
		return model.Job{PersonKey: key, Target: "crm", Actions: []model.Action{
			{Seq: 1, Op: model.OpCreate, Attributes: model.Attributes{"userName": key}},
			{Seq: 2, Op: model.OpUpdate, Attributes: model.Attributes{"title": "Engineer"}},
		}}
	}
	slow := func(m *memory.Target) connector.Connector {
		return slowCreate{Target: m, took: 2500 * time.Millisecond}
	}
	updates := func(r *rig) int {
		n := 0
		for _, c := range r.mem.Calls() {
			if c.Op == "update" {
				n++
			}
		}
		return n
	}
	t.Run("heartbeat", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, rigOpts{lease: 3 * time.Second, conn: func(m *memory.Target) connector.Connector {
				return slowCreate{Target: m, took: 20 * time.Second}
			}})
			r.start()
			r.queue("r1", []model.Job{job("E1")})
			require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
			for _, a := range requireAllSucceeded(t, r, "r1") {
				require.Equal(t, 1, a.Attempts, "a create of 20 s under a 3 s lease, kept by heartbeats")
			}
			require.Equal(t, 1, updates(r))
		})
	})
	t.Run("no heartbeat", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// No read-back: the update is the request after the create.
			noVerify := settingsWith(4, 0, 0, func(f *config.Failure) { f.Verify = new(bool) })
			r := newRig(t, rigOpts{lease: 3 * time.Second, conn: slow, settings: noVerify,
				wrap: func(s storeT) storeT { return noHeartbeat{s} }})
			r.start()
			r.queue("r1", []model.Job{job("E1")})
			require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
			as := requireAllSucceeded(t, r, "r1")
			slices.SortFunc(as, func(a, b model.Action) int { return a.Seq - b.Seq })
			require.Equal(t, 1, as[0].Attempts)
			require.Equal(t, 2, as[1].Attempts, "the update's first attempt was abandoned")
			require.Equal(t, 1, updates(r), "and not sent")
			recs, err := r.st.ListAudit(context.Background(), auditQuery(as[1].ID))
			require.NoError(t, err)
			outcomes := []string{}
			for _, rec := range recs {
				if rec.Outcome != "" {
					outcomes = append(outcomes, rec.Outcome)
				}
			}
			require.Equal(t, []string{"abandoned", "succeeded"}, outcomes)
		})
	})
	t.Run("taken over", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The create outlives the lease; meanwhile another owner
			// takes the job. This engine's outcome and its give-back are
			// refused (fenced): the job stays the other owner's, and
			// nothing more is sent for it from here.
			// A long poll: this engine would otherwise lease its own
			// expired job again before B does.
			r := newRig(t, rigOpts{lease: 3 * time.Second, wrap: func(s storeT) storeT { return noHeartbeat{s} },
				conn:   func(m *memory.Target) connector.Connector { return slowCreate{Target: m, took: 4 * time.Second} },
				engine: func(o *Options) { o.Poll = 10 * time.Second }})
			r.start()
			start := time.Now()
			r.queue("r1", []model.Job{job("E1")})
			time.Sleep(3500*time.Millisecond - time.Since(start))
			now := time.Now()
			theirs, err := r.st.LeaseJobs(context.Background(), store.LeaseRequest{Owner: "B", Max: 1, Now: now, Until: now.Add(time.Minute)})
			require.NoError(t, err)
			require.Len(t, theirs, 1, "the lease ran out: B takes the job")
			time.Sleep(5 * time.Second)
			synctest.Wait()
			now = time.Now()
			again, err := r.st.LeaseJobs(context.Background(), store.LeaseRequest{Owner: "C", Max: 1, Now: now, Until: now.Add(time.Minute)})
			require.NoError(t, err)
			require.Empty(t, again, "the job is still B's: this engine's give-back was refused")
			require.Zero(t, updates(r), "nothing sent for a job that is B's")
			acts := r.actions("r1")
			for _, a := range acts {
				require.NotEqual(t, model.ActionSucceeded, a.State, "this engine's outcome was refused")
			}
		})
	})
}

// Refused credentials pause the target: its actions wait, probed once per
// failure.auth_probe, and none fails however long it lasts, though
// max_attempts is 3; a resume after the fix probes at once, and the rest
// follows at once.
func TestRefusedCredentialsPauseAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people = 6
		r := newRig(t, rigOpts{
			settings: settingsWith(2, 0, 0, func(f *config.Failure) { f.AuthProbe = time.Minute }),
			retry:    config.Retry{MaxAttempts: 3, Base: time.Second, Max: 10 * time.Second},
		})
		var fixed atomic.Bool
		var refused atomic.Int32
		r.mem.Fail = func(op string, _ memory.Call) error {
			if !fixed.Load() {
				refused.Add(1)
				return &connector.Error{Kind: connector.Auth, Status: 401, Message: "401 Unauthorized"}
			}
			return nil
		}
		r.start()
		r.creates("r1", people)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		require.Equal(t, pace.CircuitPaused, r.target.Pace.Status().Circuit)
		require.Zero(t, r.outcomes()["failed"], "nothing failed in 10 minutes of refusals")
		require.LessOrEqual(t, int(refused.Load()), people+11, "the first lease's requests, then one probe a minute")
		for _, a := range r.actions("r1") {
			require.False(t, a.State.Final(), "action %d: %s", a.ID, a.State)
		}

		// The operator fixes the token and resumes the target, as the API
		// does: a request in the store (for every node), then this engine.
		fixed.Store(true)
		resumed := time.Now()
		require.NoError(t, r.st.(resumer).RequestResume(context.Background(), "crm", time.Now()))
		require.NoError(t, r.eng.Resume(context.Background(), "crm"))
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		require.Less(t, time.Since(resumed), 5*time.Second, "a resume probes at once")
		requireAllSucceeded(t, r, "r1")
	})
}

// resumer is how the API and CLI ask every node to resume a target.
type resumer interface {
	RequestResume(ctx context.Context, target string, now time.Time) error
}

// A target that refuses accord's credentials, or is down with its circuit
// open, for a long time does not burn the actions' attempts: each probe
// while it is paused is recorded as a probe, not counted, and attempts
// never exceed max_attempts. When the target is back every action
// succeeds within its max_attempts. (Before, each probe counted: after
// 30 minutes of refusals an action showed attempts 31 of 3.)
func TestProbesWhilePausedDoNotSpendAttempts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault *connector.Error
	}{
		{"credentials refused", &connector.Error{Kind: connector.Auth, Status: 401, Message: "401 Unauthorized"}},
		{"target down", down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const people, maxAttempts = 4, 3
				r := newRig(t, rigOpts{
					settings: settingsWith(2, 0, 0, func(f *config.Failure) {
						f.AuthProbe, f.OpenAfter, f.ProbeMax = time.Minute, 2, time.Minute
					}),
					retry: config.Retry{MaxAttempts: maxAttempts, Base: time.Second, Max: 10 * time.Second},
				})
				var fixed atomic.Bool
				var refused atomic.Int32
				r.mem.Fail = func(op string, _ memory.Call) error {
					if !fixed.Load() {
						refused.Add(1)
						return tc.fault
					}
					return nil
				}
				r.start()
				r.creates("r1", people)
				time.Sleep(30 * time.Minute)
				synctest.Wait()
				require.Greater(t, int(refused.Load()), 20, "the target was probed all along")
				require.Zero(t, r.outcomes()["failed"], "nothing failed while the target was away")
				for _, a := range r.actions("r1") {
					require.False(t, a.State.Final(), "action %d: %s", a.ID, a.State)
					require.LessOrEqual(t, a.Attempts, maxAttempts, "action %d of %s: attempts %d of %d", a.ID, a.PersonKey, a.Attempts, maxAttempts)
				}
				require.Greater(t, r.outcomes()[OutcomeProbe], 20, "the probes are recorded as probes")
				probes, err := r.st.ListAudit(context.Background(), store.AuditQuery{Outcome: OutcomeProbe})
				require.NoError(t, err)
				require.NotEmpty(t, probes, "the audit names the probes")
				require.Contains(t, probes[0].Message, "not counted")

				fixed.Store(true)
				require.NoError(t, r.eng.Resume(context.Background(), "crm"))
				require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
				for _, a := range requireAllSucceeded(t, r, "r1") {
					require.LessOrEqual(t, a.Attempts, maxAttempts, "action %d of %s", a.ID, a.PersonKey)
					require.GreaterOrEqual(t, a.Attempts, 1, "the attempt that succeeded counts")
					// The audit accounts for every attempt: each start, less
					// those its end says did not count, is the action's count.
					recs, err := r.st.ListAudit(context.Background(), auditQuery(a.ID))
					require.NoError(t, err)
					counted := 0
					for _, rec := range recs {
						if rec.Kind == audit.KindAttemptEnd && Counted(rec) {
							counted++
						}
					}
					require.Equal(t, a.Attempts, counted, "action %d of %s", a.ID, a.PersonKey)
				}
			})
		})
	}
}

// A not_found within failure.settle after accord wrote the account is
// retried, but each such retry counts: at max_attempts the action
// concludes (the account is gone) instead of retrying past it for the
// rest of the window.
func TestSettleRetriesStopAtMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxAttempts = 2
		r := newRig(t, rigOpts{
			settings: settingsWith(2, 0, 0, func(f *config.Failure) { f.Settle = 10 * time.Minute }),
			retry:    config.Retry{MaxAttempts: maxAttempts, Base: time.Second, Max: 2 * time.Second},
		})
		r.start()
		r.creates("r1", 1)
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		accts := r.mem.Accounts()
		require.Len(t, accts, 1)
		r.mem.Remove(accts[0].ID) // deleted behind accord's back, just after accord wrote it

		r.queue("r2", []model.Job{{PersonKey: "r1-000", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpUpdate,
			Attributes: model.Attributes{"title": "Rep"}}}}})
		require.Equal(t, model.RunFailed, r.finish(5*time.Minute).State)
		as := r.actions("r2")
		require.Len(t, as, 1)
		require.Equal(t, model.ActionFailed, as[0].State)
		require.Equal(t, maxAttempts, as[0].Attempts, "attempts %d of %d", as[0].Attempts, maxAttempts)
	})
}
