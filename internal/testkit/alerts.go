package testkit

import (
	"context"
	"sync"

	"github.com/accord-iam/accord/internal/notify"
)

// Alerts keeps the alerts accord sends, in place of a webhook: set it as
// an app's Notifier. It is safe for the engine's goroutines.
type Alerts struct {
	mu  sync.Mutex
	evs []notify.Event
}

// Notify records ev.
func (a *Alerts) Notify(_ context.Context, ev notify.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, ev)
}

// Of returns the alerts of one kind, in the order they were sent.
func (a *Alerts) Of(kind notify.Kind) []notify.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []notify.Event
	for _, ev := range a.evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}
