package daemon_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// TestReconciliationStoppedByShutdownResumes: a reconciliation asked of
// the daemon runs in the background under its lease; a second one of the
// same target is refused while it runs; the daemon's shutdown stops it,
// gives its lease back and audits why, and the next daemon's
// reconciliation of the target resumes it rather than beginning anew.
func TestReconciliationStoppedByShutdownResumes(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	// The simulator holds a request with injected latency until the
	// client gives up on it.
	w := newWorld(t, worldOptions{simSleep: func(ctx context.Context, _ time.Duration) error {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(time.Millisecond),
		Method: "GET", Pattern: "/scim/v2/Users", Times: 1})
	require.NoError(t, err)
	ctx := context.Background()

	rec, resumed, err := w.d.Reconcile(ctx, "saas", true, "apikey:ops")
	require.NoError(t, err)
	require.False(t, resumed)
	<-arrived // listing the accounts, held at the target
	require.Equal(t, daemon.ReconHere{Running: true, DryRun: true}, w.d.Here("saas", rec.ID))
	_, _, err = w.d.Reconcile(ctx, "saas", false, "apikey:ops")
	var running *daemon.RunningError
	require.ErrorAs(t, err, &running)
	require.Equal(t, rec.ID, running.ID)

	w.stop()
	<-w.stopped
	_, _, err = w.d.Reconcile(ctx, "saas", true, "apikey:ops")
	require.ErrorIs(t, err, daemon.ErrStopping)
	here := w.d.Here("saas", rec.ID)
	require.False(t, here.Running)
	require.NotEmpty(t, here.LastError, "remembered for the listing")
	stored, err := w.app.Store.GetRecon(ctx, rec.ID)
	require.NoError(t, err)
	require.True(t, stored.FinishedAt.IsZero(), "interrupted, not done")
	require.True(t, stored.LeaseUntil.IsZero(), "its lease given back")
	events, err := w.app.Store.ListAudit(ctx, store.AuditQuery{Target: "saas", Kinds: []audit.Kind{audit.KindEvent}})
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(events, func(r audit.Record) bool {
		return r.Operation == "reconcile" && r.Actor == "apikey:ops" && r.Outcome == "failed" &&
			strings.Contains(r.Message, "reconciliation "+rec.ID+" of saas stopped by shutdown; the next one resumes it")
	}), "the stop is audited")

	// The next daemon (a restart) picks it up where it stopped.
	next := daemon.New(daemon.Options{App: w.app, Engine: w.eng, Logger: testkit.QuietLogger()})
	nctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = next.Run(nctx) }()
	t.Cleanup(func() { stop(); <-done })
	again, resumed, err := next.Reconcile(ctx, "saas", true, "apikey:ops")
	require.NoError(t, err)
	require.True(t, resumed)
	require.Equal(t, rec.ID, again.ID)
	w.until("the resumed reconciliation to finish", func() bool {
		r, err := w.app.Store.GetRecon(ctx, rec.ID)
		require.NoError(t, err)
		return !r.FinishedAt.IsZero()
	})
	require.Empty(t, next.Here("saas", rec.ID).LastError)
}

// TestReconcileRefusesWhatAnotherProcessHolds: a reconciliation leased
// by another node is refused with the store's conflict, and this daemon
// keeps nothing of it.
func TestReconcileRefusesWhatAnotherProcessHolds(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	now := w.app.Now()
	held, _, err := w.app.Store.StartRecon(ctx, "saas", "node-b", now, now.Add(time.Hour), time.Time{})
	require.NoError(t, err)
	_, _, err = w.d.Reconcile(ctx, "saas", false, "apikey:ops")
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, err.Error(), "node-b")
	require.Equal(t, daemon.ReconHere{}, w.d.Here("saas", held.ID))
	var running *daemon.RunningError
	_, _, err = w.d.Reconcile(ctx, "saas", false, "apikey:ops")
	require.False(t, errors.As(err, &running), "nothing left running here: %v", err)
}
