package main

import (
	"context"
	"sync"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
)

// serveReconcile reconciles each target on its reconcile.schedule. A
// reconciliation left unfinished by an earlier process resumes at once.
func serveReconcile(ctx context.Context, _ *cli, a *app.App, eng *engine.Engine, _ *daemon.Daemon) error {
	env := daemon.ReconEnv(a, a.Log)
	reconcile := func(target string) {
		res, err := recon.Reconcile(ctx, env, target, recon.Options{Trigger: "serve"})
		switch {
		case err != nil:
			if ctx.Err() == nil {
				a.Log.Error("reconciliation failed; the next one resumes it", "target", target, "error", err)
			}
		case res.Run != nil && res.Run.State == model.RunHeld:
			a.Log.Warn("reconciliation run held by a threshold: approve with 'accord runs approve'", "run_id", res.Run.ID, "note", res.Run.Note)
		case res.Run != nil:
			eng.Wake()
		}
	}
	var wg sync.WaitGroup
	for _, target := range env.Targets() {
		t, _ := a.Cfg.Target(target)
		if t.Reconcile.Schedule <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if recs, err := a.Store.ListRecons(ctx, store.ReconQuery{Target: target, Limit: 1}); err == nil &&
				len(recs) == 1 && recs[0].FinishedAt.IsZero() {
				reconcile(target)
			}
			every(ctx, t.Reconcile.Schedule, func() { reconcile(target) })
		}()
	}
	wg.Wait()
	return nil
}
