// Package pace is how fast and how much accord asks of one target: the
// gate every request passes (pauses the target asked for, the rate
// limit), holds an answer puts on all requests (429, a spent quota),
// the adaptive rate, the request slots of the concurrency limit, the
// circuit breaker and the retry budget. The engine and reconciliation
// share one Target per target, so one limit covers all traffic.
//
// Waiting here is never a failure: the gate and the slots only return
// the caller's context error (shutdown), never a deadline of their own,
// so a request's timeout starts when it is sent (see httpx) and no
// action spends an attempt on accord's own limits.
//
// With a Shared state (PostgreSQL), the rate limit, the request slots
// and the pauses are cluster-wide; without one (SQLite: one daemon per
// store file) they are in-process.
package pace

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/wait"
)

// Circuit states of a target.
const (
	CircuitClosed   = "closed"    // the target answers: work flows
	CircuitOpen     = "open"      // the target is down: its actions wait
	CircuitHalfOpen = "half_open" // one probe action is finding out whether it is back
	CircuitPaused   = "paused"    // credentials refused: probed rarely, alert raised
)

// Settings are a target's limits.
type Settings struct {
	// Concurrency bounds the calls in flight (cluster-wide with Shared).
	Concurrency int
	// PerSecond and Burst are the configured rate limit; PerSecond 0 is
	// none (until the target answers 429, when an adaptive one is set).
	PerSecond float64
	Burst     int
	Failure   config.Failure
}

// SettingsOf reads a target's limits from its config, with defaults.
func SettingsOf(t *config.Target) Settings {
	s := Settings{Concurrency: max(1, t.Concurrency), PerSecond: t.RateLimit.PerSecond, Burst: t.RateLimit.Burst, Failure: t.Failure}
	if s.Failure.OpenAfter == 0 {
		s.Failure = config.Failure{OpenAfter: 10, ProbeAfter: 2 * time.Second, ProbeMax: time.Minute, AuthProbe: time.Minute,
			RetryRatio: 0.5, RetryBurst: 20, Verify: t.Failure.Verify, Settle: t.Failure.Settle}
	}
	if s.PerSecond > 0 && s.Burst <= 0 {
		s.Burst = max(1, int(s.PerSecond))
	}
	return s
}

// Options are what a Target works with beyond its limits.
type Options struct {
	Notifier notify.Notifier
	// Shared, if set, makes the limits cluster-wide.
	Shared Shared
	// Holder names this process in the shared request slots.
	Holder string
}

// Target paces one target. It is safe for concurrent use.
type Target struct {
	name   string
	set    Settings
	opts   Options
	max    rate.Limit // the configured rate (Inf when none)
	wake   chan struct{}
	calls  chan struct{} // in-process request slots
	shared *sharedPace

	mu          sync.Mutex
	limiter     *rate.Limiter // nil: unlimited
	pauseUntil  time.Time     // Retry-After, a spent window's reset
	pauseWhy    string
	recheckedAt time.Time // when a long pause was last compared with the shared one
	circuit     string
	consecutive int // transient failures in a row
	probeAt     time.Time
	probeWait   time.Duration
	probeJob    int64
	reason      string
	tokens      float64 // retry budget
	tokensAt    time.Time
	slowedAt    time.Time  // the last halving
	slowRate    rate.Limit // the rate set then: the recovery starts from it
	limitedAt   time.Time  // the last 429; zero once recovered
	floor       rate.Limit
	recent      []time.Time
	inFlight    int
	lastRequest time.Time // when a request last started or ended
}

// New builds the pacing of a target.
func New(name string, s Settings, o Options) *Target {
	if s.Concurrency <= 0 {
		s.Concurrency = 1
	}
	if s.Failure.OpenAfter == 0 {
		s = SettingsOf(&config.Target{Name: name, Concurrency: s.Concurrency, RateLimit: config.RateLimit{PerSecond: s.PerSecond, Burst: s.Burst}})
	}
	t := &Target{name: name, set: s, opts: o, max: rate.Inf, circuit: CircuitClosed,
		tokens: float64(s.Failure.RetryBurst), wake: make(chan struct{}, 1), calls: make(chan struct{}, s.Concurrency)}
	if s.PerSecond > 0 {
		t.max = rate.Limit(s.PerSecond)
		t.limiter = rate.NewLimiter(t.max, max(1, s.Burst))
	}
	if o.Shared != nil {
		t.shared = &sharedPace{st: o.Shared, holder: o.Holder}
	}
	return t
}

// Name is the target's name.
func (t *Target) Name() string { return t.name }

// Settings are the target's limits.
func (t *Target) Settings() Settings { return t.set }

// Wake is signalled when work for the target may move again (a circuit
// closed, a resume).
func (t *Target) Wake() chan struct{} { return t.wake }

func (t *Target) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Pacer returns the gate each request passes and the hold with which an
// answer pauses them all, for connector.WithGate and WithHold.
func (t *Target) Pacer() (connector.Gate, connector.Hold) { return t.Gate, t.Hold }

// With attaches the target's gate and hold to ctx.
func (t *Target) With(ctx context.Context) context.Context {
	return connector.WithHold(connector.WithGate(ctx, t.Gate), t.Hold)
}

// Hold pauses every request to the target until the given time (a
// Retry-After, or the reset of a rate-limit window an answer said was
// spent), here and, with Shared, on every node.
func (t *Target) Hold(until time.Time) {
	t.hold(until, "the target asked to wait (429 or a spent quota)")
}

func (t *Target) hold(until time.Time, why string) {
	t.mu.Lock()
	later := until.After(t.pauseUntil)
	if later {
		t.pauseUntil, t.pauseWhy = until, why
	}
	t.mu.Unlock()
	if later && t.shared != nil {
		t.shared.hold(t.name, until, why)
	}
}

// Gate waits until a request to the target is allowed: after any pause
// the target asked for, and within the rate limit. It returns only the
// context's error: waiting is never a failure of the request.
func (t *Target) Gate(ctx context.Context) error {
	for {
		until := t.pausedUntil()
		if t.shared != nil && time.Until(until) > sharedRecheck {
			// A long pause may be lifted on another node (a resume): look
			// at the shared one now and then.
			if err := wait.For(ctx, sharedRecheck); err != nil {
				return err
			}
			t.recheckShared(ctx, until)
			continue
		}
		if err := wait.Until(ctx, until); err != nil {
			return err
		}
		now := time.Now()
		t.mu.Lock()
		if now.Before(t.pauseUntil) {
			t.mu.Unlock()
			continue // a hold arrived meanwhile
		}
		t.recoverLocked(now)
		lim := t.limiter
		t.recent = append(t.recent, now)
		if len(t.recent) > 512 {
			t.recent = t.recent[256:]
		}
		t.mu.Unlock()
		if lim != nil {
			r := lim.ReserveN(now, 1)
			if d := r.DelayFrom(now); d > 0 {
				if err := wait.Until(ctx, now.Add(d)); err != nil {
					r.CancelAt(time.Now())
					return err
				}
			}
		}
		if t.shared == nil {
			return nil
		}
		pause, held, err := t.shared.take(ctx, t.name, t.currentRate(), t.burst())
		switch {
		case err != nil:
			return err
		case !held.IsZero():
			t.mu.Lock()
			if held.After(t.pauseUntil) {
				t.pauseUntil, t.pauseWhy = held, "held by another node"
			}
			t.mu.Unlock()
		case pause > 0:
			if err := wait.For(ctx, pause); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// sharedRecheck is how often a node paused for longer looks whether the
// pause was lifted cluster-wide.
const sharedRecheck = time.Second

// recheckShared shortens the local pause (until) to the shared one.
func (t *Target) recheckShared(ctx context.Context, until time.Time) {
	held, why, err := t.shared.st.Held(ctx, t.name, time.Now())
	if err != nil || !held.Before(until) {
		return
	}
	t.mu.Lock()
	if t.pauseUntil.Equal(until) {
		t.pauseUntil, t.pauseWhy = held, why
	}
	t.mu.Unlock()
}

func (t *Target) pausedUntil() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pauseUntil
}

func (t *Target) burst() int {
	if t.set.Burst > 0 {
		return t.set.Burst
	}
	return max(1, t.set.Concurrency)
}

// currentRate is the rate now, Inf when unlimited.
func (t *Target) currentRate() rate.Limit {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.limiter == nil {
		return rate.Inf
	}
	return t.limiter.Limit()
}

// Do makes one call to the target within the concurrency limit (and,
// for a connector that does not gate its own requests, through the
// gate). Waiting for a slot is not a failure: only ctx ends it.
func (t *Target) Do(ctx context.Context, gates bool, f func() error) error {
	if !gates {
		if err := t.Gate(ctx); err != nil {
			return err
		}
	}
	select {
	case t.calls <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-t.calls }()
	if t.shared != nil {
		release, err := t.shared.acquire(ctx, t.name, t.set.Concurrency)
		if err != nil {
			return err
		}
		defer release()
	}
	t.mu.Lock()
	t.inFlight++
	t.lastRequest = time.Now()
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.inFlight--
		t.lastRequest = time.Now()
		t.mu.Unlock()
	}()
	return f()
}

// Leasable returns how many jobs a dispatcher may lease now, and whether
// the next lease is a probe of an open circuit.
func (t *Target) Leasable(free int, now time.Time) (n int, probe bool) {
	if t.shared != nil {
		t.mu.Lock()
		until, look := t.pauseUntil, now.Before(t.pauseUntil) && now.Sub(t.recheckedAt) >= sharedRecheck
		if look {
			t.recheckedAt = now
		}
		t.mu.Unlock()
		if look {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			t.recheckShared(ctx, until)
			cancel()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.circuit {
	case CircuitClosed:
		if now.Before(t.pauseUntil) {
			return 0, false
		}
		return free, false
	case CircuitOpen, CircuitPaused:
		if !now.Before(t.probeAt) && free > 0 {
			return 1, true
		}
	}
	return 0, false
}

// StartProbe marks job as the probe of a half-open circuit.
func (t *Target) StartProbe(job int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.circuit == CircuitOpen || t.circuit == CircuitPaused {
		t.circuit, t.probeJob = CircuitHalfOpen, job
	}
}

// EndProbe is told that job has returned. If job was the probe and its
// answer never reached Record (its attempt ended before a request: a lease
// lost, a batch that gave it back, a skip), the circuit would stay half
// open with no probe running, and nothing would be leased again; it goes
// back to open, to be probed again at once.
func (t *Target) EndProbe(job int64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.circuit == CircuitHalfOpen && t.probeJob == job {
		t.circuit, t.probeJob, t.probeAt = CircuitOpen, 0, now
	}
}

// ProbeJob is the job probing the half-open circuit, 0 when the circuit
// is not half open.
func (t *Target) ProbeJob() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.probeJobLocked()
}

func (t *Target) probeJobLocked() int64 {
	if t.circuit == CircuitHalfOpen {
		return t.probeJob
	}
	return 0
}

// NextWake is when a dispatcher with nothing leasable should look again.
func (t *Target) NextWake() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.circuit == CircuitOpen || t.circuit == CircuitPaused {
		return t.probeAt
	}
	return t.pauseUntil
}

// Allow reports whether the job may attempt its next action now: while a
// circuit is not closed only the probe goes through, and the others wait
// in the queue instead of hammering a target that is down.
func (t *Target) Allow(job int64) (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.circuit {
	case CircuitClosed:
		return true, time.Time{}
	case CircuitHalfOpen:
		return job == t.probeJob, t.probeAt
	}
	return false, t.probeAt
}

// retryRefill is how many retries the budget regains per second on its
// own, so that a target with no successes at all is still retried,
// slowly, instead of never.
const retryRefill = 2.0

// SpendRetry takes one retry from the budget. When it is empty, the retry
// must wait (for the returned duration): the target fails too often for
// retries to be worth more load. Successes earn retries (RetryRatio each)
// and time earns a few.
func (t *Target) SpendRetry(now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.circuit == CircuitHalfOpen {
		return true, 0 // the probe is not a retry storm
	}
	if !t.tokensAt.IsZero() {
		t.tokens = min(t.tokens+now.Sub(t.tokensAt).Seconds()*retryRefill, float64(t.set.Failure.RetryBurst))
	}
	t.tokensAt = now
	if t.tokens >= 1 {
		t.tokens--
		return true, 0
	}
	return false, time.Duration((1 - t.tokens) / retryRefill * float64(time.Second))
}

// Observe learns from one request to the target (an audited exchange):
// the circuit counts consecutive failed requests, not failed attempts, as
// one attempt may make several requests (a write and its read-back), and
// a partly failing target must not look down.
func (t *Target) Observe(ctx context.Context, kind connector.Kind, status int, message string, now time.Time) {
	t.mu.Lock()
	var ev *notify.Event
	switch kind {
	case connector.Unavailable, connector.Timeout:
		if message == "" {
			// An exchange's record often carries no message: the kind
			// and status are then the target's answer, for the reason.
			message = string(kind)
			if status > 0 {
				message = fmt.Sprintf("%s (HTTP %d)", kind, status)
			}
		}
		t.failedLocked(message, now, &ev)
	case connector.RateLimited:
		t.consecutive = 0
	default:
		// An answer ends the streak: an HTTP status, or no failure at all
		// (an LDAP success carries no status; its result code is 0).
		if status > 0 || kind == "" {
			t.consecutive = 0
		}
	}
	t.mu.Unlock()
	t.notify(ctx, ev)
}

func (t *Target) notify(ctx context.Context, ev *notify.Event) {
	if ev != nil && t.opts.Notifier != nil {
		t.opts.Notifier.Notify(ctx, *ev)
	}
}

// failedLocked counts one transient failure and opens the circuit when
// there have been enough in a row. Called with t.mu held.
func (t *Target) failedLocked(why string, now time.Time, ev **notify.Event) {
	t.consecutive++
	if t.circuit == CircuitClosed && t.consecutive >= t.set.Failure.OpenAfter {
		t.probeWait = t.set.Failure.ProbeAfter
		t.circuit, t.probeAt = CircuitOpen, now.Add(t.probeWait)
		t.reason = fmt.Sprintf("%d consecutive failures, last: %s", t.consecutive, why)
		*ev = &notify.Event{Kind: notify.TargetDown, Time: now, Target: t.name,
			Message: fmt.Sprintf("target %s is down (%s); its actions wait and resume when it answers", t.name, t.reason)}
		t.shareCircuitLocked()
	}
}

// shareCircuitLocked tells the other nodes that the target is not to be
// sent work before the probe (a hold until then).
func (t *Target) shareCircuitLocked() {
	if t.shared != nil {
		t.shared.holdAsync(t.name, t.probeAt, "circuit "+t.circuit+": "+t.reason)
	}
}

// Record learns from one attempt's outcome and returns whether the
// circuit is now closed (work flows) — when it is not, a failed action
// waits for the target instead of using up its attempts. requests says
// whether the attempt's requests were observed one by one; connectors
// that do not audit exchanges are counted per attempt instead.
func (t *Target) Record(ctx context.Context, job int64, err *connector.Error, now time.Time, requests bool) bool {
	t.mu.Lock()
	var ev *notify.Event
	kind := connector.Kind("")
	if err != nil {
		kind = err.Kind
	}
	probe := t.circuit == CircuitHalfOpen && job == t.probeJob
	switch kind {
	case connector.Unavailable, connector.Timeout:
		if probe {
			t.probeWait = min(t.probeWait*2, t.set.Failure.ProbeMax)
			t.circuit, t.probeAt, t.probeJob = CircuitOpen, now.Add(t.probeWait), 0
			t.shareCircuitLocked()
		} else if !requests {
			t.failedLocked(err.Error(), now, &ev)
		}
	case connector.Auth:
		if t.circuit != CircuitPaused {
			was := t.circuit
			t.circuit, t.probeAt, t.probeJob = CircuitPaused, now.Add(t.set.Failure.AuthProbe), 0
			t.reason = "credentials refused after a refresh: " + err.Error()
			msg := fmt.Sprintf("target %s refuses accord's credentials; its queue is paused until they work or `accord targets resume %s` (%s)", t.name, t.name, err.Error())
			if errors.Is(err, connector.ErrSessionOpen) {
				// The credentials are right: the target holds another session.
				t.reason = "login refused, a session is already open: " + err.Error()
				msg = fmt.Sprintf("target %s already holds a session for accord's user and refuses another login; "+
					"its queue is paused and login is tried again every %s, or at once with `accord targets resume %s` (%s)",
					t.name, t.set.Failure.AuthProbe, t.name, err.Error())
			}
			if was != CircuitHalfOpen || t.probeWait == 0 {
				ev = &notify.Event{Kind: notify.TargetAuthFailed, Time: now, Target: t.name, Message: msg}
			}
			t.probeWait = t.set.Failure.AuthProbe
		} else {
			t.probeAt = now.Add(t.set.Failure.AuthProbe)
		}
		t.shareCircuitLocked()
	case connector.RateLimited:
		// The target is alive: this is not a failure towards the circuit,
		// but a request to slow down.
		t.consecutive = 0
		t.slowDownLocked(now)
		if probe {
			t.closeLocked(now, &ev)
		}
	default:
		// Success, or an answer about this request alone (validation,
		// not found, conflict...): the target is up.
		t.consecutive = 0
		if probe {
			t.closeLocked(now, &ev)
		}
		if err == nil {
			t.tokens = min(t.tokens+t.set.Failure.RetryRatio, float64(t.set.Failure.RetryBurst))
		}
	}
	closed := t.circuit == CircuitClosed
	t.mu.Unlock()
	t.notify(ctx, ev)
	return closed
}

func (t *Target) closeLocked(now time.Time, ev **notify.Event) {
	was := t.circuit
	t.circuit, t.probeJob, t.reason, t.probeWait = CircuitClosed, 0, "", 0
	msg := fmt.Sprintf("target %s answers again; its queue drains within its rate limit", t.name)
	if was == CircuitPaused {
		msg = fmt.Sprintf("target %s accepts accord's credentials again; its queue resumes", t.name)
	}
	*ev = &notify.Event{Kind: notify.TargetBack, Time: now, Target: t.name, Message: msg}
	if t.shared != nil {
		t.shared.clear(t.name)
	}
	t.signal()
}

// Resume ends every pause of the target now, here and cluster-wide: a
// paused or open circuit is probed at once by the next action (it closes
// when the probe succeeds), and a hold is lifted. It is what an operator
// does after fixing a token, instead of waiting for failure.auth_probe.
func (t *Target) Resume(ctx context.Context) error {
	now := time.Now()
	t.mu.Lock()
	t.pauseUntil, t.pauseWhy = time.Time{}, ""
	if t.circuit == CircuitOpen || t.circuit == CircuitPaused {
		t.probeAt = now
	}
	t.mu.Unlock()
	t.signal()
	if t.shared != nil {
		return t.shared.st.Resume(ctx, t.name)
	}
	return nil
}

// slowDownLocked halves the request rate after a 429 (multiplicative
// decrease); with no configured limit, it starts from the rate observed
// in the last second. Several workers see the same burst of 429s: the
// rate is halved at most once per second, as the burst is one signal.
// Retry-After is the target's own instruction and is always obeyed (see
// Hold); the rate is the second line of defence, so it never drops
// below an eighth of where it started.
func (t *Target) slowDownLocked(now time.Time) {
	t.recoverLocked(now)
	t.limitedAt = now
	if now.Sub(t.slowedAt) < time.Second {
		return
	}
	cur := rate.Inf
	if t.limiter != nil {
		cur = t.limiter.Limit()
	}
	if cur == rate.Inf {
		cur = rate.Limit(t.observedRateLocked(now))
	}
	if t.floor == 0 || cur > t.floor*8 {
		t.floor = max(cur/8, 0.5)
	}
	next := max(cur/2, t.floor)
	t.slowedAt, t.slowRate = now, next
	if t.limiter == nil {
		t.limiter = rate.NewLimiter(next, t.burst())
		return
	}
	t.limiter.SetLimitAt(now, next)
}

// The adaptive rate climbs back with time, not with successes: at a
// slowed rate successes are rare, and counting them kept a healthy
// target at its floor for minutes (issue 12). Once the target has taken
// requests for RecoverAfter with no 429 (after the end of the pause the
// last one asked for), the rate doubles every RecoverDoubling: from the
// floor (an eighth) to the configured rate in three doublings. A 429
// meanwhile halves it again from where it got to.
const (
	RecoverAfter    = time.Second
	RecoverDoubling = 500 * time.Millisecond
)

// recoverLocked sets the adaptive rate on its recovery curve.
func (t *Target) recoverLocked(now time.Time) {
	if t.limiter == nil || t.limitedAt.IsZero() {
		return
	}
	from := t.limitedAt
	if t.pauseUntil.After(from) {
		from = t.pauseUntil
	}
	d := now.Sub(from.Add(RecoverAfter))
	if d <= 0 {
		return
	}
	next := t.slowRate * rate.Limit(math.Exp2(d.Seconds()/RecoverDoubling.Seconds()))
	switch {
	case t.max != rate.Inf && next >= t.max:
		next, t.limitedAt = t.max, time.Time{}
	case t.max == rate.Inf && next > unlimitedAbove:
		t.limiter, t.floor, t.limitedAt = nil, 0, time.Time{}
		return
	}
	if next != t.limiter.Limit() {
		t.limiter.SetLimitAt(now, next)
	}
}

// unlimitedAbove is the adaptive rate at which a target with no
// configured limit is trusted to be unlimited again.
const unlimitedAbove = 2000

// observedRateLocked is the request rate of the last second.
func (t *Target) observedRateLocked(now time.Time) float64 {
	cut := now.Add(-time.Second)
	n := 0
	for i := len(t.recent) - 1; i >= 0 && t.recent[i].After(cut); i-- {
		n++
	}
	return float64(max(n, 1))
}

// Status is how one target is paced now.
type Status struct {
	Name        string    `json:"name"`
	Circuit     string    `json:"circuit"`
	Reason      string    `json:"reason,omitempty"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
	PauseReason string    `json:"pause_reason,omitempty"`
	ProbeAt     time.Time `json:"probe_at,omitzero"`
	// RateLimit is the rate now (adaptive), 0 when unlimited; Configured
	// is the rate_limit of the config, 0 when none.
	RateLimit  float64 `json:"rate_limit,omitempty"`
	Configured float64 `json:"configured_rate,omitempty"`
	InFlight   int     `json:"in_flight"`
	// Concurrency is the configured bound of InFlight.
	Concurrency int `json:"concurrency"`
	// ProbeJob is the job probing a half-open circuit: while it runs,
	// nothing else is sent to the target.
	ProbeJob int64 `json:"probe_job,omitempty"`
	// LastRequest is when a request to the target last started or ended
	// in this process: with nothing in flight, how long it has been quiet.
	LastRequest time.Time `json:"last_request,omitzero"`
}

// Status reports the target's state now.
func (t *Target) Status() Status {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recoverLocked(now)
	st := Status{Name: t.name, Circuit: t.circuit, Reason: t.reason, InFlight: t.inFlight, Concurrency: t.set.Concurrency, Configured: t.set.PerSecond,
		ProbeJob: t.probeJobLocked(), LastRequest: t.lastRequest}
	if now.Before(t.pauseUntil) {
		st.PausedUntil, st.PauseReason = t.pauseUntil, t.pauseWhy
	}
	if t.circuit != CircuitClosed {
		st.ProbeAt = t.probeAt
	}
	if t.limiter != nil && t.limiter.Limit() != rate.Inf {
		st.RateLimit = float64(t.limiter.Limit())
	}
	return st
}

// Statuses reports targets' states, sorted by name.
func Statuses(ts []*Target) []Status {
	out := make([]Status, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Status())
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}
