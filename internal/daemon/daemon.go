// Package daemon is the background work of `accord serve` beside the
// engine: it plans persons again when the engine reports that their
// account vanished or that the work their change waited for is done
// (follow-ups), alerts once when a target enters incident (and judges the
// targets' health for it), and runs the reconciliations requested over
// the API and, when asked, those of each target's reconcile.schedule.
//
// It sits below the API: the API reads health and queues reconciliations
// through an interface of its own, and works without a daemon too.
package daemon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/engine"
)

// Engine is what the daemon needs of the engine running in its process.
type Engine interface {
	// Wake makes the engine look for work now, after a run was created.
	Wake()
	// Status reports each target's circuit.
	Status() []engine.TargetStatus
	// Pacer returns a target's request pacing, which reconciliations in
	// this process share.
	Pacer(target string) (connector.Gate, connector.Hold, bool)
}

// Options configure a Daemon.
type Options struct {
	App *app.App
	// Engine may be nil (no engine in this process): new runs then wait
	// for another process's engine to poll, and circuits show as closed.
	Engine Engine
	Logger *slog.Logger
	// Schedule: Run also reconciles each target on its
	// reconcile.schedule (accord serve asks for it). Without, targets are
	// reconciled only when asked.
	Schedule bool
}

// Daemon is the background work beside one engine. Observe takes the
// engine's events; Run does the work until its context is done.
type Daemon struct {
	app    *app.App
	eng    Engine
	log    *slog.Logger
	health config.Health
	follow *followUp
	// monitor remembers each target's last status, to alert on entry.
	monitor *healthMonitor
	recons  *reconJobs
	// schedule: Run reconciles on the targets' schedules; cycle, when
	// set (by tests), replaces the wait for the next cycle.
	schedule bool
	cycle    cycleFunc
	// beforeClaim, when set (by tests), runs in a scheduled
	// reconciliation just before it claims the target.
	beforeClaim func(target string)
}

// New builds a daemon; Run starts its work.
func New(o Options) *Daemon {
	if o.Logger == nil {
		o.Logger = o.App.Log
	}
	return &Daemon{
		app: o.App, eng: o.Engine, log: o.Logger,
		// A config built in code, not parsed, still gets the documented limits.
		health:   o.App.Cfg.API.WithDefaults().Health,
		follow:   newFollowUp(),
		monitor:  newHealthMonitor(),
		recons:   newReconJobs(),
		schedule: o.Schedule,
	}
}

// Observe takes an engine event: a person whose account vanished from a
// target is planned again, and any progress lets waiting follow-ups try
// again. It is quick, as engine observers must be.
func (d *Daemon) Observe(ev engine.Event) {
	if ev.Type == engine.EventAction && ev.AccountGone && ev.Action != nil && d.follow.goneOnce(ev.Action.PersonKey, d.app.Now(), d.app.Cfg.Engine.Schedule) {
		// Deleted on the target behind accord's back: planned again at
		// once, so that policy re-creates it now, not at the next
		// scheduled run.
		d.follow.add(ev.Action.PersonKey)
	}
	switch ev.Type {
	case engine.EventAction, engine.EventJobDone, engine.EventRunDone:
		d.follow.nudge()
	}
}

// FollowUp plans a person again as soon as the engine reports progress:
// their enforcement found earlier work still unfinished on a target.
func (d *Daemon) FollowUp(person string) { d.follow.add(person) }

// Run does the daemon's work until ctx is done: re-planning persons whose
// change waited, incident alerts, the reconciliations requested over the
// API and, with Options.Schedule, the scheduled ones (stopped when ctx is
// done; they resume later).
func (d *Daemon) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	work := []func(context.Context){d.runFollowUps, d.runHealthMonitor, d.runReconJobs}
	if d.schedule {
		work = append(work, d.runReconSchedule)
	}
	for _, f := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	wg.Wait()
	return nil
}

func (d *Daemon) wake() {
	if d.eng != nil {
		d.eng.Wake()
	}
}

func (d *Daemon) status() []engine.TargetStatus {
	if d.eng == nil {
		return nil
	}
	return d.eng.Status()
}
