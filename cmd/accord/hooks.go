package main

import (
	"context"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
)

// serveHook runs alongside `accord serve` (the HTTP API, scheduled
// reconciliation) until ctx is done.
type serveHook func(ctx context.Context, c *cli, a *app.App, eng *engine.Engine) error

// serveHooks are every component of `accord serve` beside the engine, in
// one list (no file adds itself by init).
func serveHooks() []serveHook {
	return []serveHook{serveAPI, publishPacing, serveReconcile}
}
