package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
)

// followUp holds persons changed over the API whose enforcement found
// earlier work still unfinished on one of their targets (the planner
// leaves such pairs alone so that two runs never race on one account).
// They are planned again as soon as the engine reports progress, so a
// leaver is not left waiting for the next scheduled run.
type followUp struct {
	mu      sync.Mutex
	persons map[string]bool
	kick    chan struct{}
	// gone is when each person was last planned again because an account
	// of theirs had vanished from a target.
	gone map[string]time.Time
}

// goneOnce reports whether a person whose account vanished may be planned
// again now: at most once per every, so that a target that keeps losing
// what accord creates gets a run per schedule, not a run per engine cycle.
func (f *followUp) goneOnce(person string, now time.Time, every time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone == nil {
		f.gone = map[string]time.Time{}
	}
	if last, ok := f.gone[person]; ok && now.Sub(last) < every {
		return false
	}
	for p, t := range f.gone {
		if now.Sub(t) >= every {
			delete(f.gone, p) // spent entries do not pile up
		}
	}
	f.gone[person] = now
	return true
}

func newFollowUp() *followUp {
	return &followUp{persons: map[string]bool{}, kick: make(chan struct{}, 1)}
}

func (f *followUp) add(person string) {
	f.mu.Lock()
	f.persons[person] = true
	f.mu.Unlock()
	f.nudge()
}

func (f *followUp) nudge() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *followUp) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.persons))
	for p := range f.persons {
		out = append(out, p)
	}
	clear(f.persons)
	return out
}

func (d *Daemon) runFollowUps(ctx context.Context) {
	tick := time.NewTicker(max(d.app.Cfg.Engine.Poll, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.follow.kick:
		case <-tick.C:
		}
		for _, p := range d.follow.take() {
			run, pv, err := d.app.Enforce(ctx, app.Filter{Person: p}, "api:follow-up")
			switch {
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				// A person deleted meanwhile, a store hiccup: the next
				// scheduled enforcement covers them.
				d.log.Warn("follow-up enforcement", "person", p, "error", err)
				continue
			case pv.Result.Busy.Count > 0:
				d.follow.mu.Lock()
				d.follow.persons[p] = true
				d.follow.mu.Unlock()
			}
			if run != nil && run.State != model.RunHeld {
				d.wake()
			}
		}
	}
}
