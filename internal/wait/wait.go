// Package wait is the one way accord waits: for a duration or until an
// instant, always cut short by the context. It follows the time package's
// clock, so inside a testing/synctest bubble it follows the fake one.
package wait

import (
	"context"
	"time"
)

// For waits d, or until ctx is done, whichever is first; it returns ctx's
// error when cut short (or at once when d is not positive and ctx is done).
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Until waits until at, or until ctx is done.
func Until(ctx context.Context, at time.Time) error {
	return For(ctx, time.Until(at))
}
