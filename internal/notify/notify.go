// Package notify tells people when something needs them: a target down or
// back, a run held by a threshold, a target in incident, an action parked
// as failed. Senders (webhook, log) implement Notifier; the engine and the
// app emit, and never wait on a slow receiver.
package notify

import (
	"context"
	"log/slog"
	"time"
)

// Kind names what happened.
type Kind string

// Notification kinds.
const (
	TargetDown       Kind = "target.down"        // circuit opened: the target is not answering
	TargetBack       Kind = "target.back"        // circuit closed again
	TargetAuthFailed Kind = "target.auth_failed" // credentials refused after a refresh: queue paused
	TargetIncident   Kind = "target.incident"    // success rate under the incident threshold
	RunHeld          Kind = "run.held"           // a run exceeds a threshold and waits for approval
	ActionFailed     Kind = "action.failed"      // an action was parked as failed
	SourceFailed     Kind = "source.failed"      // an import was rejected or a pull failed: nothing changed
	// InitialPassword carries a new account's initial password to the one
	// receiver configured for it (Send), never to the alert channels.
	InitialPassword Kind = "account.initial_password"
)

// Event is one notification.
type Event struct {
	Kind    Kind           `json:"kind"`
	Time    time.Time      `json:"time"`
	Target  string         `json:"target,omitempty"`
	RunID   string         `json:"run_id,omitempty"`
	Action  int64          `json:"action_id,omitempty"`
	Person  string         `json:"person,omitempty"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// Notifier delivers events. Notify must not block for long: implementations
// queue and deliver in the background.
type Notifier interface {
	Notify(ctx context.Context, ev Event)
}

// Func adapts a function to a Notifier.
type Func func(ctx context.Context, ev Event)

// Notify calls f.
func (f Func) Notify(ctx context.Context, ev Event) { f(ctx, ev) }

// Multi sends every event to each notifier.
type Multi []Notifier

// Notify fans out.
func (m Multi) Notify(ctx context.Context, ev Event) {
	for _, n := range m {
		if n != nil {
			n.Notify(ctx, ev)
		}
	}
}

// Log writes events to a logger: the alert of last resort.
type Log struct{ Logger *slog.Logger }

// Notify logs at warning level.
func (l Log) Notify(_ context.Context, ev Event) {
	lg := l.Logger
	if lg == nil {
		lg = slog.Default()
	}
	lg.Warn("alert: "+ev.Message, "kind", ev.Kind, "target", ev.Target, "run_id", ev.RunID, "action_id", ev.Action, "person", ev.Person)
}
