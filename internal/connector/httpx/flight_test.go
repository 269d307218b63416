package httpx

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// Callers that come while a warm-up is in flight share it, its failure
// included; one that started it and gave up does not hand its
// cancellation to the others, who start a new one; a waiting caller
// leaves when its own context ends, without stopping the warm-up.
func TestFlightSharesOneWarmUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f flight
		var runs atomic.Int32
		refused := errors.New("login refused")
		slow := func(ctx context.Context) error {
			runs.Add(1)
			select {
			case <-time.After(time.Second):
				return refused
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		errs := make(chan error, 5)
		for range 5 {
			go func() { errs <- f.do(context.Background(), slow) }()
		}
		for range 5 {
			require.ErrorIs(t, <-errs, refused)
		}
		require.Equal(t, int32(1), runs.Load(), "one warm-up, its refusal shared")

		// The caller that starts it leaves; the other waits on and gets
		// the outcome of a warm-up of its own.
		runs.Store(0)
		leader, leave := context.WithCancel(context.Background())
		go func() { errs <- f.do(leader, slow) }()
		synctest.Wait()
		go func() { errs <- f.do(context.Background(), slow) }()
		synctest.Wait()
		leave()
		require.ErrorIs(t, <-errs, context.Canceled, "the leader hears its own cancellation")
		require.ErrorIs(t, <-errs, refused, "the other does not")
		require.Equal(t, int32(2), runs.Load())

		// A waiter leaves when its context ends; the warm-up goes on
		// for the caller that started it.
		runs.Store(0)
		waiter, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		go func() { errs <- f.do(context.Background(), slow) }()
		synctest.Wait()
		require.ErrorIs(t, f.do(waiter, slow), context.DeadlineExceeded)
		require.ErrorIs(t, <-errs, refused)
		require.Equal(t, int32(1), runs.Load())
	})
}
