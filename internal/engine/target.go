package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/notify"
)

// Circuit states of a target.
const (
	CircuitClosed   = "closed"    // the target answers: work flows
	CircuitOpen     = "open"      // the target is down: its actions wait
	CircuitHalfOpen = "half_open" // one probe action is finding out whether it is back
	CircuitPaused   = "paused"    // credentials refused: probed rarely, alert raised
)

// Target is one target as the engine drives it: its connector, limits,
// and what the engine has learned of its health.
type Target struct {
	Name        string
	Conn        connector.Connector
	Concurrency int
	Retry       config.Retry
	Failure     config.Failure
	// Limiter bounds requests per second (nil: unlimited until the target
	// answers 429, when an adaptive limit is set).
	Limiter *rate.Limiter
	// maxRate is the configured limit (Inf when none): adaptive slowing
	// never goes above it when it recovers.
	maxRate rate.Limit

	mu          sync.Mutex
	pauseUntil  time.Time // Retry-After, or a spent window's reset
	circuit     string
	consecutive int       // transient failures in a row
	probeAt     time.Time // when an open or paused circuit may be probed
	probeWait   time.Duration
	probeJob    int64 // the job carrying the probe, while half-open
	reason      string
	tokens      float64 // retry budget
	tokensAt    time.Time
	slowedAt    time.Time
	spedAt      time.Time
	floor       rate.Limit // the adaptive rate never goes below this
	recent      []time.Time
	notifier    notify.Notifier
	wake        chan struct{}
	// calls bounds the requests in flight to the target: Concurrency is a
	// promise to the target, while the engine holds more jobs than that so
	// that waiting on the store never leaves the target idle.
	calls chan struct{}
}

// jobsPerCall is how many jobs a target's dispatcher holds per request
// slot: a job spends much of its time waiting for its outcome to be
// durable, and meanwhile another job can use the slot.
const jobsPerCall = 8

// NewTarget builds an engine target from its config and connector.
func NewTarget(t *config.Target, conn connector.Connector) *Target {
	et := &Target{Name: t.Name, Conn: conn, Concurrency: t.Concurrency, Retry: t.Retry, Failure: t.Failure, maxRate: rate.Inf}
	if t.RateLimit.PerSecond > 0 {
		burst := t.RateLimit.Burst
		if burst <= 0 {
			burst = max(1, int(t.RateLimit.PerSecond))
		}
		et.maxRate = rate.Limit(t.RateLimit.PerSecond)
		et.Limiter = rate.NewLimiter(et.maxRate, burst)
	}
	return et
}

func (t *Target) init(n notify.Notifier) {
	if t.Failure.OpenAfter == 0 {
		t.Failure = config.Failure{OpenAfter: 10, ProbeAfter: 2 * time.Second, ProbeMax: time.Minute, AuthProbe: time.Minute, RetryRatio: 0.5, RetryBurst: 20}
	}
	if t.maxRate == 0 {
		t.maxRate = rate.Inf
		if t.Limiter != nil {
			t.maxRate = t.Limiter.Limit()
		}
	}
	t.circuit = CircuitClosed
	t.tokens = float64(t.Failure.RetryBurst)
	t.notifier = n
	t.wake = make(chan struct{}, 1)
	t.calls = make(chan struct{}, max(1, t.Concurrency))
}

// do makes one call to the target within the concurrency limit, each of
// its requests after any pause the target asked for and within the rate
// limit (per call, for connectors that do not gate their requests).
func (t *Target) do(ctx context.Context, f func() error) error {
	if !t.Conn.Capabilities().GatesRequests {
		if err := t.gate(ctx); err != nil {
			return err
		}
	}
	select {
	case t.calls <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-t.calls }()
	return f()
}

// pause stops requests to the target until the given time (a Retry-After,
// or the reset of a rate-limit window an answer said was spent).
func (t *Target) pause(until time.Time) {
	t.mu.Lock()
	if until.After(t.pauseUntil) {
		t.pauseUntil = until
	}
	t.mu.Unlock()
}

func (t *Target) pausedUntil() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pauseUntil
}

// Pacer returns what paces requests to the target: the gate each request
// passes (pauses, the rate limit) and the hold with which an answer
// pauses them all.
func (t *Target) Pacer() (connector.Gate, connector.Hold) { return t.gate, t.pause }

// Pacer returns the pacer of the engine's target of that name, so that
// other traffic to the target in this process (reconciliation) shares
// one rate limit and one pause with the engine's.
func (e *Engine) Pacer(target string) (connector.Gate, connector.Hold, bool) {
	t, ok := e.targets[target]
	if !ok {
		return nil, nil, false
	}
	g, h := t.Pacer()
	return g, h, true
}

// gate waits until a request to the target is allowed: after any pause
// the target asked for, and within the rate limit.
func (t *Target) gate(ctx context.Context) error {
	for {
		d := time.Until(t.pausedUntil())
		if d <= 0 {
			break
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	t.mu.Lock()
	lim := t.Limiter
	t.recent = append(t.recent, time.Now())
	if len(t.recent) > 512 {
		t.recent = t.recent[256:]
	}
	t.mu.Unlock()
	if lim != nil {
		return lim.Wait(ctx)
	}
	return nil
}

// leasable returns how many jobs the dispatcher may lease now, and
// whether the next lease is a probe of an open circuit.
func (t *Target) leasable(free int, now time.Time) (n int, probe bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.circuit {
	case CircuitClosed:
		if time.Until(t.pauseUntil) > 0 {
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

// startProbe marks job as the probe of a half-open circuit.
func (t *Target) startProbe(job int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.circuit == CircuitOpen || t.circuit == CircuitPaused {
		t.circuit, t.probeJob = CircuitHalfOpen, job
	}
}

// nextWake is when a dispatcher with nothing leasable should look again.
func (t *Target) nextWake() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.circuit == CircuitOpen || t.circuit == CircuitPaused {
		return t.probeAt
	}
	return t.pauseUntil
}

// allow reports whether the job may attempt its next action now: while a
// circuit is not closed only the probe goes through, and the others wait
// in the queue instead of hammering a target that is down.
func (t *Target) allow(job int64) (bool, time.Time) {
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

// spendRetry takes one retry from the budget. When it is empty, the retry
// must wait (for the returned duration): the target fails too often for
// retries to be worth more load. Successes earn retries (RetryRatio each)
// and time earns a few.
func (t *Target) spendRetry(now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.circuit == CircuitHalfOpen {
		return true, 0 // the probe is not a retry storm
	}
	if !t.tokensAt.IsZero() {
		t.tokens = min(t.tokens+now.Sub(t.tokensAt).Seconds()*retryRefill, float64(t.Failure.RetryBurst))
	}
	t.tokensAt = now
	if t.tokens >= 1 {
		t.tokens--
		return true, 0
	}
	return false, time.Duration((1 - t.tokens) / retryRefill * float64(time.Second))
}

// observe learns from one request to the target (an audited exchange):
// the circuit counts consecutive failed requests, not failed attempts, as
// one attempt may make several requests (a write and its read-back), and
// a partly failing target must not look down.
func (t *Target) observe(ctx context.Context, rec audit.Record, now time.Time) {
	t.mu.Lock()
	var ev *notify.Event
	switch connector.Kind(rec.ErrorKind) {
	case connector.Unavailable, connector.Timeout:
		t.failedLocked(rec.Message, now, &ev)
	case connector.RateLimited:
		t.consecutive = 0
	default:
		if rec.Status > 0 {
			t.consecutive = 0
		}
	}
	t.mu.Unlock()
	if ev != nil && t.notifier != nil {
		t.notifier.Notify(ctx, *ev)
	}
}

// failedLocked counts one transient failure and opens the circuit when
// there have been enough in a row. Called with t.mu held.
func (t *Target) failedLocked(why string, now time.Time, ev **notify.Event) {
	t.consecutive++
	if t.circuit == CircuitClosed && t.consecutive >= t.Failure.OpenAfter {
		t.probeWait = t.Failure.ProbeAfter
		t.circuit, t.probeAt = CircuitOpen, now.Add(t.probeWait)
		t.reason = fmt.Sprintf("%d consecutive failures, last: %s", t.consecutive, why)
		*ev = &notify.Event{Kind: notify.TargetDown, Time: now, Target: t.Name,
			Message: fmt.Sprintf("target %s is down (%s); its actions wait and resume when it answers", t.Name, t.reason)}
	}
}

// record learns from one attempt's outcome and returns whether the
// circuit is now closed (work flows) — when it is not, a failed action
// waits for the target instead of using up its attempts. requests says
// whether the attempt's requests were observed one by one; connectors
// that do not audit exchanges are counted per attempt instead.
func (t *Target) record(ctx context.Context, job int64, err *connector.Error, now time.Time, requests bool) bool {
	t.mu.Lock()
	var ev *notify.Event
	defer func() {
		t.mu.Unlock()
		if ev != nil && t.notifier != nil {
			t.notifier.Notify(ctx, *ev)
		}
	}()
	kind := connector.Kind("")
	if err != nil {
		kind = err.Kind
	}
	probe := t.circuit == CircuitHalfOpen && job == t.probeJob
	switch kind {
	case connector.Unavailable, connector.Timeout:
		if probe {
			t.probeWait = min(t.probeWait*2, t.Failure.ProbeMax)
			t.circuit, t.probeAt, t.probeJob = CircuitOpen, now.Add(t.probeWait), 0
		} else if !requests {
			t.failedLocked(err.Error(), now, &ev)
		}
	case connector.Auth:
		if t.circuit != CircuitPaused {
			was := t.circuit
			t.circuit, t.probeAt, t.probeJob = CircuitPaused, now.Add(t.Failure.AuthProbe), 0
			t.reason = "credentials refused after a refresh: " + err.Error()
			msg := fmt.Sprintf("target %s refuses accord's credentials; its queue is paused until they work (%s)", t.Name, err.Error())
			if errors.Is(err, connector.ErrSessionOpen) {
				// The credentials are right: the target holds another session.
				t.reason = "login refused, a session is already open: " + err.Error()
				msg = fmt.Sprintf("target %s already holds a session for accord's user and refuses another login; "+
					"its queue is paused and login is tried again every %s (%s)", t.Name, t.Failure.AuthProbe, err.Error())
			}
			if was != CircuitHalfOpen || t.probeWait == 0 {
				ev = &notify.Event{Kind: notify.TargetAuthFailed, Time: now, Target: t.Name, Message: msg}
			}
			t.probeWait = t.Failure.AuthProbe
		} else {
			t.probeAt = now.Add(t.Failure.AuthProbe)
		}
	case connector.RateLimited:
		// The target is alive: this is not a failure towards the circuit,
		// but a request to slow down.
		t.consecutive = 0
		t.slowDown(now)
		if probe {
			t.closeLocked(ctx, now, &ev)
		}
	default:
		// Success, or an answer about this request alone (validation,
		// not found, conflict...): the target is up.
		t.consecutive = 0
		if probe {
			t.closeLocked(ctx, now, &ev)
		}
		if err == nil {
			t.tokens = min(t.tokens+t.Failure.RetryRatio, float64(t.Failure.RetryBurst))
			t.speedUp()
		}
	}
	return t.circuit == CircuitClosed
}

func (t *Target) closeLocked(_ context.Context, now time.Time, ev **notify.Event) {
	was := t.circuit
	t.circuit, t.probeJob, t.reason = CircuitClosed, 0, ""
	t.probeWait = 0
	kind := notify.TargetBack
	msg := fmt.Sprintf("target %s answers again; its queue drains within its rate limit", t.Name)
	if was == CircuitPaused {
		msg = fmt.Sprintf("target %s accepts accord's credentials again; its queue resumes", t.Name)
	}
	*ev = &notify.Event{Kind: kind, Time: now, Target: t.Name, Message: msg}
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// slowDown halves the request rate after a 429 (multiplicative decrease);
// with no configured limit, it starts from the rate observed in the last
// second. Several workers see the same burst of 429s: the rate is halved
// at most once per second, as the burst is one signal. Retry-After is the
// target's own instruction and is always obeyed (see pause); the rate is
// the second line of defence, so it never drops below an eighth of where
// it started. Called with t.mu held.
func (t *Target) slowDown(now time.Time) {
	if now.Sub(t.slowedAt) < time.Second {
		return
	}
	t.slowedAt = now
	cur := rate.Inf
	if t.Limiter != nil {
		cur = t.Limiter.Limit()
	}
	if cur == rate.Inf {
		cur = rate.Limit(t.observedRate())
	}
	if t.floor == 0 || cur > t.floor*8 {
		t.floor = max(cur/8, 0.5)
	}
	next := max(cur/2, t.floor)
	if t.Limiter == nil {
		t.Limiter = rate.NewLimiter(next, max(1, t.Concurrency))
		return
	}
	t.Limiter.SetLimit(next)
}

// speedUp recovers the rate after successes, by a tenth at most every
// 100ms, up to the configured limit; without one, the adaptive limit is
// dropped once it is far above anything a 429 was answered at.
func (t *Target) speedUp() {
	if t.Limiter == nil {
		return
	}
	cur := t.Limiter.Limit()
	if cur == t.maxRate {
		return
	}
	now := time.Now()
	if now.Sub(t.spedAt) < 100*time.Millisecond {
		return
	}
	t.spedAt = now
	next := cur * 1.1
	switch {
	case t.maxRate != rate.Inf && next >= t.maxRate:
		next = t.maxRate
	case t.maxRate == rate.Inf && next > unlimitedAbove:
		next, t.floor = rate.Inf, 0
	}
	t.Limiter.SetLimit(next)
}

// unlimitedAbove is the adaptive rate at which a target with no
// configured limit is trusted to be unlimited again.
const unlimitedAbove = 2000

// observedRate is the request rate of the last second.
func (t *Target) observedRate() float64 {
	cut := time.Now().Add(-time.Second)
	n := 0
	for i := len(t.recent) - 1; i >= 0 && t.recent[i].After(cut); i-- {
		n++
	}
	return float64(max(n, 1))
}

// TargetStatus is how the engine sees one target now.
type TargetStatus struct {
	Name        string     `json:"name"`
	Circuit     string     `json:"circuit"`
	Reason      string     `json:"reason,omitempty"`
	PausedUntil time.Time  `json:"paused_until,omitzero"`
	ProbeAt     time.Time  `json:"probe_at,omitzero"`
	RateLimit   rate.Limit `json:"rate_limit,omitempty"`
}

// Status reports every target's state, sorted by name.
func (e *Engine) Status() []TargetStatus {
	out := make([]TargetStatus, 0, len(e.targets))
	for _, t := range e.targets {
		t.mu.Lock()
		st := TargetStatus{Name: t.Name, Circuit: t.circuit, Reason: t.reason}
		if time.Until(t.pauseUntil) > 0 {
			st.PausedUntil = t.pauseUntil
		}
		if t.circuit != CircuitClosed {
			st.ProbeAt = t.probeAt
		}
		if t.Limiter != nil && t.Limiter.Limit() != rate.Inf {
			st.RateLimit = t.Limiter.Limit()
		}
		t.mu.Unlock()
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b TargetStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}
