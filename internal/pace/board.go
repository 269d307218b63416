package pace

import (
	"context"
	"log/slog"
	"time"
)

// Board is where the nodes running targets publish how each is paced,
// and where an operator asks for a target to be resumed: the way from
// `accord targets list|resume` (which runs apart from the daemon) to the
// daemon's pacing. The store keeps it, on SQLite and PostgreSQL alike.
type Board interface {
	// PublishPace records node's view of its targets.
	PublishPace(ctx context.Context, node string, sts []Status, now time.Time) error
	// PaceResumes returns, per target, when a resume was last asked for.
	PaceResumes(ctx context.Context) (map[string]time.Time, error)
}

// BoardEvery is how often Watch publishes and looks for resumes: what
// `accord targets list` shows is at most this old, and a resume takes
// effect within it.
const BoardEvery = time.Second

// Watcher publishes targets' states on a board and applies the resumes
// asked for there.
type Watcher struct {
	b      Board
	node   string
	ts     []*Target
	byName map[string]*Target
	seen   map[string]time.Time
}

// NewWatcher watches ts for node. Resumes asked for before it starts
// are not applied: they were for an earlier process.
func NewWatcher(ctx context.Context, b Board, node string, ts []*Target) *Watcher {
	w := &Watcher{b: b, node: node, ts: ts, byName: map[string]*Target{}, seen: map[string]time.Time{}}
	for _, t := range ts {
		w.byName[t.Name()] = t
	}
	if seen, err := b.PaceResumes(ctx); err == nil {
		w.seen = seen
	}
	return w
}

// Watch runs a Watcher: every BoardEvery until ctx ends.
func Watch(ctx context.Context, b Board, node string, ts []*Target) {
	w := NewWatcher(ctx, b, node, ts)
	tick := time.NewTicker(BoardEvery)
	defer tick.Stop()
	for {
		w.Step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Step applies the resumes asked for since the last step, then
// publishes the targets' states.
func (w *Watcher) Step(ctx context.Context) {
	asked, err := w.b.PaceResumes(ctx)
	if err != nil && ctx.Err() == nil {
		slog.Warn("look for target resumes", "error", err)
	}
	for name, at := range asked {
		t, ok := w.byName[name]
		if !ok || !at.After(w.seen[name]) {
			continue
		}
		w.seen[name] = at
		slog.Info("target resumed by an operator", "target", name)
		if err := t.Resume(ctx); err != nil {
			slog.Warn("resume target", "target", name, "error", err)
		}
	}
	sts := make([]Status, 0, len(w.ts))
	for _, t := range w.ts {
		sts = append(sts, t.Status())
	}
	if err := w.b.PublishPace(ctx, w.node, sts, time.Now()); err != nil && ctx.Err() == nil {
		slog.Warn("publish the targets' pacing", "error", err)
	}
}
