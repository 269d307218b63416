package api

import (
	"context"
	"regexp"
	"strings"
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

func (s *Server) runFollowUps(ctx context.Context) {
	tick := time.NewTicker(max(s.app.Cfg.Engine.Poll, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.follow.kick:
		case <-tick.C:
		}
		for _, p := range s.follow.take() {
			run, pv, err := s.app.Enforce(ctx, app.Filter{Person: p}, "api:follow-up")
			switch {
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				// A person deleted meanwhile, a store hiccup: the next
				// scheduled enforcement covers them.
				s.log.Warn("follow-up enforcement", "person", p, "error", err)
				continue
			case len(pv.Result.Busy) > 0:
				s.follow.mu.Lock()
				s.follow.persons[p] = true
				s.follow.mu.Unlock()
			}
			if run != nil && run.State != model.RunHeld {
				s.wake()
			}
		}
	}
}

// leaveDate finds the date in a leaver's reason ("leaver: employment
// ended 2026-03-02", "leaver: missing from source hr since 2026-03-01").
var leaveDate = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)

func isLeaverDisable(a *model.Action) bool {
	return a.Op == model.OpDisable && strings.HasPrefix(a.Reason, "leaver")
}

// leaverLearned remembers when the API learned that a person leaves, for
// the leaver latency of a leave entered on its very day.
type leaverLearned struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (l *leaverLearned) set(person string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at == nil {
		l.at = map[string]time.Time{}
	}
	// Entries are removed when the disable is confirmed; those whose
	// disable never comes (held, then cancelled) must not pile up.
	for p, t := range l.at {
		if at.Sub(t) > 48*time.Hour {
			delete(l.at, p)
		}
	}
	l.at[person] = at
}

func (l *leaverLearned) take(person string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.at[person]
	delete(l.at, person)
	return t, ok
}

// observeLeaver records the time from the end of employment to the
// disable confirmed by the target. The end is midnight (UTC) of the leave
// date or, when accord learned of the leave over the API on that very day,
// the moment it learned: an end of employment entered at 14:00 cannot be
// acted on at 00:00. It does no I/O: it runs on the engine's goroutine.
func (s *Server) observeLeaver(a *model.Action, at time.Time) {
	d, err := model.ParseDate(leaveDate.FindString(a.Reason))
	if err != nil {
		return
	}
	start := d.Time()
	if learned, ok := s.learned.take(a.PersonKey); ok && model.DateOf(learned) == d && learned.After(start) {
		start = learned
	}
	s.metrics.leaver.Observe(max(0, at.Sub(start).Seconds()))
}
