package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/wait"
)

// committer funnels every outcome, audit record and known-state change
// through one goroutine that commits them in batches: many workers, one
// transaction per round. Order is preserved (FIFO), so an action's outcome
// is never committed after the start of the next action of its job.
type committer struct {
	st       committerStore
	log      *slog.Logger
	in       chan commitReq
	maxBatch int
	done     chan struct{}
	once     sync.Once
	mu       sync.RWMutex // guards sends against close
	isClosed bool
	leases   leases
	// ended is called after a commit that ended jobs: only then can a run
	// be found finished.
	ended func()
	// stop ends the retries of a failing store (see abort).
	stop  context.Context
	abort context.CancelFunc
}

// leases remembers the epoch of each job this engine holds, so that every
// outcome is committed with its fence: the store refuses the outcomes of
// a lease another owner took over.
type leases struct {
	mu     sync.Mutex
	epochs map[int64]int64   // job -> epoch
	jobOf  map[int64]int64   // action -> job
	acts   map[int64][]int64 // job -> actions
	// until is how long each job is surely still leased to this engine:
	// its lease's end, pushed by each heartbeat that found it unexpired.
	until map[int64]time.Time
}

// extended records a heartbeat that pushed this owner's leases to until
// and had its answer by done. A job whose lease had not ended by done
// was still this engine's when the store extended it, so nobody can have
// taken it over: it is held until until. A job whose lease may have ended
// before the write is left to run out.
func (l *leases) extended(done, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for job, u := range l.until {
		if u.After(done) && until.After(u) {
			l.until[job] = until
		}
	}
}

// heldUntil is how long job is surely still leased to this engine.
func (l *leases) heldUntil(job int64) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until[job]
}

func (l *leases) hold(jobs []model.Job) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epochs == nil {
		l.epochs, l.jobOf, l.acts, l.until = map[int64]int64{}, map[int64]int64{}, map[int64][]int64{}, map[int64]time.Time{}
	}
	for i := range jobs {
		j := &jobs[i]
		l.epochs[j.ID] = j.Epoch
		l.until[j.ID] = j.LeaseUntil
		l.acts[j.ID] = l.acts[j.ID][:0]
		for _, a := range j.Actions {
			l.jobOf[a.ID] = j.ID
			l.acts[j.ID] = append(l.acts[j.ID], a.ID)
		}
	}
}

// fences lists the leases b's outcomes belong to.
func (l *leases) fences(b *store.Batch) []store.Fence {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []store.Fence
	add := func(job int64, ok bool) {
		if !ok {
			return
		}
		if ep, held := l.epochs[job]; held && !slices.Contains(out, store.Fence{Job: job, Epoch: ep}) {
			out = append(out, store.Fence{Job: job, Epoch: ep})
		}
	}
	for _, u := range b.Jobs {
		add(u.ID, true)
	}
	for _, u := range b.Actions {
		job, ok := l.jobOf[u.ID]
		add(job, ok)
	}
	for _, r := range b.Audit {
		job, ok := l.jobOf[r.ActionID]
		add(job, ok && r.ActionID != 0)
	}
	return out
}

// release forgets the jobs b gave back (any state but leased), unless
// they were leased again meanwhile under a new epoch.
func (l *leases) release(b *store.Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range b.Jobs {
		if u.State == model.JobLeased {
			continue
		}
		for _, f := range b.Fences {
			if f.Job == u.ID && l.epochs[u.ID] == f.Epoch {
				delete(l.epochs, u.ID)
				delete(l.until, u.ID)
				for _, a := range l.acts[u.ID] {
					delete(l.jobOf, a)
				}
				delete(l.acts, u.ID)
			}
		}
	}
}

type commitReq struct {
	b    store.Batch
	done chan error // nil for fire-and-forget
}

func newCommitter(st committerStore, log *slog.Logger) *committer {
	c := &committer{
		st: st, log: log,
		in:       make(chan commitReq, 4096),
		maxBatch: 2000,
		done:     make(chan struct{}),
	}
	c.stop, c.abort = context.WithCancel(context.Background())
	go c.loop()
	return c
}

var errCommitterClosed = errors.New("engine: committer closed")

// Wait commits b and returns once it is durable.
func (c *committer) Wait(ctx context.Context, b store.Batch) error {
	ch := make(chan error, 1)
	if !c.send(commitReq{b: b, done: ch}) {
		return errCommitterClosed
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		// The batch is queued and will still be committed; the caller
		// just stops waiting for it.
		return ctx.Err()
	}
}

// Async queues b for the next commit.
func (c *committer) Async(b store.Batch) {
	c.send(commitReq{b: b})
}

func (c *committer) send(r commitReq) bool {
	r.b.Fences = append(r.b.Fences, c.leases.fences(&r.b)...)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.isClosed {
		return false
	}
	c.in <- r
	return true
}

// Close flushes what is queued and stops the loop.
func (c *committer) Close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.isClosed = true
		close(c.in)
		c.mu.Unlock()
		<-c.done
		c.abort()
	})
}

// asyncDelay is how long records nobody waits for may wait for company:
// they ride along with the next commit someone waits for, instead of
// costing a transaction of their own.
const asyncDelay = 5 * time.Millisecond

func (c *committer) loop() {
	defer close(c.done)
	for first := range c.in {
		reqs := []commitReq{first}
		waited := first.done != nil
		records := batchSize(&first.b)
		var timer <-chan time.Time
		open := true
	collect:
		for open && records < c.maxBatch {
			select {
			case r, ok := <-c.in:
				if !ok {
					open = false
					break collect
				}
				reqs = append(reqs, r)
				records += batchSize(&r.b)
				waited = waited || r.done != nil
			default:
				if waited {
					break collect
				}
				// Only fire-and-forget records so far: wait a little
				// for a commit someone waits on.
				if timer == nil {
					timer = time.After(asyncDelay)
				}
				select {
				case r, ok := <-c.in:
					if !ok {
						open = false
						break collect
					}
					reqs = append(reqs, r)
					records += batchSize(&r.b)
					waited = waited || r.done != nil
				case <-timer:
					break collect
				}
			}
		}
		c.commitReqs(reqs)
		if !open {
			break
		}
	}
	// Flush what came in after the channel was drained by a closing loop.
	for r := range c.in {
		c.commitReqs([]commitReq{r})
	}
}

// commitReqs commits requests as one batch and answers their waiters.
// When the store refuses some leases as taken over, the requests of those
// jobs fail with the store's error and the rest are committed again; the
// refused requests' audit records still go in, since a request the
// target saw is evidence whoever owns the job now.
func (c *committer) commitReqs(reqs []commitReq) {
	// Refused waiters hear back once their evidence is committed.
	type refusal struct {
		done chan error
		err  error
	}
	var refused []refusal
	defer func() {
		for _, r := range refused {
			r.done <- r.err
		}
	}()
	for len(reqs) > 0 {
		batch := gather(reqs)
		err := c.commit(batch)
		var fenced *store.FencedError
		if !errors.As(err, &fenced) {
			if err == nil {
				for i := range reqs {
					c.leases.release(&reqs[i].b)
				}
				if c.ended != nil && slices.ContainsFunc(batch.Jobs, func(u store.JobUpdate) bool { return u.State.Final() }) {
					c.ended()
				}
			}
			for _, r := range reqs {
				if r.done != nil {
					r.done <- err
				}
			}
			return
		}
		c.log.Warn("outcomes refused: another owner took over the lease", "jobs", fenced.Jobs)
		var keep []commitReq
		var evidence store.Batch
		for _, r := range reqs {
			if !slices.ContainsFunc(r.b.Fences, func(f store.Fence) bool { return slices.Contains(fenced.Jobs, f.Job) }) {
				keep = append(keep, r)
				continue
			}
			evidence.Audit = append(evidence.Audit, r.b.Audit...)
			if r.done != nil {
				refused = append(refused, refusal{r.done, err})
			}
		}
		if !evidence.Empty() {
			keep = append(keep, commitReq{b: evidence})
		}
		reqs = keep
	}
}

// commit retries a failing store for a while: a busy database or a brief
// PostgreSQL failover should delay work, not lose outcomes. The retries,
// and their waits, end at once when the committer is aborted (the
// engine's shutdown grace is over): Close then does not wait out a
// store that is down.
func (c *committer) commit(b store.Batch) error {
	var err error
	for try := 0; try < 8; try++ {
		ctx, cancel := context.WithTimeout(c.stop, 30*time.Second)
		err = c.st.Commit(ctx, b)
		cancel()
		if err == nil || errors.Is(err, store.ErrFenced) {
			return err
		}
		c.log.Warn("commit failed, retrying", "error", err, "try", try+1)
		if wait.For(c.stop, pace.Backoff(50*time.Millisecond, 5*time.Second, try+2)) != nil {
			c.log.Error("commit failed, abandoned at shutdown", "error", err)
			return err
		}
	}
	c.log.Error("commit failed, giving up on batch", "error", err)
	return err
}

// gather is the requests' batches as one, allocated once: a round of
// the committer joins tens of small batches.
func gather(reqs []commitReq) store.Batch {
	var n store.Batch
	var recs, actions, jobs, accounts, fences int
	for i := range reqs {
		b := &reqs[i].b
		recs, actions, jobs = recs+len(b.Audit), actions+len(b.Actions), jobs+len(b.Jobs)
		accounts, fences = accounts+len(b.Accounts), fences+len(b.Fences)
	}
	n.Audit, n.Actions, n.Jobs = make([]audit.Record, 0, recs), make([]store.ActionUpdate, 0, actions), make([]store.JobUpdate, 0, jobs)
	n.Accounts, n.Fences = make([]model.AccountChange, 0, accounts), make([]store.Fence, 0, fences)
	for i := range reqs {
		n.Add(reqs[i].b)
	}
	return n
}

func batchSize(b *store.Batch) int {
	return len(b.Audit) + len(b.Actions) + len(b.Jobs) + len(b.Accounts)
}
