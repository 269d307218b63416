package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
)

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

func (c *cli) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the daemon: import sources on schedule, plan, execute, report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c.daemon = true
			if c.logLevel == "" {
				c.logLevel = "info"
				c.setupLogging()
				c.logLevel = "" // the config's level, if set, takes over
			}
			a, err := c.open(ctx)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			return serve(ctx, c, a)
		},
	}
	return cmd
}

// serve runs until ctx is done: the engine works continuously; sources
// are imported on their schedules (and a fresh feed is enforced at once);
// a full enforcement is planned on the engine schedule.
func serve(parent context.Context, c *cli, a *app.App) error {
	// A component that cannot run (the API cannot listen) stops the whole
	// daemon: half a daemon that looks alive is worse than none.
	ctx, stop := context.WithCancelCause(parent)
	defer stop(nil)
	release, err := a.ClaimExecution(ctx)
	if err != nil {
		return fail(exitFailed, fmt.Errorf("serve: %w", err))
	}
	defer release()
	eng := a.NewEngine(app.EngineOptions{})
	// The daemon re-plans persons as the engine reports on them and
	// reconciles each target on its reconcile.schedule, paced by the
	// engine; it is shared by the API (health, reconciliations) and run
	// as a hook.
	d := daemon.New(daemon.Options{App: a, Engine: eng, Logger: a.Log, Schedule: true})
	a.ObserveEngine(d.Observe)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := eng.Run(ctx); err != nil {
			a.Log.Error("engine stopped", "error", err)
		}
	}()
	enforce := func(trigger string) {
		run, _, err := a.Enforce(ctx, app.Filter{}, trigger)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				a.Log.Error("enforce", "error", err)
			}
		case run != nil && run.State == model.RunHeld:
			a.Log.Warn("run held by a threshold: approve with 'accord runs approve'", "run_id", run.ID, "note", run.Note)
		case run != nil:
			eng.Wake()
		}
	}
	importSource := func(name string) {
		if _, err := a.Import(ctx, name); err != nil {
			if ctx.Err() == nil {
				a.Log.Error("import rejected; nothing changed", "source", name, "error", err)
			}
			return
		}
		enforce("serve:import:" + name)
	}
	for _, h := range serveHooks() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h(ctx, c, a, eng, d); err != nil && ctx.Err() == nil {
				a.Log.Error("serve component failed; stopping", "error", err)
				stop(err)
			}
		}()
	}
	// Start from what HR says now.
	for i := range a.Cfg.Sources {
		if a.Cfg.Sources[i].Format != "scim" { // pushed over inbound SCIM, not read
			importSource(a.Cfg.Sources[i].Name)
		}
	}
	enforce("serve:start")
	for i := range a.Cfg.Sources {
		s := a.Cfg.Sources[i]
		if s.Schedule <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			every(ctx, s.Schedule, func() { importSource(s.Name) })
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		every(ctx, a.Cfg.Engine.Schedule, func() { enforce("serve:schedule") })
	}()
	a.Log.Info("accord serving", "targets", len(a.Cfg.Targets), "sources", len(a.Cfg.Sources), "owner", eng.Owner())
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && parent.Err() == nil {
		return fail(exitFailed, err)
	}
	a.Log.Info("accord stopped")
	return nil
}

func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// simTokenEnv is where the simulator reads its bearer token, when --token is not given.
const simTokenEnv = "ACCORD_SIM_TOKEN"

func (c *cli) simulatorCmd() *cobra.Command {
	var (
		addr       string
		opts       targetsim.Options
		token      string
		quota      int
		quotaWin   time.Duration
		quotaStyle string
	)
	cmd := &cobra.Command{
		Use:   "simulator",
		Short: "run the target simulator: a fake SaaS with a SCIM 2.0 surface and fault injection, for demos and tests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token = os.Getenv(simTokenEnv)
			}
			if token != "" {
				opts.Token = token
			}
			if quota > 0 {
				q := targetsim.Quota{Limit: quota, Window: quotaWin, Style: targetsim.QuotaStyle(quotaStyle)}
				if err := q.Check(); err != nil {
					return fail(exitUsage, fmt.Errorf("--quota: %w", err))
				}
				opts.Quota = &q
			}
			err := targetsim.Serve(cmd.Context(), addr, opts, c.stdout)
			if err != nil && !errors.Is(err, context.Canceled) {
				return fail(exitFailed, fmt.Errorf("simulator: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "listen", "127.0.0.1:8090", "address to listen on")
	cmd.Flags().StringVar(&token, "token", "", "require this bearer token (for demos only: a flag shows in the process list; prefer "+simTokenEnv+")")
	cmd.Flags().Int64Var(&opts.Seed, "seed", 1, "seed for random faults")
	cmd.Flags().IntVar(&quota, "quota", 0, "allow this many requests per --quota-window, announced in every answer (0: no quota)")
	cmd.Flags().DurationVar(&quotaWin, "quota-window", time.Second, "the quota's window, in whole seconds")
	cmd.Flags().StringVar(&quotaStyle, "quota-style", string(targetsim.QuotaXRateLimit),
		"how answers announce the quota: x-ratelimit, ratelimit-reset or ratelimit")
	cmd.Flags().BoolVar(&opts.AllowDuplicates, "allow-duplicates", false,
		"POST /Users with a taken userName creates a second user, as many REST APIs do, instead of 409")
	return cmd
}
