package daemon

import (
	"context"
	"time"
)

// SetCycles makes d's scheduled reconciliations wait for cycles from
// next, not from the clock: a test decides when each cycle begins. It is
// called before Run.
func SetCycles(d *Daemon, next func(ctx context.Context, target string, every time.Duration) (time.Time, error)) {
	d.cycle = next
}

// SetBeforeClaim makes d call hook in each scheduled reconciliation just
// before it claims the target. It is called before Run.
func SetBeforeClaim(d *Daemon, hook func(target string)) {
	d.beforeClaim = hook
}
