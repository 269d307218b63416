package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
)

// AttributeError is a planned create or update whose mapped values the
// target's declared schema refuses: caught before anything is sent, the
// person's job on that target is left out of the run.
type AttributeError struct {
	PersonKey string
	Target    string
	Problems  []connector.AttributeProblem
}

func (e *AttributeError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = fmt.Sprintf("account.%s: %s", p.Attribute, p.Message)
	}
	return fmt.Sprintf("person %s on %s: %s", e.PersonKey, e.Target, strings.Join(parts, "; "))
}

// checkAttributes drops from res the jobs whose create or update the
// target would refuse for a mapped value, recording why in res.Problems.
func (a *App) checkAttributes(ctx context.Context, res *plan.Result) {
	checkers := map[string]connector.AttributeChecker{}
	for name, c := range a.Conns {
		if ch, ok := c.(connector.AttributeChecker); ok {
			checkers[name] = ch
		}
	}
	if len(checkers) == 0 {
		return
	}
	kept := res.Jobs[:0]
	for _, j := range res.Jobs {
		ch := checkers[j.Target]
		var probs []connector.AttributeProblem
		if ch != nil {
			for _, act := range j.Actions {
				if act.Op == model.OpCreate || act.Op == model.OpUpdate {
					probs = append(probs, ch.CheckAttributes(ctx, act.Op == model.OpCreate, act.Attributes)...)
				}
			}
		}
		if len(probs) > 0 {
			res.Problems = append(res.Problems, &AttributeError{PersonKey: j.PersonKey, Target: j.Target, Problems: probs})
			continue
		}
		kept = append(kept, j)
	}
	res.Jobs = kept
}
