package main

import (
	"context"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/engine"
)

// serveHook runs alongside `accord serve` (the daemon's background work,
// the HTTP API, the pacing published) until ctx is done. Each is
// given the one engine and the one daemon beside it.
type serveHook func(ctx context.Context, c *cli, a *app.App, eng *engine.Engine, d *daemon.Daemon) error

// serveHooks are every component of `accord serve` beside the engine, in
// one list (no file adds itself by init).
func serveHooks() []serveHook {
	return []serveHook{runDaemon, serveAPI, publishPacing}
}

// runDaemon does the daemon's background work: follow-ups, incident
// alerts, the reconciliations requested over the API and those of the
// targets' reconcile.schedule.
func runDaemon(ctx context.Context, _ *cli, _ *app.App, _ *engine.Engine, d *daemon.Daemon) error {
	return d.Run(ctx)
}
