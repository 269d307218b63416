package main

import (
	"context"
	"fmt"
	"net"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/engine"
)

// serveAPI runs the HTTP API (and health and metrics) beside the engine
// and daemon of `accord serve`, on api.listen, until ctx is done; then
// in-flight requests get api.shutdown_grace to finish.
func serveAPI(ctx context.Context, _ *cli, a *app.App, eng *engine.Engine, d *daemon.Daemon) error {
	srv := api.New(api.Options{App: a, Engine: eng, Daemon: d, Logger: a.Log})
	a.ObserveEngine(srv.Observe)
	if err := mountConsole(a, srv); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.Cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api: listen on %s (api.listen): %w", a.Cfg.API.Listen, err)
	}
	return srv.Serve(ctx, ln)
}
