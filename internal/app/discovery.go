package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Plan-time discovery. A SCIM target says whether it offers /Bulk only
// when asked (discovery); with it, a joiner's grants are folded into its
// create, without it they are separate grant actions. Planning waits
// for discovery at most DiscoverWait, so a target that answers slowly is
// planned in the other shape. Both shapes are correct: the engine sends
// a create carrying grants as a /Bulk where the target offers it at the
// time and as a POST and PATCHes where not, and separate grants as
// PATCHes. But the plan is not the same, and it says so: the what-if and
// the run's creation event name each target planned without its
// discovery, why, and the shape it was planned in. Such a target's
// attributes are not checked against its /Schemas either: the check
// would wait for the discovery planning did not wait for (it did, before:
// the bound held for the shape, not for the plan).

// discoverer is a connector whose capabilities depend on what the target
// says about itself (SCIM discovery: whether /Bulk is offered).
type discoverer interface {
	Discover(ctx context.Context) error
}

// undiscoveredShaper is a discoverer that can say how its joiners are
// planned while its discovery has not answered: "" when that changes
// nothing.
type undiscoveredShaper interface {
	UndiscoveredShape() string
}

// DiscoverWait bounds how long planning waits for targets to describe
// themselves; a target that does not answer in time is planned with
// what its connector assumes before discovery.
const DiscoverWait = 5 * time.Second

// Assumption is what a plan took for a target whose discovery did not
// answer before planning went on.
type Assumption struct {
	Target string `json:"target"`
	// Reason is why discovery did not answer: no answer in time, or its
	// error.
	Reason string `json:"reason"`
	// Shape is how the target was planned instead.
	Shape string `json:"shape"`
}

// String is the assumption as the plan's output and the run's event
// say it.
func (as Assumption) String() string {
	return fmt.Sprintf("discovery of %s %s: %s", as.Target, as.Reason, as.Shape)
}

// discover lets the connectors that learn their capabilities from the
// target do so before they are planned with, all at once, and returns
// what was assumed of those that did not answer. A failure is not the
// plan's: it only means the cautious capabilities.
func (a *App) discover(ctx context.Context, target string) []Assumption {
	wait := a.discoverWait
	if wait <= 0 {
		wait = DiscoverWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var out []Assumption
	for n, c := range a.Conns {
		d, ok := c.(discoverer)
		if !ok || (target != "" && n != target) {
			continue
		}
		wg.Go(func() {
			err := d.Discover(ctx)
			if err == nil {
				return
			}
			a.Log.Debug("discovery before planning failed; planning without what it would tell", "target", n, "error", err)
			shape := "its attributes are not checked against what it declares (/Schemas)"
			if s, ok := c.(undiscoveredShaper); ok && s.UndiscoveredShape() != "" {
				shape = s.UndiscoveredShape() + "; " + shape
			}
			why := "failed (" + err.Error() + ")"
			if errors.Is(err, context.DeadlineExceeded) {
				why = "did not answer within " + wait.String()
			}
			mu.Lock()
			out = append(out, Assumption{Target: n, Reason: why, Shape: shape})
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// assumedOf says whether target is among the assumptions.
func assumedOf(assumed []Assumption, target string) bool {
	for _, as := range assumed {
		if as.Target == target {
			return true
		}
	}
	return false
}
