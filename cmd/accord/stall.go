package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// targetStatuser is what the stall check needs of the engine: each
// target's circuit and the reason for it.
type targetStatuser interface {
	Status() []engine.TargetStatus
}

// paceViewer is a store the daemons publish their targets' pacing in.
type paceViewer interface {
	PaceViews(ctx context.Context) ([]sqlstore.PaceView, error)
}

// publishedStatus reads the targets' pacing a daemon publishes, for a
// --wait that follows the daemon's execution instead of running its own
// engine. A view older than staleView is not believed: its daemon may be
// gone, and then nothing is known of the target.
type publishedStatus struct {
	ctx context.Context
	st  any
}

const staleView = 10 * time.Second

func (p publishedStatus) Status() []engine.TargetStatus {
	v, ok := p.st.(paceViewer)
	if !ok {
		return nil
	}
	views, err := v.PaceViews(p.ctx)
	if err != nil {
		return nil
	}
	newest := map[string]sqlstore.PaceView{}
	for _, pv := range views {
		if time.Since(pv.At) > staleView {
			continue
		}
		if cur, ok := newest[pv.Status.Name]; !ok || pv.At.After(cur.At) {
			newest[pv.Status.Name] = pv
		}
	}
	out := make([]engine.TargetStatus, 0, len(newest))
	for _, pv := range newest {
		out = append(out, pv.Status)
	}
	return out
}

// writeProber is a store that can prove it accepts writes now.
type writeProber interface {
	ProbeWrite(ctx context.Context) error
}

// stallWatch decides whether the remaining work of a --wait can move.
// It remembers since when each target's circuit has been open: a target
// that is down for a moment (its circuit opens, a probe closes it again)
// is ridden out, and only one still down after its slowest probe interval
// (failure.probe_max, at least a minute) counts as stalled. Refused credentials count at once:
// they do not mend themselves.
//
// A half-open circuit moves only through its probe: while it is half
// open nothing else is leased. One that has had no request in flight and
// none started or ended (and no pause the target asked for) for as long
// is stalled too: its probe is not answering, or none is running (the
// hang CI caught, where --wait waited 12 minutes with 498 jobs due).
type stallWatch struct {
	a         *app.App
	eng       targetStatuser
	now       func() time.Time
	openSince map[string]time.Time
	// quietSince is since when each half-open target has been seen with
	// no request in flight and no pause.
	quietSince map[string]time.Time
}

func newStallWatch(a *app.App, eng targetStatuser) *stallWatch {
	return &stallWatch{a: a, eng: eng, now: time.Now, openSince: map[string]time.Time{}, quietSince: map[string]time.Time{}}
}

// stalled returns why the remaining work cannot move — every target with
// unfinished actions is paused (credentials refused or unavailable), has
// been down past its grace, or has been half open with no request past
// its grace, or the store refuses writes — one line per cause, or nil
// while something can still move.
func (w *stallWatch) stalled(ctx context.Context) ([]string, error) {
	if p, ok := w.a.Store.(writeProber); ok {
		if err := p.ProbeWrite(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return []string{"the store cannot be written: " + err.Error()}, nil
		}
	}
	now := w.now()
	circuits := map[string]engine.TargetStatus{}
	for _, st := range w.eng.Status() {
		circuits[st.Name] = st
		switch st.Circuit {
		case engine.CircuitClosed:
			delete(w.openSince, st.Name)
		case engine.CircuitOpen, engine.CircuitHalfOpen:
			if _, ok := w.openSince[st.Name]; !ok {
				w.openSince[st.Name] = now
			}
		}
		if st.Circuit == engine.CircuitHalfOpen && st.InFlight == 0 && !now.Before(st.PausedUntil) {
			if _, ok := w.quietSince[st.Name]; !ok {
				w.quietSince[st.Name] = now
			}
		} else {
			delete(w.quietSince, st.Name)
		}
	}
	queue, err := w.a.Store.QueueStats(ctx, w.a.Now())
	if err != nil {
		return nil, err
	}
	var why []string
	for target, q := range queue {
		if q.PendingActions == 0 {
			continue
		}
		st, ok := circuits[target]
		if !ok {
			if w.configured(target) {
				return nil, nil // nothing is known of its pacing (a daemon not heard from yet): not stalled
			}
			// A target no longer in the config: nothing here will run it.
			why = append(why, fmt.Sprintf("target %s: not in the config (%d actions wait)", target, q.PendingActions))
			continue
		}
		switch {
		case st.Circuit == engine.CircuitPaused:
			why = append(why, fmt.Sprintf("target %s: paused: %s (%d actions wait)", target, orUnknown(st.Reason), q.PendingActions))
		case st.Circuit == engine.CircuitOpen && now.Sub(w.openSince[target]) >= w.grace(target):
			why = append(why, fmt.Sprintf("target %s: circuit open for %s: %s (%d actions wait)", target,
				now.Sub(w.openSince[target]).Round(time.Second), orUnknown(st.Reason), q.PendingActions))
		case st.Circuit == engine.CircuitHalfOpen && w.quiet(st, now) >= w.grace(target):
			why = append(why, fmt.Sprintf("target %s: circuit half open and no request for %s: %s (it opened after: %s) (%d actions wait)", target,
				w.quiet(st, now).Round(time.Second), probeWords(st), orUnknown(st.Reason), q.PendingActions))
		default:
			return nil, nil // this target's work moves, or may soon
		}
	}
	sort.Strings(why)
	return why, nil
}

// quiet is how long a half-open target has had no request in flight and
// none started or ended, as far as the watch has seen; 0 when it has
// something in flight or is paused.
func (w *stallWatch) quiet(st engine.TargetStatus, now time.Time) time.Duration {
	since, ok := w.quietSince[st.Name]
	if !ok {
		return 0
	}
	if st.LastRequest.After(since) {
		since = st.LastRequest
	}
	return now.Sub(since)
}

// probeWords says what a quiet half-open circuit waits for.
func probeWords(st engine.TargetStatus) string {
	if st.ProbeJob != 0 {
		return fmt.Sprintf("its probe (job %d) sends nothing, and nothing else is sent until the probe is answered", st.ProbeJob)
	}
	return "no probe is running, and nothing else is sent while it is half open"
}

// configured reports whether target is in the config.
func (w *stallWatch) configured(target string) bool {
	for i := range w.a.Cfg.Targets {
		if w.a.Cfg.Targets[i].Name == target {
			return true
		}
	}
	return false
}

// grace is how long a target may be down before a wait on it is called
// stalled: its slowest probe interval, and never less than minGrace, as a
// target with fast probes may still need a while to come back (a
// restart, a failover).
func (w *stallWatch) grace(target string) time.Duration {
	for i := range w.a.Cfg.Targets {
		if t := &w.a.Cfg.Targets[i]; t.Name == target {
			return max(t.Failure.ProbeMax, minGrace)
		}
	}
	return minGrace
}

// minGrace is the least time a target's circuit must stay open before a
// wait on it gives up.
const minGrace = time.Minute

func orUnknown(s string) string {
	if s == "" {
		return "no reason recorded"
	}
	return s
}

// stallWhenUnwritable makes a waiting command that failed because the
// store refuses writes (at open, import or planning) end as stalled, like
// one that found it out while executing: the wait cannot succeed until
// the store is fixed, whichever step noticed first.
func stallWhenUnwritable(wait *bool, run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if *wait && errors.Is(err, store.ErrUnwritable) {
			var ee *exitError
			if errors.As(err, &ee) && ee.err != nil {
				err = ee.err
			}
			return fail(exitStalled, fmt.Errorf("%w: the store cannot be written: %w", errStalled, err))
		}
		return err
	}
}

// errStalled is the error of a wait that ended because nothing could move.
var errStalled = errors.New("stalled")
