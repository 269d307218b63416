package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
)

// extraCommands lets each feature's file add its commands in init, so
// that features do not all edit the root command.
var extraCommands []func(c *cli) *cobra.Command

// serveHook runs alongside `accord serve` (the HTTP API, scheduled
// reconciliation) until ctx is done.
type serveHook func(ctx context.Context, c *cli, a *app.App, eng *engine.Engine) error

var serveHooks []serveHook
