package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/pace"
)

// Circuit states of a target (see package pace).
const (
	CircuitClosed   = pace.CircuitClosed
	CircuitOpen     = pace.CircuitOpen
	CircuitHalfOpen = pace.CircuitHalfOpen
	CircuitPaused   = pace.CircuitPaused
)

// Target is one target as the engine drives it: its connector, its
// retry policy, and its pacing (package pace), which reconciliation in
// the same process shares.
type Target struct {
	Name        string
	Conn        connector.Connector
	Concurrency int
	Retry       config.Retry
	Failure     config.Failure
	// Pace is the target's pacing; built by the engine from Settings and
	// Shared when nil.
	Pace     *pace.Target
	Settings pace.Settings
	// Shared, if set, makes the pacing cluster-wide (PostgreSQL).
	Shared pace.Shared

	wake chan struct{}
	// group gathers grants into group batches; nil when the connector
	// adds one member per request.
	group *grouper
}

// jobsPerCall is how many jobs a target's dispatcher holds per request
// slot: a job spends much of its time waiting for its outcome to be
// durable, and meanwhile another job can use the slot.
const jobsPerCall = 8

// NewTarget builds an engine target from its config and connector.
func NewTarget(t *config.Target, conn connector.Connector) *Target {
	s := pace.SettingsOf(t)
	return &Target{Name: t.Name, Conn: conn, Concurrency: s.Concurrency, Retry: t.Retry, Failure: s.Failure, Settings: s}
}

func (t *Target) init(n notify.Notifier, owner string) {
	if t.Pace == nil {
		s := t.Settings
		s.Concurrency = t.Concurrency
		if t.Failure.OpenAfter != 0 {
			s.Failure = t.Failure
		}
		t.Pace = pace.New(t.Name, s, pace.Options{Notifier: n, Shared: t.Shared, Holder: owner})
	}
	t.Failure = t.Pace.Settings().Failure
	t.wake = t.Pace.Wake()
}

// The engine's names for its target's pacing.
func (t *Target) gate(ctx context.Context) error { return t.Pace.Gate(ctx) }
func (t *Target) pause(until time.Time)          { t.Pace.Hold(until) }

// do makes one call to the target. A connector that does not pass its
// requests through the gate in ctx has each call pass it here: that gate
// is the engine's (pace's limits, then the lease check), and pace's own
// would skip the lease check, sending for a job that may no longer be
// this engine's.
func (t *Target) do(ctx context.Context, f func() error) error {
	if !t.Conn.Capabilities().GatesRequests {
		if err := connector.GateFrom(ctx)(ctx); err != nil {
			return err
		}
	}
	return t.Pace.Do(ctx, true, f)
}
func (t *Target) leasable(free int, now time.Time) (int, bool) { return t.Pace.Leasable(free, now) }
func (t *Target) startProbe(job int64)                         { t.Pace.StartProbe(job) }
func (t *Target) nextWake() time.Time                          { return t.Pace.NextWake() }
func (t *Target) endProbe(job int64)                           { t.Pace.EndProbe(job, time.Now()) }
func (t *Target) allow(job int64) (bool, time.Time)            { return t.Pace.Allow(job) }
func (t *Target) spendRetry(now time.Time) (bool, time.Duration) {
	return t.Pace.SpendRetry(now)
}
func (t *Target) observe(ctx context.Context, rec audit.Record, now time.Time) {
	t.Pace.Observe(ctx, connector.Kind(rec.ErrorKind), rec.Status, rec.Message, now)
}
func (t *Target) record(ctx context.Context, job int64, err *connector.Error, now time.Time, requests bool) bool {
	return t.Pace.Record(ctx, job, err, now, requests)
}

// Pacer returns the pacing of the engine's target of that name, so that
// other traffic to the target in this process (reconciliation) shares
// one rate limit and one pause with the engine's.
func (e *Engine) Pacer(target string) (connector.Gate, connector.Hold, bool) {
	t, ok := e.targets[target]
	if !ok {
		return nil, nil, false
	}
	g, h := t.Pace.Pacer()
	return g, h, true
}

// TargetStatus is how the engine sees one target now.
type TargetStatus = pace.Status

// Status reports every target's state, sorted by name.
func (e *Engine) Status() []TargetStatus {
	ts := make([]*pace.Target, 0, len(e.targets))
	for _, t := range e.targets {
		ts = append(ts, t.Pace)
	}
	return pace.Statuses(ts)
}

// Resume ends the pauses of a target at once: an open or paused circuit
// is probed by the next action, a hold is lifted (see pace.Target.Resume).
func (e *Engine) Resume(ctx context.Context, target string) error {
	t, ok := e.targets[target]
	if !ok {
		return fmt.Errorf("no target %q", target)
	}
	return t.Pace.Resume(ctx)
}

// backoff is the engine's retry delay (see pace.Backoff).
func backoff(r config.Retry, attempt int) time.Duration { return pace.Backoff(r.Base, r.Max, attempt) }

// Paces returns the pacing of every target, for pace.Watch.
func (e *Engine) Paces() []*pace.Target {
	out := make([]*pace.Target, 0, len(e.targets))
	for _, t := range e.targets {
		out = append(out, t.Pace)
	}
	return out
}
