package daemon_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// scheduledApp opens, beside the world's app, one on the same store whose
// config reconciles saas every hour: a node of the same deployment that
// runs the schedule. (The world's own config has no schedule.)
func scheduledApp(w *world) *app.App {
	w.t.Helper()
	cfg, err := os.ReadFile(filepath.Join(w.dir, "accord.yaml"))
	require.NoError(w.t, err)
	const after = "    concurrency: 2\n"
	require.Contains(w.t, string(cfg), after)
	scheduled := strings.Replace(string(cfg), after, after+"    reconcile: {schedule: 1h}\n", 1)
	path := filepath.Join(w.dir, "accord-scheduled.yaml")
	require.NoError(w.t, os.WriteFile(path, []byte(scheduled), 0o600))
	a, err := app.Open(context.Background(), path, app.Options{Logger: testkit.QuietLogger(), Now: w.clock.Now})
	require.NoError(w.t, err)
	w.t.Cleanup(func() { a.Close(context.Background()) })
	tcfg, ok := a.Cfg.Target("saas")
	require.True(w.t, ok)
	require.Equal(w.t, time.Hour, tcfg.Reconcile.Schedule)
	return a
}

// cycles hands a daemon the cycles of its schedule one at a time, in
// place of the clock.
type cycles struct {
	begin chan time.Time
	// waiting gets a value each time the daemon waits for a cycle: all it
	// did before (resuming at start, the last cycle) is over.
	waiting chan struct{}
}

func (c *cycles) next(ctx context.Context, _ string, _ time.Duration) (time.Time, error) {
	select {
	case c.waiting <- struct{}{}:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	select {
	case at := <-c.begin:
		return at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// idle waits until the daemon waits for its next cycle.
func (c *cycles) idle(t testing.TB) {
	t.Helper()
	select {
	case <-c.waiting:
	case <-time.After(2 * time.Minute):
		t.Fatal("the daemon did not come back to wait for a cycle within 2m")
	}
}

// scheduled is a daemon running the schedule, with its log.
type scheduled struct {
	d      *daemon.Daemon
	cycles *cycles
	log    *testkit.SyncBuffer
	// stop ends its Run and waits for it.
	stop func()
}

// runScheduled runs a daemon of a with the schedule on, beside eng (nil:
// no engine in its process).
func runScheduled(t testing.TB, a *app.App, eng daemon.Engine) *scheduled {
	t.Helper()
	s := &scheduled{cycles: &cycles{begin: make(chan time.Time), waiting: make(chan struct{})}, log: &testkit.SyncBuffer{}}
	s.d = daemon.New(daemon.Options{App: a, Engine: eng, Schedule: true,
		Logger: slog.New(slog.NewTextHandler(s.log, nil))})
	daemon.SetCycles(s.d, s.cycles.next)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.d.Run(ctx) }()
	s.stop = func() { cancel(); <-done }
	t.Cleanup(s.stop)
	return s
}

// reconsSince lists saas's reconciliations started at or after at.
func reconsSince(t testing.TB, a *app.App, at time.Time) []store.Recon {
	t.Helper()
	recs, err := a.Store.ListRecons(context.Background(), store.ReconQuery{Target: "saas"})
	require.NoError(t, err)
	var out []store.Recon
	for _, r := range recs {
		if !r.StartedAt.Before(at) {
			out = append(out, r)
		}
	}
	return out
}

// TestScheduledReconciliationIsPacedByTheEngine: the scheduled
// reconciliation sends its requests through the pacing of the engine
// beside it. The target answers its listing 429 with Retry-After of an
// hour, and the engine holds every request to the target for that hour
// (its own actions included), as it does when an action is refused. A
// reconciliation of the target asked for meanwhile, over this daemon or
// another process, is refused, not run beside it.
func TestScheduledReconciliationIsPacedByTheEngine(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, RetryAfter: targetsim.Duration(time.Hour),
		Method: "GET", Pattern: "/scim/v2/Users", Times: 1})
	require.NoError(t, err)
	for _, st := range w.eng.Status() {
		require.True(t, st.PausedUntil.IsZero(), "%s paused before the test: %+v", st.Name, st)
	}

	s := runScheduled(t, scheduledApp(w), w.eng)
	s.cycles.idle(t)
	at := w.clock.Now()
	s.cycles.begin <- at
	w.until("the engine to hold saas for the hour the target asked", func() bool {
		for _, st := range w.eng.Status() {
			if st.Name == "saas" && st.PausedUntil.After(time.Now().Add(50*time.Minute)) {
				return true
			}
		}
		return false
	})
	recs := reconsSince(t, w.app, at)
	require.Len(t, recs, 1)
	rec := recs[0]
	require.True(t, rec.FinishedAt.IsZero(), "waiting as the target asked")
	require.Equal(t, daemon.ReconHere{Running: true}, s.d.Here("saas", rec.ID))

	ctx := context.Background()
	var running *daemon.RunningError
	_, _, err = s.d.Reconcile(ctx, "saas", false, "apikey:ops")
	require.ErrorAs(t, err, &running, "asked of the daemon running the schedule")
	require.Equal(t, rec.ID, running.ID)
	_, _, err = w.d.Reconcile(ctx, "saas", false, "apikey:ops")
	require.ErrorIs(t, err, store.ErrConflict, "asked of another daemon")

	s.stop()
	stored, err := w.app.Store.GetRecon(ctx, rec.ID)
	require.NoError(t, err)
	require.True(t, stored.FinishedAt.IsZero(), "stopped, to resume later")
	require.True(t, stored.LeaseUntil.IsZero(), "its lease given back")
}

// TestTwoDaemonsOnOneStoreReconcileOncePerCycle: two nodes with the same
// schedule reconcile the target once per cycle, whether their cycles
// begin together (the second finds the first's lease) or one after the
// other (the second finds the cycle's reconciliation done); the node that
// does not reconcile says why.
func TestTwoDaemonsOnOneStoreReconcileOncePerCycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	nodes := []*scheduled{runScheduled(t, scheduledApp(w), nil), runScheduled(t, scheduledApp(w), nil)}
	for _, n := range nodes {
		n.cycles.idle(t)
	}
	skipped := func() int {
		c := 0
		for _, n := range nodes {
			c += strings.Count(n.log.String(), "scheduled reconciliation skipped")
		}
		return c
	}

	// Together.
	at := w.clock.Now()
	for _, n := range nodes {
		go func() { n.cycles.begin <- at }()
	}
	for _, n := range nodes {
		n.cycles.idle(t)
	}
	recs := reconsSince(t, w.app, at)
	require.Len(t, recs, 1, "one reconciliation in the cycle")
	require.False(t, recs[0].FinishedAt.IsZero())
	require.Equal(t, 1, skipped())

	// One after the other, in either order.
	for i, order := range [][]*scheduled{nodes, {nodes[1], nodes[0]}} {
		at := w.clock.Now()
		for _, n := range order {
			n.cycles.begin <- at
			n.cycles.idle(t)
		}
		recs := reconsSince(t, w.app, at)
		require.Len(t, recs, 1, "cycle %d: one reconciliation", i+2)
		require.False(t, recs[0].FinishedAt.IsZero())
		require.Contains(t, order[1].log.String(), "scheduled reconciliation skipped: the target was reconciled in this cycle")
		require.Contains(t, order[1].log.String(), recs[0].ID)
		require.Equal(t, 2+i, skipped())
	}
	all, err := w.app.Store.ListRecons(context.Background(), store.ReconQuery{Target: "saas"})
	require.NoError(t, err)
	require.Len(t, all, 3, "three cycles, three reconciliations")
}

// TestScheduleResumesAnUnfinishedReconciliationAtStart: a reconciliation
// left unfinished by a process that died is resumed as soon as the
// schedule starts, not at the next cycle, and no new one is begun.
func TestScheduleResumesAnUnfinishedReconciliationAtStart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	now := w.app.Now()
	// Its lease ends at once, as a dead process's does.
	left, _, err := w.app.Store.StartRecon(ctx, "saas", "node-gone", now, now, time.Time{})
	require.NoError(t, err)

	s := runScheduled(t, scheduledApp(w), w.eng)
	s.cycles.idle(t) // after resuming
	got, err := w.app.Store.GetRecon(ctx, left.ID)
	require.NoError(t, err)
	require.False(t, got.FinishedAt.IsZero(), "resumed and finished: %+v", got)
	all, err := w.app.Store.ListRecons(ctx, store.ReconQuery{Target: "saas"})
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Contains(t, s.log.String(), "resumed=true")
}

// TestOncePerCycleWhenTheOtherNodeFinishesBeforeTheClaim: the second
// node of a cycle does not reconcile again when the first one's whole
// reconciliation happens between the second's start of the cycle and its
// claim of the target: the claim itself refuses, naming the cycle's
// reconciliation, and the node says it skipped.
func TestOncePerCycleWhenTheOtherNodeFinishesBeforeTheClaim(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	first := runScheduled(t, scheduledApp(w), nil)
	first.cycles.idle(t)

	at := w.clock.Now()
	var ranFirst bool
	second := &scheduled{cycles: &cycles{begin: make(chan time.Time), waiting: make(chan struct{})}, log: &testkit.SyncBuffer{}}
	second.d = daemon.New(daemon.Options{App: scheduledApp(w), Schedule: true,
		Logger: slog.New(slog.NewTextHandler(second.log, nil))})
	daemon.SetCycles(second.d, second.cycles.next)
	daemon.SetBeforeClaim(second.d, func(string) {
		if ranFirst {
			return
		}
		ranFirst = true
		// The first node's whole reconciliation of the same cycle, now.
		first.cycles.begin <- at
		first.cycles.idle(t)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = second.d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	second.cycles.idle(t)

	second.cycles.begin <- at
	second.cycles.idle(t)
	require.True(t, ranFirst, "the hook ran")
	recs := reconsSince(t, w.app, at)
	require.Len(t, recs, 1, "one reconciliation in the cycle: %+v", recs)
	require.False(t, recs[0].FinishedAt.IsZero())
	require.Contains(t, second.log.String(), "scheduled reconciliation skipped: the target was reconciled in this cycle")
	require.Contains(t, second.log.String(), recs[0].ID)
	require.NotContains(t, first.log.String(), "skipped")
}
