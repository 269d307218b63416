package plan

import (
	"sort"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/policy"
)

// OverallScope names run-wide thresholds in a Breach.
const OverallScope = "overall"

// Tally counts, per target, how many accounts each guarded operation
// touches. Revokes count accounts losing at least one entitlement, so
// that every limit is measured against the same base: managed accounts.
type Tally map[string]map[model.Op]int

// Count tallies the jobs of a plan.
func Count(jobs []model.Job) Tally {
	t := Tally{}
	for i := range jobs {
		t.Add(&jobs[i])
	}
	return t
}

// Add counts one job into the tally: a plan streamed job by job is
// counted as it goes.
func (t Tally) Add(j *model.Job) {
	m := t[j.Target]
	if m == nil {
		m = map[model.Op]int{}
		t[j.Target] = m
	}
	revoked := false
	for _, a := range j.Actions {
		switch a.Op {
		case model.OpCreate, model.OpDisable, model.OpDelete, model.OpEnable, model.OpUpdate:
			m[a.Op]++
		case model.OpGrant:
			m[model.OpGrant] += len(a.Entitlements)
		case model.OpRevoke:
			if !revoked {
				m[model.OpRevoke]++
				revoked = true
			}
		}
	}
}

// Total sums an operation over targets.
func (t Tally) Total(op model.Op) int {
	n := 0
	for _, m := range t {
		n += m[op]
	}
	return n
}

// Check returns every threshold the tally exceeds, per target and
// overall, given the number of managed accounts per target. An empty
// result means the run may execute unattended.
func Check(t Tally, managed map[string]int, pol *policy.Policy) []model.Breach {
	var out []model.Breach
	check := func(scope string, th config.Thresholds, counts func(model.Op) int, base int) {
		for _, g := range []struct {
			op    model.Op
			limit config.Limit
		}{
			{model.OpCreate, th.Creates},
			{model.OpDisable, th.Disables},
			{model.OpDelete, th.Deletes},
			{model.OpRevoke, th.Revokes},
		} {
			if !g.limit.IsSet() {
				continue
			}
			n, max := counts(g.op), g.limit.Max(base)
			if n > max {
				out = append(out, model.Breach{Scope: scope, Op: g.op, Limit: g.limit.String(), Max: max, Planned: n})
			}
		}
	}
	names := make([]string, 0, len(pol.Targets))
	for _, tp := range pol.Targets {
		names = append(names, tp.Name)
	}
	sort.Strings(names)
	total := 0
	for _, name := range names {
		total += managed[name]
		tp, _ := pol.Target(name)
		m := t[name]
		check(name, tp.Thresholds, func(op model.Op) int { return m[op] }, managed[name])
	}
	check(OverallScope, pol.Thresholds, t.Total, total)
	return out
}
