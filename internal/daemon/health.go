package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
)

// Target statuses, from best to worst.
const (
	StatusHealthy  = "healthy"
	StatusDegraded = "degraded"
	StatusIncident = "incident"
	StatusDown     = "down"
)

var statusRank = map[string]int{StatusHealthy: 0, StatusDegraded: 1, StatusIncident: 2, StatusDown: 3}

// HealthView is the answer of GET /api/v1/health (the console reads it too).
type HealthView struct {
	// Status is the worst of the targets'.
	Status     string         `json:"status"`
	CheckedAt  time.Time      `json:"checked_at"`
	Thresholds HealthLimits   `json:"thresholds"`
	Targets    []TargetHealth `json:"targets"`
}

// HealthLimits are the success-rate lines a target is judged by.
type HealthLimits struct {
	Healthy     float64 `json:"healthy"`
	Incident    float64 `json:"incident"`
	MinAttempts int     `json:"min_attempts"`
}

// TargetHealth is one target's health.
type TargetHealth struct {
	Target  string `json:"target"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Circuit string `json:"circuit"`
	// LastHour and LastDay count ended attempts (not actions: an action
	// retried three times before succeeding is three attempts).
	LastHour   HealthWindow `json:"last_hour"`
	LastDay    HealthWindow `json:"last_day"`
	QueueDepth int          `json:"queue_depth"`
	LeasedJobs int          `json:"leased_jobs"`
	// OldestPending is when the oldest unfinished action was planned.
	OldestPending           *time.Time `json:"oldest_pending"`
	OldestPendingAgeSeconds float64    `json:"oldest_pending_age_seconds"`
}

// HealthWindow counts ended attempts over a window.
type HealthWindow struct {
	Attempts  int `json:"attempts"`
	Succeeded int `json:"succeeded"`
	Retried   int `json:"retried"`
	Failed    int `json:"failed"`
	// SuccessRate is a percentage; null without attempts.
	SuccessRate *float64 `json:"success_rate"`
}

func toWindow(o store.Outcomes) HealthWindow {
	w := HealthWindow{Attempts: o.Total(), Succeeded: o.Succeeded, Retried: o.Retried, Failed: o.Failed}
	if w.Attempts > 0 {
		r := 100 * float64(o.Succeeded) / float64(w.Attempts)
		w.SuccessRate = &r
	}
	return w
}

// Health judges every configured target now, and alerts when one has
// entered incident since the last judgement.
func (d *Daemon) Health(ctx context.Context) (HealthView, error) {
	hv, err := CheckHealth(ctx, d.app, d.health, d.status)
	if err != nil {
		return HealthView{}, err
	}
	d.monitor.record(d, ctx, hv)
	return hv, nil
}

// CheckHealth judges every configured target now, by the limits h, with
// the circuits status reports (nil: no engine here, every circuit shows
// as closed). It keeps nothing and alerts nobody: that is the daemon's.
func CheckHealth(ctx context.Context, a *app.App, h config.Health, status func() []engine.TargetStatus) (HealthView, error) {
	now := a.Now()
	var st healthStore = a.Store
	hour, err := st.AttemptOutcomes(ctx, now.Add(-time.Hour))
	if err != nil {
		return HealthView{}, err
	}
	day, err := st.AttemptOutcomes(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return HealthView{}, err
	}
	queue, err := st.QueueStats(ctx, now)
	if err != nil {
		return HealthView{}, err
	}
	circuits := map[string]engine.TargetStatus{}
	if status != nil {
		for _, st := range status() {
			circuits[st.Name] = st
		}
	}
	out := HealthView{Status: StatusHealthy, CheckedAt: now, Targets: []TargetHealth{},
		Thresholds: HealthLimits{Healthy: h.Healthy, Incident: h.Incident, MinAttempts: h.MinAttempts}}
	for i := range a.Cfg.Targets {
		name := a.Cfg.Targets[i].Name
		c := circuits[name]
		if c.Circuit == "" {
			c.Circuit = engine.CircuitClosed
		}
		q := queue[name]
		th := TargetHealth{Target: name, Circuit: c.Circuit, LastHour: toWindow(hour[name]), LastDay: toWindow(day[name]),
			QueueDepth: q.PendingActions, LeasedJobs: q.LeasedJobs}
		if !q.Oldest.IsZero() {
			oldest := q.Oldest
			th.OldestPending = &oldest
			th.OldestPendingAgeSeconds = max(0, now.Sub(q.Oldest).Seconds())
		}
		th.Status, th.Reason = judge(c, th.LastHour, th.LastDay, h)
		if statusRank[th.Status] > statusRank[out.Status] {
			out.Status = th.Status
		}
		out.Targets = append(out.Targets, th)
	}
	return out, nil
}

// judge decides a target's status: down while its circuit is open or its
// credentials are refused; otherwise by the success rate of the last hour,
// or of the last day when the hour had too few attempts to say.
func judge(c engine.TargetStatus, hour, day HealthWindow, h config.Health) (string, string) {
	switch c.Circuit {
	case engine.CircuitOpen:
		return StatusDown, joinReason("circuit open: the target is not answering", c.Reason)
	case engine.CircuitPaused:
		return StatusDown, joinReason("paused: the target refused accord's credentials", c.Reason)
	}
	w, span := hour, "last hour"
	if w.Attempts < h.MinAttempts {
		w, span = day, "last day"
	}
	status, reason := StatusHealthy, fmt.Sprintf("fewer than %d attempts in the last day: nothing to judge by", h.MinAttempts)
	if w.Attempts >= h.MinAttempts {
		rate := *w.SuccessRate
		reason = fmt.Sprintf("%.2f%% of %d attempts succeeded in the %s", rate, w.Attempts, span)
		switch {
		case rate < h.Incident:
			status = StatusIncident
		case rate < h.Healthy:
			status = StatusDegraded
		}
	}
	if c.Circuit == engine.CircuitHalfOpen && statusRank[status] < statusRank[StatusDegraded] {
		return StatusDegraded, joinReason("probing whether the target is back", reason)
	}
	return status, reason
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// healthMonitor remembers each target's last status, to alert once when a
// target enters incident rather than at every check.
type healthMonitor struct {
	mu   sync.Mutex
	last map[string]string
	// at is when the judgement recorded last was made: a judgement made
	// before it (the monitor's and a request's ran side by side and the
	// older finished last) is stale and changes nothing.
	at time.Time
}

func newHealthMonitor() *healthMonitor { return &healthMonitor{last: map[string]string{}} }

func (m *healthMonitor) record(d *Daemon, ctx context.Context, hv HealthView) {
	m.mu.Lock()
	if hv.CheckedAt.Before(m.at) {
		m.mu.Unlock()
		return
	}
	m.at = hv.CheckedAt
	var entered []TargetHealth
	for _, t := range hv.Targets {
		if t.Status == StatusIncident && m.last[t.Target] != StatusIncident {
			entered = append(entered, t)
		}
		m.last[t.Target] = t.Status
	}
	m.mu.Unlock()
	for _, t := range entered {
		d.app.Notifier.Notify(ctx, notify.Event{Kind: notify.TargetIncident, Time: hv.CheckedAt, Target: t.Target,
			Message: fmt.Sprintf("target %s is in incident: %s", t.Target, t.Reason),
			Details: map[string]any{"last_hour": t.LastHour, "last_day": t.LastDay, "queue_depth": t.QueueDepth, "circuit": t.Circuit}})
	}
}

func (d *Daemon) runHealthMonitor(ctx context.Context) {
	tick := time.NewTicker(d.health.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := d.Health(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("health check", "error", err)
		}
	}
}
