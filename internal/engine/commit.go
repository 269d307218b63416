package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/store"
)

// committer funnels every outcome, audit record and known-state change
// through one goroutine that commits them in batches: many workers, one
// transaction per round. Order is preserved (FIFO), so an action's outcome
// is never committed after the start of the next action of its job.
type committer struct {
	st       store.Store
	log      *slog.Logger
	in       chan commitReq
	maxBatch int
	done     chan struct{}
	once     sync.Once
	mu       sync.RWMutex // guards sends against close
	isClosed bool
}

type commitReq struct {
	b    store.Batch
	done chan error // nil for fire-and-forget
}

func newCommitter(st store.Store, log *slog.Logger) *committer {
	c := &committer{
		st: st, log: log,
		in:       make(chan commitReq, 4096),
		maxBatch: 2000,
		done:     make(chan struct{}),
	}
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
	})
}

// asyncDelay is how long records nobody waits for may wait for company:
// they ride along with the next commit someone waits for, instead of
// costing a transaction of their own.
const asyncDelay = 5 * time.Millisecond

func (c *committer) loop() {
	defer close(c.done)
	for first := range c.in {
		batch := first.b
		waiters := []chan error{first.done}
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
				batch.Add(r.b)
				waiters = append(waiters, r.done)
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
					batch.Add(r.b)
					waiters = append(waiters, r.done)
					records += batchSize(&r.b)
					waited = waited || r.done != nil
				case <-timer:
					break collect
				}
			}
		}
		err := c.commit(batch)
		for _, w := range waiters {
			if w != nil {
				w <- err
			}
		}
		if !open {
			break
		}
	}
	// Flush what came in after the channel was drained by a closing loop.
	for r := range c.in {
		err := c.commit(r.b)
		if r.done != nil {
			r.done <- err
		}
	}
}

// commit retries a failing store for a while: a busy database or a brief
// PostgreSQL failover should delay work, not lose outcomes.
func (c *committer) commit(b store.Batch) error {
	var err error
	for try := 0; try < 8; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = c.st.Commit(ctx, b)
		cancel()
		if err == nil {
			return nil
		}
		c.log.Warn("commit failed, retrying", "error", err, "try", try+1)
		// Not cancellable on purpose: these are outcomes already acted
		// on, and Close waits for them to be flushed.
		time.Sleep(pace.Backoff(50*time.Millisecond, 5*time.Second, try+2))
	}
	c.log.Error("commit failed, giving up on batch", "error", err)
	return err
}

func batchSize(b *store.Batch) int {
	return len(b.Audit) + len(b.Actions) + len(b.Jobs) + len(b.Accounts)
}
