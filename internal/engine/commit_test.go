package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// TestCommitterRefusesOutcomesOfATakenOverLease: engine A leased two jobs;
// both leases expired and B took one over. A's outcomes for that job are
// refused (their audit records kept as evidence), whether they travel
// alone or in a group with others; A's outcome for the other job, which
// nobody took, goes in.
func TestCommitterRefusesOutcomesOfATakenOverLease(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	run := model.Run{ID: "r1", Scope: "all", State: model.RunPending, CreatedAt: t0}
	jobs := []model.Job{
		{PersonKey: "E1", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}},
		{PersonKey: "E2", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}},
	}
	require.NoError(t, st.CreateRun(ctx, &run, jobs))

	c := newCommitter(st, slog.New(slog.DiscardHandler))
	defer c.Close()
	mine, err := st.LeaseJobs(ctx, store.LeaseRequest{Owner: "A", Max: 2, Now: t0, Until: t0.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, mine, 2)
	c.leases.hold(mine)
	// A's heartbeat stops; both leases expire and B takes one job.
	later := t0.Add(2 * time.Minute)
	theirs, err := st.LeaseJobs(ctx, store.LeaseRequest{Owner: "B", Target: "crm", Max: 1, Now: later, Until: later.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, theirs, 1)
	require.Equal(t, mine[0].ID, theirs[0].ID, "B took E1 over")

	outcome := func(j model.Job) store.Batch {
		a := j.Actions[0]
		return store.Batch{
			Audit:   []audit.Record{{Time: t0, Kind: audit.KindAttemptEnd, RunID: "r1", ActionID: a.ID, Outcome: "succeeded"}},
			Actions: []store.ActionUpdate{{ID: a.ID, State: model.ActionSucceeded, Attempts: 1, At: t0}},
			Jobs:    []store.JobUpdate{{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: t0}},
		}
	}
	c.Async(outcome(mine[0]))
	require.NoError(t, c.Wait(ctx, outcome(mine[1])), "E2 was not taken over: A's outcome stands")
	require.ErrorIs(t, c.Wait(ctx, outcome(mine[0])), store.ErrFenced, "E1 was: A's outcome is refused")

	got, err := st.GetAction(ctx, mine[1].Actions[0].ID)
	require.NoError(t, err)
	require.Equal(t, model.ActionSucceeded, got.State, "the job no one took over is committed")
	got, err = st.GetAction(ctx, mine[0].Actions[0].ID)
	require.NoError(t, err)
	require.Equal(t, model.ActionPending, got.State, "B's job is untouched by A's outcome")
	recs, err := st.ListAudit(ctx, store.AuditQuery{ActionID: mine[0].Actions[0].ID})
	require.NoError(t, err)
	require.Len(t, recs, 2, "A's requests are still in the audit trail")
}

// commits is a store that counts its commits, can make the first one
// slow, and can refuse every one (an unhelpful failure, as a full disk
// gives).
type commits struct {
	storeT
	mu      sync.Mutex
	batches []store.Batch
	slow    time.Duration
	fail    error
}

func (c *commits) Commit(ctx context.Context, b store.Batch) error {
	c.mu.Lock()
	c.batches = append(c.batches, b)
	first := len(c.batches) == 1
	c.mu.Unlock()
	if first && c.slow > 0 {
		time.Sleep(c.slow)
	}
	if c.fail != nil {
		return c.fail
	}
	return c.storeT.Commit(ctx, b)
}

func (c *commits) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.batches)
}

func event(msg string) store.Batch {
	return store.Batch{Audit: []audit.Record{{Time: time.Now(), Kind: audit.KindEvent, RunID: "r1", Operation: "test", Message: msg}}}
}

// Many workers waiting at once share a few transactions: while one
// commit runs, the next requests gather into one batch.
func TestCommitterGroupsCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := &commits{storeT: openStore(t), slow: 10 * time.Millisecond}
		c := newCommitter(cs, slog.New(slog.DiscardHandler))
		defer c.Close()
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() { require.NoError(t, c.Wait(context.Background(), event(fmt.Sprint(i)))) })
		}
		wg.Wait()
		require.LessOrEqual(t, cs.count(), 3, "50 waited commits in a few transactions")
		recs, err := cs.ListAudit(context.Background(), store.AuditQuery{RunID: "r1"})
		require.NoError(t, err)
		require.Len(t, recs, 50, "and all of them durable")
	})
}

// Records nobody waits for ride along with the next commit somebody waits
// for; alone, they are committed after asyncDelay.
func TestCommitterAsyncRidesWithTheNextWaitedCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := &commits{storeT: openStore(t)}
		c := newCommitter(cs, slog.New(slog.DiscardHandler))
		defer c.Close()
		c.Async(event("async"))
		time.Sleep(asyncDelay / 2)
		require.NoError(t, c.Wait(context.Background(), event("waited")))
		require.Equal(t, 1, cs.count(), "one transaction")
		require.Len(t, cs.batches[0].Audit, 2, "with both records, in order")
		require.Equal(t, "async", cs.batches[0].Audit[0].Message)

		c.Async(event("alone"))
		time.Sleep(asyncDelay - time.Millisecond)
		synctest.Wait()
		require.Equal(t, 1, cs.count(), "waiting for company")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		require.Equal(t, 2, cs.count(), "committed after asyncDelay")
	})
}

// A store that refuses every commit is retried with backoff, and the
// retry's waits end at once when the committer is aborted (the engine's
// shutdown grace is over): the waiter hears the store's error, and Close
// does not wait out the backoff.
func TestCommitRetryEndsWhenAborted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		full := errors.New("injected: database or disk is full")
		cs := &commits{storeT: openStore(t), fail: full}
		c := newCommitter(cs, slog.New(slog.DiscardHandler))
		done := make(chan error, 1)
		go func() { done <- c.Wait(context.Background(), event("outcome")) }()
		time.Sleep(time.Second)
		synctest.Wait()
		tried := cs.count()
		require.Greater(t, tried, 1, "retried")
		require.Less(t, tried, 8, "still retrying")
		select {
		case err := <-done:
			t.Fatalf("gave up before the retries were over: %v", err)
		default:
		}

		aborted := time.Now()
		c.abort()
		synctest.Wait()
		select {
		case err := <-done:
			require.ErrorIs(t, err, full)
		default:
			t.Fatal("the retry's wait was not cut short by abort")
		}
		c.Close()
		require.Zero(t, time.Since(aborted), "no time passed waiting")
		require.Equal(t, tried, cs.count(), "no commit after abort")
	})
}
