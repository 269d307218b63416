package engine

import (
	"time"
)

// The engine's clock.
//
// There is one: the time package. Every duration, timer, sleep and
// deadline of the engine, and every instant it hands to package pace
// (holds, probes, the retry budget, the adaptive rate), comes from
// time.Now, time.NewTimer and friends, so that inside a testing/synctest
// bubble all of them follow the bubble's fake clock together.
//
// Options.Now is not a second clock but the store's calendar: the instants
// the engine writes to or compares with the store (leases, when a job is
// due, audit and outcome times, when an account was written). It must run
// at the rate of time.Now; it may be shifted from it by a constant, which
// is how application tests make dates pass. It defaults to time.Now.
// engineTime is the one place where a time-package instant becomes a
// store instant.

// engineTime converts an instant of the time package (a target's probe
// time or hold, from package pace) to the store's calendar (Options.Now).
func (e *Engine) engineTime(at time.Time) time.Time {
	if at.IsZero() {
		return e.opts.Now()
	}
	return e.opts.Now().Add(time.Until(at))
}
