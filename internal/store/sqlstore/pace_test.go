package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// Two nodes on one PostgreSQL schema, each with its own store and its
// own pacing of one target: together they never exceed the target's rate
// limit (with its burst) nor its concurrency (issue 11: 2 nodes at 20/s
// sent 40 req/s, 3 nodes with concurrency 4 had about 11 in flight).
func TestSharedPaceIsClusterWide(t *testing.T) {
	t.Parallel()
	dsn := freshSchema(t, postgresDSN(t))
	const perSecond, burst, concurrency = 40.0, 4, 3
	nodes := make([]*pace.Target, 2)
	for i := range nodes {
		s, err := sqlstore.Open(t.Context(), "postgres", dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.NotNil(t, s.Pace())
		nodes[i] = pace.New("crm", pace.Settings{Concurrency: concurrency, PerSecond: perSecond, Burst: burst},
			pace.Options{Shared: s.Pace(), Holder: []string{"node-a", "node-b"}[i]})
	}
	ctx := context.Background()

	// Rate: 2 nodes x 6 workers, 80 requests in all. Each request took
	// its token somewhere between entering and leaving the gate.
	type span struct{ in, out time.Time }
	var mu sync.Mutex
	var passed []span
	perNode := make([]int, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		for range 6 {
			wg.Go(func() {
				for {
					in := time.Now()
					require.NoError(t, n.Gate(ctx))
					out := time.Now()
					mu.Lock()
					if len(passed) >= 80 {
						mu.Unlock()
						return
					}
					passed = append(passed, span{in, out})
					perNode[i]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	require.Positive(t, perNode[0])
	require.Positive(t, perNode[1])
	// In any span of time, the requests that surely took their token
	// within it (entered and left the gate inside it) are no more than
	// the bucket allows: its burst plus what it refills.
	for _, a := range passed {
		for _, b := range passed {
			from, to := a.in, b.out
			if !to.After(from) {
				continue
			}
			n := 0
			for _, k := range passed {
				if !k.in.Before(from) && !k.out.After(to) {
					n++
				}
			}
			require.LessOrEqual(t, float64(n), burst+perSecond*to.Sub(from).Seconds(), "%d requests within %s", n, to.Sub(from))
		}
	}

	// Concurrency: 2 nodes x 6 callers, at most 3 calls in flight in all.
	inFlight, peak := 0, 0
	for _, n := range nodes {
		for range 6 {
			wg.Go(func() {
				for range 4 {
					require.NoError(t, n.Do(ctx, true, func() error {
						mu.Lock()
						inFlight++
						peak = max(peak, inFlight)
						mu.Unlock()
						time.Sleep(5 * time.Millisecond) // the request
						mu.Lock()
						inFlight--
						mu.Unlock()
						return nil
					}))
				}
			})
		}
	}
	wg.Wait()
	require.LessOrEqual(t, peak, concurrency)

	// A pause one node learns (a 429's Retry-After) holds the other.
	until := time.Now().Add(time.Hour)
	nodes[0].Hold(until)
	hctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, nodes[1].Gate(hctx), context.DeadlineExceeded, "held by the other node's pause")
	require.Equal(t, until.UnixMicro(), nodes[1].Status().PausedUntil.UnixMicro())
	require.NoError(t, nodes[1].Resume(ctx))
	require.NoError(t, nodes[0].Gate(ctx), "a resume on one node lifts the hold everywhere")
}

// `accord targets resume` reaches a daemon through the store: its
// watcher resumes the target (a credential pause is probed at once
// instead of after failure.auth_probe), and `targets list` reads what
// the daemon published.
func TestPaceBoardResumesAndPublishes(t *testing.T) {
	t.Parallel()
	s := openSQLite(t)
	ctx := context.Background()
	p := pace.New("crm", pace.Settings{Concurrency: 2, PerSecond: 5}, pace.Options{})
	require.NoError(t, s.RequestResume(ctx, "crm", time.Now().Add(-time.Hour)), "a resume from before the daemon started")
	w := pace.NewWatcher(ctx, s, "node-a", []*pace.Target{p})

	p.Record(ctx, 1, &connector.Error{Kind: connector.Auth, Status: 401, Message: "401 Unauthorized"}, time.Now(), true)
	w.Step(ctx)
	n, _ := p.Leasable(4, time.Now())
	require.Zero(t, n, "an old resume request is not applied")
	views, err := s.PaceViews(ctx)
	require.NoError(t, err)
	require.Len(t, views, 1)
	require.Equal(t, "node-a", views[0].Node)
	require.Equal(t, pace.CircuitPaused, views[0].Status.Circuit)
	require.Contains(t, views[0].Status.Reason, "401 Unauthorized")
	require.Equal(t, 5.0, views[0].Status.Configured)

	require.NoError(t, s.RequestResume(ctx, "crm", time.Now()))
	w.Step(ctx)
	n, probe := p.Leasable(4, time.Now())
	require.Equal(t, 1, n)
	require.True(t, probe, "probed at once after the resume")
}

// A request slot lives by its holder's heartbeat: an extended slot still
// counts past its first expiry, and a slot nobody extends (its node was
// killed) is free again once it expires, so a dead node blocks the
// others for SlotExpiry at most, not for the longest request timeout.
func TestSharedSlotsLiveByHeartbeat(t *testing.T) {
	t.Parallel()
	dsn := freshSchema(t, postgresDSN(t))
	s, err := sqlstore.Open(t.Context(), "postgres", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	sh, ctx := s.Pace(), context.Background()
	t0 := time.Now()
	for _, h := range []string{"alive/1", "dead/1"} {
		ok, err := sh.Acquire(ctx, "crm", h, 2, t0, t0.Add(pace.SlotExpiry))
		require.NoError(t, err)
		require.True(t, ok, h)
	}
	ok, err := sh.Acquire(ctx, "crm", "other/1", 2, t0, t0.Add(pace.SlotExpiry))
	require.NoError(t, err)
	require.False(t, ok, "both slots are held")

	require.NoError(t, sh.Extend(ctx, "crm", "alive/1", t0.Add(2*pace.SlotExpiry)))
	later := t0.Add(pace.SlotExpiry + time.Second)
	ok, err = sh.Acquire(ctx, "crm", "other/1", 2, later, later.Add(pace.SlotExpiry))
	require.NoError(t, err)
	require.True(t, ok, "the dead holder's slot expired")
	ok, err = sh.Acquire(ctx, "crm", "other/2", 2, later, later.Add(pace.SlotExpiry))
	require.NoError(t, err)
	require.False(t, ok, "the extended slot still counts")
}

// A resume makes the target's waiting jobs due at once, on both
// dialects: while the target was paused they were put off until its
// next probe, and a resume must not wait for that (issue 12). Other
// targets' jobs, and jobs already due, keep their times.
func TestResumeMakesTheTargetsJobsDue(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		run := model.Run{ID: "r1", Scope: "all", State: model.RunPending, CreatedAt: t0}
		jobs := []model.Job{
			{PersonKey: "E1", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}},
			{PersonKey: "E2", Target: "erp", Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}},
		}
		require.NoError(t, s.CreateRun(ctx, &run, jobs))
		leased, err := s.LeaseJobs(ctx, store.LeaseRequest{Owner: "A", Max: 2, Now: t0, Until: t0.Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, leased, 2)
		// Both wait for their target's probe, a minute away.
		var b store.Batch
		for _, j := range leased {
			b.Jobs = append(b.Jobs, store.JobUpdate{ID: j.ID, State: model.JobPending, NextAt: t0.Add(time.Minute), At: t0})
			b.Fences = append(b.Fences, store.Fence{Job: j.ID, Epoch: j.Epoch})
		}
		require.NoError(t, s.Commit(ctx, b))
		later := t0.Add(time.Second)
		none, err := s.LeaseJobs(ctx, store.LeaseRequest{Owner: "A", Max: 2, Now: later, Until: later.Add(time.Minute)})
		require.NoError(t, err)
		require.Empty(t, none)

		require.NoError(t, s.RequestResume(ctx, "crm", later))
		got, err := s.LeaseJobs(ctx, store.LeaseRequest{Owner: "A", Max: 2, Now: later, Until: later.Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, got, 1, "crm's job is due at once")
		require.Equal(t, "crm", got[0].Target)
	})
}
