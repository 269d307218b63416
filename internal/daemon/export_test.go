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
