package main

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/store"
)

// targetStatuser is what the stall check needs of the engine: each
// target's circuit and the reason for it.
type targetStatuser interface {
	Status() []engine.TargetStatus
}

// writeProber is a store that can prove it accepts writes now.
type writeProber interface {
	ProbeWrite(ctx context.Context) error
}

// stalled returns why the remaining work cannot move — every target with
// unfinished actions is paused (credentials refused or unavailable) or
// has its circuit open, or the store refuses writes — one line per cause,
// or nil while something can still move. 'enforce --wait' then returns
// instead of waiting forever for an operator it does not tell.
func stalled(ctx context.Context, a *app.App, eng targetStatuser) ([]string, error) {
	if p, ok := a.Store.(writeProber); ok {
		if err := p.ProbeWrite(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return []string{"the store cannot be written: " + err.Error()}, nil
		}
	}
	queue, err := a.Store.QueueStats(ctx, a.Now())
	if err != nil {
		return nil, err
	}
	circuits := map[string]engine.TargetStatus{}
	for _, st := range eng.Status() {
		circuits[st.Name] = st
	}
	var why []string
	for target, q := range queue {
		if q.PendingActions == 0 {
			continue
		}
		st, ok := circuits[target]
		if !ok {
			// A target no longer in the config: nothing here will run it.
			why = append(why, fmt.Sprintf("target %s: not in the config (%d actions wait)", target, q.PendingActions))
			continue
		}
		switch st.Circuit {
		case engine.CircuitPaused:
			why = append(why, fmt.Sprintf("target %s: paused: %s (%d actions wait)", target, orUnknown(st.Reason), q.PendingActions))
		case engine.CircuitOpen:
			why = append(why, fmt.Sprintf("target %s: circuit open: %s (%d actions wait)", target, orUnknown(st.Reason), q.PendingActions))
		default:
			return nil, nil // this target's work moves
		}
	}
	sort.Strings(why)
	return why, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason recorded"
	}
	return s
}

// stallWhenUnwritable makes a waiting command that failed because the
// store refuses writes (at open, import or planning) end as stalled, like
// one that found it out while executing: the wait cannot succeed until
// the store is fixed, whichever step noticed first.
func stallWhenUnwritable(wait *bool, run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if *wait && errors.Is(err, store.ErrUnwritable) {
			var ee *exitError
			if errors.As(err, &ee) && ee.err != nil {
				err = ee.err
			}
			return fail(exitStalled, fmt.Errorf("%w: the store cannot be written: %w", errStalled, err))
		}
		return err
	}
}

// errStalled is the error of a wait that ended because nothing could move.
var errStalled = errors.New("stalled")
