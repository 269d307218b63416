package recon

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
)

// OrphanPrefix begins the person key of a converge job for an orphan
// account: it belongs to no person, so its job is keyed by the account
// ("~orphan:<native ID>"), and its action carries the native ID.
const OrphanPrefix = "~orphan:"

type orphanFix struct {
	nativeID, action, label string
}

// converge plans the fixes as one normal run: the planner plans the
// persons whose drift converges from their corrected known state (so
// exclusions, busy accounts and unmanaged entitlements are honoured as in
// any enforcement), orphan accounts get a disable or delete, and the run
// goes through the same thresholds and submission as enforcement: held
// when it would change too much.
func (r *run) converge(ctx context.Context) error {
	if len(r.fixPersons) == 0 && len(r.orphans) == 0 {
		return nil
	}
	st, target := r.env.Store, r.rec.Target
	p := r.planner
	p.Target, p.Person = target, ""
	if p.Busy == nil {
		// Only the pairs this run may touch, asked person by person: the
		// store's busy pairs of every run are not held.
		keys := slices.Clone(r.fixPersons)
		for _, o := range r.orphans {
			keys = append(keys, OrphanPrefix+o.nativeID)
		}
		p.Busy = map[plan.Key]bool{}
		for _, key := range keys {
			busy, err := st.ListBusy(ctx, store.BusyQuery{Target: target, Person: key})
			if err != nil {
				return fmt.Errorf("converge: %w", err)
			}
			for _, k := range busy {
				p.Busy[plan.Key{Person: k.Person, Target: k.Target}] = true
			}
		}
	}
	res := &plan.Result{}
	for _, key := range r.fixPersons {
		per, err := st.GetPerson(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("converge: %w", err)
		}
		var known []model.Account
		a, err := st.GetAccount(ctx, target, key)
		switch {
		case err == nil:
			known = append(known, a)
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("converge: %w", err)
		}
		p.PlanPerson(&per, known, res, false)
	}
	canDelete := r.conn.Capabilities().Delete
	for _, o := range r.orphans {
		key := plan.Key{Person: OrphanPrefix + o.nativeID, Target: target}
		if p.Busy[key] {
			res.Busy.Add(key)
			continue
		}
		op := model.OpDisable
		if o.action == config.DriftDelete && canDelete {
			op = model.OpDelete
		}
		reason := "orphan account"
		if o.label != "" {
			reason += " " + o.label
		}
		res.Jobs = append(res.Jobs, model.Job{PersonKey: key.Person, Target: target, State: model.JobPending,
			Actions: []model.Action{{PersonKey: key.Person, Target: target, Op: op, NativeID: o.nativeID,
				State: model.ActionPending, Reason: reason + ": reconcile.drift.orphan is " + o.action}}})
	}
	r.res.Problems = append(r.res.Problems, res.Problems...)
	if len(res.Jobs) == 0 {
		return nil
	}
	trigger := r.opts.Trigger
	if trigger == "" {
		trigger = "cli"
	}
	run, _, err := plan.Submit(ctx, st, plan.Submission{Trigger: "reconcile:" + trigger, Scope: "reconcile target=" + target,
		Result: res, Now: r.env.Now(), Policy: r.env.Policy, Notifier: r.env.Notifier, Target: target})
	if err != nil {
		return fmt.Errorf("converge: %w", err)
	}
	r.res.Run, r.res.Actions = run, res.Actions()
	return nil
}
