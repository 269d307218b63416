package api

import (
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/model"
)

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
