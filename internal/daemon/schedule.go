package daemon

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/wait"
)

// scheduleTrigger names the scheduled reconciliations (recon's trigger,
// the actor of their audit).
const scheduleTrigger = "serve"

// cycleFunc waits for the next cycle of a schedule of every and returns
// when it began.
type cycleFunc func(ctx context.Context, target string, every time.Duration) (time.Time, error)

// nextCycle waits for the next multiple of every on the app's clock.
// Cycles are aligned to the clock, not to when the process started, so
// that every node with the same schedule begins a cycle at the same time
// and the first to claim the target does that cycle's reconciliation.
func (d *Daemon) nextCycle(ctx context.Context, _ string, every time.Duration) (time.Time, error) {
	now := d.app.Now()
	start := now.Truncate(every).Add(every)
	if err := wait.For(ctx, start.Sub(now)); err != nil {
		return time.Time{}, err
	}
	return start, nil
}

// runReconSchedule reconciles each target on its reconcile.schedule until
// ctx is done, as the reconciliations asked for over the API are run:
// under this daemon's lease owner and paced by its engine. A target's
// reconciliation left unfinished (a crash, a shutdown) is resumed at once.
func (d *Daemon) runReconSchedule(ctx context.Context) {
	env := d.reconEnv()
	var wg sync.WaitGroup
	for _, target := range env.Targets() {
		t, _ := d.app.Cfg.Target(target)
		if t.Reconcile.Schedule <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.reconcileEvery(ctx, target, t.Reconcile.Schedule)
		}()
	}
	wg.Wait()
}

func (d *Daemon) reconcileEvery(ctx context.Context, target string, every time.Duration) {
	st := d.reconsStore()
	if recs, err := st.ListRecons(ctx, store.ReconQuery{Target: target, Limit: 1}); err != nil {
		if ctx.Err() == nil {
			d.log.Warn("scheduled reconciliation: cannot tell whether one is unfinished; the next cycle resumes it",
				"target", target, "error", err)
		}
	} else if len(recs) == 1 && recs[0].FinishedAt.IsZero() {
		d.reconcileScheduled(ctx, target, time.Time{})
	}
	next := d.cycle
	if next == nil {
		next = d.nextCycle
	}
	for {
		start, err := next(ctx, target, every)
		if err != nil {
			return
		}
		d.reconcileScheduled(ctx, target, start)
	}
}

// reconcileScheduled is the reconciliation of target for the cycle that
// began at cycle (zero: resuming an unfinished one at start), and waits
// for it to end. It is skipped, with a log line, when the target was
// reconciled in this cycle already (another node's schedule), or when a
// reconciliation of it runs now, here (asked over the API) or elsewhere
// (the store's lease). The store decides the first in the same step as
// it claims the target: a reconciliation another node began and finished
// since this one's cycle began is seen, however late this node claims.
// A cycle's reconciliation starts after the cycle began on the node that
// ran it, so any node comparing with its own cycle start finds it,
// whatever the skew of their clocks below a cycle.
func (d *Daemon) reconcileScheduled(ctx context.Context, target string, cycle time.Time) {
	if d.beforeClaim != nil {
		d.beforeClaim(target)
	}
	rec, resumed, finished, err := d.startRecon(ctx, target, false, scheduleTrigger, cycle)
	var running *RunningError
	switch {
	case errors.Is(err, ErrStopping):
		return
	case errors.Is(err, store.ErrReconciled):
		d.log.Info("scheduled reconciliation skipped: the target was reconciled in this cycle",
			"target", target, "cycle", cycle, "reason", err)
		return
	case errors.As(err, &running):
		d.log.Info("scheduled reconciliation skipped: one of this target is running here", "target", target, "recon_id", running.ID)
		return
	case errors.Is(err, store.ErrConflict):
		d.log.Info("scheduled reconciliation skipped: another process is reconciling the target", "target", target, "reason", err)
		return
	case err != nil:
		if ctx.Err() == nil {
			d.log.Warn("scheduled reconciliation not started; the next cycle tries again", "target", target, "error", err)
		}
		return
	}
	d.log.Info("scheduled reconciliation", "target", target, "recon_id", rec.ID, "resumed", resumed)
	// The daemon's shutdown ends it (runReconJobs), as it ends any.
	<-finished
}
