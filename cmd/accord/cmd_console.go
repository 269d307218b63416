package main

import (
	"fmt"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/console"
)

// mountConsole serves the web console at / on the API's listener.
func mountConsole(a *app.App, srv *api.Server) error {
	sessions, ok := a.Store.(console.Sessions)
	if !ok {
		return fmt.Errorf("console: the store %T keeps no console sessions", a.Store)
	}
	c, err := console.New(console.Options{API: srv, Sessions: sessions, Config: a.Cfg.API.Console, Now: a.Now, Logger: a.Log})
	if err != nil {
		return err
	}
	srv.Mount(c)
	return nil
}
