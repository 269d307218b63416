package pace

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/accord-iam/accord/internal/wait"
)

// Shared is the cluster-wide state of the targets' pacing, kept by the
// store (PostgreSQL) so that every node of a cluster obeys one rate
// limit, one concurrency bound and one set of pauses. Each call is one
// atomic change; implementations must be safe for concurrent use.
type Shared interface {
	// Take takes one request token from the target's bucket (refilled at
	// perSecond up to burst; Inf: no bucket). It returns how long until a
	// token is available when there is none, or the time the target is
	// held until (a pause another node recorded), taking nothing then.
	Take(ctx context.Context, target string, perSecond float64, burst int, now time.Time) (wait time.Duration, heldUntil time.Time, err error)
	// Acquire takes one of limit request slots for holder until expiry
	// (a dead node's slots expire); false when all are taken.
	Acquire(ctx context.Context, target, holder string, limit int, now, expires time.Time) (bool, error)
	// Extend pushes the expiry of holder's slot (a heartbeat while its
	// request lasts).
	Extend(ctx context.Context, target, holder string, expires time.Time) error
	// Release gives holder's slot back.
	Release(ctx context.Context, target, holder string) error
	// Hold records that requests to target wait until until (kept when a
	// later hold is already recorded).
	Hold(ctx context.Context, target string, until time.Time, reason string) error
	// Resume lifts the target's hold.
	Resume(ctx context.Context, target string) error
	// Held reports the target's hold (zero when none) and its reason.
	Held(ctx context.Context, target string, now time.Time) (time.Time, string, error)
}

// SlotExpiry bounds how long a node's request slot counts without a
// heartbeat: the holder extends it every SlotExpiry/3 while its request
// lasts, so a slow request keeps its slot and a killed node's slots come
// back within SlotExpiry (not after the longest request timeout).
const SlotExpiry = 9 * time.Second

// slotPoll bounds the wait between looks for a slot another node holds.
const slotPoll = 50 * time.Millisecond

// sharedPace is a Target's side of the Shared state.
type sharedPace struct {
	st     Shared
	holder string
	seq    atomic.Int64
}

// take asks for a token; an error of the store is not a reason to send
// more than the limit, so it is retried after a short wait, and only
// ctx ends the wait.
func (s *sharedPace) take(ctx context.Context, target string, r rate.Limit, burst int) (time.Duration, time.Time, error) {
	for attempt := 1; ; attempt++ {
		per := float64(r)
		if r == rate.Inf {
			per = 0
		}
		pause, held, err := s.st.Take(ctx, target, per, burst, time.Now())
		if err == nil {
			return pause, held, nil
		}
		if ctx.Err() != nil {
			return 0, time.Time{}, ctx.Err()
		}
		slog.Warn("shared rate limit unavailable; waiting", "target", target, "error", err)
		if err := wait.For(ctx, Backoff(10*time.Millisecond, time.Second, attempt)); err != nil {
			return 0, time.Time{}, err
		}
	}
}

// acquire waits for a cluster-wide slot and returns its release.
func (s *sharedPace) acquire(ctx context.Context, target string, limit int) (func(), error) {
	holder := fmt.Sprintf("%s/%d", s.holder, s.seq.Add(1))
	for attempt := 1; ; attempt++ {
		now := time.Now()
		ok, err := s.st.Acquire(ctx, target, holder, limit, now, now.Add(SlotExpiry))
		if err == nil && ok {
			stop := make(chan struct{})
			go s.heartbeat(context.WithoutCancel(ctx), target, holder, stop)
			return func() {
				close(stop)
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if err := s.st.Release(rctx, target, holder); err != nil {
					slog.Warn("release shared request slot; it expires on its own", "target", target, "error", err)
				}
			}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			slog.Warn("shared request slots unavailable; waiting", "target", target, "error", err)
		}
		// Another node holds the slots: look again soon, jittered so
		// that waiting nodes do not ask in lockstep.
		d := slotPoll/2 + time.Duration(rand.Int64N(int64(slotPoll)))
		if err != nil {
			d = Backoff(10*time.Millisecond, time.Second, attempt)
		}
		if err := wait.Until(ctx, now.Add(d)); err != nil {
			return nil, err
		}
	}
}

// heartbeat extends holder's slot until stop is closed.
func (s *sharedPace) heartbeat(ctx context.Context, target, holder string, stop <-chan struct{}) {
	tick := time.NewTicker(SlotExpiry / 3)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			ectx, cancel := context.WithTimeout(ctx, SlotExpiry/3)
			if err := s.st.Extend(ectx, target, holder, now.Add(SlotExpiry)); err != nil {
				slog.Warn("extend shared request slot", "target", target, "error", err)
			}
			cancel()
		}
	}
}

// hold records a hold for the other nodes, before the answer that
// brought it is handled further: one small write, after which no node
// sends to the target until the hold ends.
func (s *sharedPace) hold(target string, until time.Time, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.st.Hold(ctx, target, until, why); err != nil {
		slog.Warn("share a pause of the target", "target", target, "error", err)
	}
}

// holdAsync is hold for callers holding the target's lock.
func (s *sharedPace) holdAsync(target string, until time.Time, why string) {
	go s.hold(target, until, why)
}

// clear lifts the shared hold when this node closed a circuit.
func (s *sharedPace) clear(target string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.st.Resume(ctx, target); err != nil {
			slog.Warn("lift the shared pause of the target", "target", target, "error", err)
		}
	}()
}
