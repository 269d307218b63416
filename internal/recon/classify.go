package recon

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
)

// flushEvery bounds what classification holds before writing.
const flushEvery = 500

// classify walks the target's observed accounts, the known accounts and
// the persons together, each streamed in person key order, so memory does
// not grow with the target.
func (r *run) classify(ctx context.Context) error {
	p, err := r.env.Planner(ctx, r.rec.Target)
	if err != nil {
		return err
	}
	if p.Unmanaged == nil {
		if p.Unmanaged, err = loadUnmanaged(ctx, r.env.Store, r.rec.Target); err != nil {
			return err
		}
	}
	r.planner = p
	r.createOnly = r.tpol.CreateOnly()
	r.out = &writer{r: r}

	// Uncorrelated accounts come first in the listing.
	errDone := errors.New("done")
	err = r.env.Store.EachObserved(ctx, store.ObservedQuery{Target: r.rec.Target}, func(o store.ObservedAccount) error {
		if o.PersonKey != "" {
			return errDone
		}
		return r.orphan(ctx, &o, "")
	})
	if err != nil && !errors.Is(err, errDone) {
		return err
	}

	known := pull(func(fn func(model.Account) error) error {
		return r.env.Store.EachAccount(ctx, r.rec.Target, fn)
	})
	defer known.stop()
	obs := pull(func(fn func(store.ObservedAccount) error) error {
		return r.env.Store.EachObserved(ctx, store.ObservedQuery{Target: r.rec.Target, Correlated: true}, fn)
	})
	defer obs.stop()
	open := pull(func(fn func(store.Drift) error) error {
		return r.env.Store.EachDrift(ctx, store.DriftQuery{Target: r.rec.Target}, fn)
	})
	defer open.stop()
	var mine []store.ObservedAccount
	err = r.env.Store.EachPerson(ctx, func(per model.Person) error {
		for open.ok && open.cur.PersonKey < per.Key {
			open.advance()
		}
		var was map[string]bool
		for open.ok && open.cur.PersonKey == per.Key {
			if was == nil {
				was = map[string]bool{}
			}
			was[OpenKey(open.cur.Class, open.cur.Subject)] = true
			open.advance()
		}
		for known.ok && known.cur.PersonKey < per.Key {
			known.advance() // an account of no person: not reconciliation's to judge
		}
		var k *model.Account
		if known.ok && known.cur.PersonKey == per.Key {
			a := known.cur
			k = &a
			known.advance()
		}
		for obs.ok && obs.cur.PersonKey < per.Key {
			o := obs.cur
			if err := r.orphan(ctx, &o, "linked to person "+o.PersonKey+", who is not in the store"); err != nil {
				return err
			}
			obs.advance()
		}
		mine = mine[:0]
		for obs.ok && obs.cur.PersonKey == per.Key {
			mine = append(mine, obs.cur)
			obs.advance()
		}
		if k == nil && len(mine) == 0 && was == nil {
			return nil
		}
		return r.person(ctx, &per, k, mine, was)
	})
	if err != nil {
		return err
	}
	for obs.ok {
		o := obs.cur
		if err := r.orphan(ctx, &o, "linked to person "+o.PersonKey+", who is not in the store"); err != nil {
			return err
		}
		obs.advance()
	}
	if err := errors.Join(known.stop(), obs.stop(), open.stop()); err != nil {
		return err
	}
	return r.out.flush(ctx)
}

func loadUnmanaged(ctx context.Context, st unmanagedLister, target string) (map[plan.Key]map[string]bool, error) {
	list, err := st.ListUnmanaged(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("unmanaged entitlements: %w", err)
	}
	out := map[plan.Key]map[string]bool{}
	for _, u := range list {
		if u.Target != target {
			continue
		}
		k := plan.Key{Person: u.PersonKey, Target: u.Target}
		if out[k] == nil {
			out[k] = map[string]bool{}
		}
		out[k][u.Entitlement] = true
	}
	return out, nil
}

// person classifies one person's account on the target.
func (r *run) person(ctx context.Context, per *model.Person, k *model.Account, obs []store.ObservedAccount, open map[string]bool) error {
	ev, err := r.env.Policy.Evaluate(per, r.planner.Today)
	if err != nil {
		if len(r.res.Problems) < 100 {
			r.res.Problems = append(r.res.Problems, err)
		}
		return nil
	}
	if ev.Excluded {
		return nil // exclusions are never touched, nor judged
	}
	var d *model.DesiredAccount
	for i := range ev.Accounts {
		if ev.Accounts[i].Target == r.rec.Target {
			d = &ev.Accounts[i]
		}
	}
	if d == nil {
		return nil
	}
	var primary *store.ObservedAccount
	if k != nil {
		for i := range obs {
			if obs[i].NativeID == k.NativeID {
				primary = &obs[i]
			}
		}
	}
	switch {
	case primary == nil && len(obs) == 1:
		primary = &obs[0]
	case primary == nil && len(obs) > 1:
		ids := make([]string, len(obs))
		for i := range obs {
			ids[i] = obs[i].NativeID
		}
		for i := range obs {
			detail := fmt.Sprintf("person %s matches %d accounts (%s): none is linked", per.Key, len(obs), strings.Join(ids, ", "))
			if err := r.record(ctx, &obs[i], Finding{Class: config.DriftAmbiguous, Actual: label(&obs[i]), Detail: detail}, config.DriftReport); err != nil {
				return err
			}
		}
	}
	for i := range obs {
		if primary != nil && &obs[i] != primary {
			o := obs[i]
			o.PersonKey = ""
			if err := r.orphan(ctx, &o, fmt.Sprintf("matches person %s, who already has account %s", per.Key, primary.NativeID)); err != nil {
				return err
			}
		}
	}
	key := plan.Key{Person: per.Key, Target: r.rec.Target}
	out := Compare(Input{
		Desired: d, Known: k, Observed: primary, EntitlementsRead: r.rec.EntitlementsRead,
		CreateOnly: r.createOnly, Unmanaged: r.planner.Unmanaged[key], Policy: r.tcfg.Reconcile.Drift, Open: open,
		Names: r.conn.Capabilities().Names(),
	})
	subject := &store.ObservedAccount{Target: r.rec.Target, PersonKey: per.Key}
	if primary != nil {
		subject = primary
	} else if k != nil {
		subject.NativeID = k.NativeID
	}
	converge := false
	for _, f := range out.Findings {
		action := r.tcfg.Reconcile.Drift.Action(f.Class)
		if r.tcfg.Reconcile.Drift.Converges(f.Class) {
			converge = true
		}
		if err := r.record(ctx, subject, f, action); err != nil {
			return err
		}
		if f.Class == config.DriftLeaverActive && !r.opts.DryRun {
			r.alert(ctx, per.Key, subject.NativeID, d.Reason, action)
		}
	}
	if out.Linked {
		r.res.Linked++
	}
	if out.Fix != nil {
		r.res.Corrected++
	}
	if r.opts.DryRun {
		return r.out.maybeFlush(ctx)
	}
	if out.Fix != nil {
		r.out.changes = append(r.out.changes, *out.Fix)
	}
	if converge {
		r.fixPersons = append(r.fixPersons, per.Key)
	}
	if primary != nil && r.rec.EntitlementsRead && primary.Entitlements != nil {
		for _, e := range primary.Entitlements {
			r.out.grants = append(r.out.grants, store.GrantSeen{Target: r.rec.Target, PersonKey: per.Key, Entitlement: e,
				ReconID: r.rec.ID, At: primary.SeenAt})
		}
	}
	return r.out.maybeFlush(ctx)
}

// label names an account for humans: its user name when it has one.
func label(o *store.ObservedAccount) string {
	for _, k := range []string{"userName", "username", "login", "email", "mail"} {
		if v, ok := o.Attributes[k]; ok && v != nil {
			return model.FormatValue(v)
		}
	}
	return ""
}

// orphan records an account that no person owns (or an ambiguous one).
func (r *run) orphan(ctx context.Context, o *store.ObservedAccount, detail string) error {
	pol := r.tcfg.Reconcile.Drift
	if o.Correlation == store.CorrelationAmbiguous {
		rule := r.tcfg.Reconcile.Correlate[o.Rule-1]
		d := fmt.Sprintf("correlation rule %d (%s = %s) matches persons %s: none is linked", o.Rule, rule.Account, rule.Person,
			strings.Join(o.Candidates, ", "))
		return r.record(ctx, o, Finding{Class: config.DriftAmbiguous, Actual: label(o), Detail: d}, config.DriftReport)
	}
	action := pol.Action(config.DriftOrphan)
	if action == config.DriftLeave {
		r.res.Left++
		return nil
	}
	if detail == "" {
		detail = "no person owns this account"
	}
	if !o.Active {
		detail += " (disabled)"
	}
	f := Finding{Class: config.DriftOrphan, Actual: label(o), Detail: detail}
	if err := r.record(ctx, &store.ObservedAccount{Target: o.Target, NativeID: o.NativeID}, f, action); err != nil {
		return err
	}
	if !r.opts.DryRun && (action == config.DriftDelete || action == config.DriftDisable && o.Active) {
		r.orphans = append(r.orphans, orphanFix{nativeID: o.NativeID, action: action, label: f.Actual})
	}
	return r.out.maybeFlush(ctx)
}

// record counts a finding, keeps it as a sample, and (unless dry run)
// queues its drift record.
func (r *run) record(_ context.Context, o *store.ObservedAccount, f Finding, action string) error {
	r.res.Counts[f.Class]++
	d := store.Drift{Target: r.rec.Target, Class: f.Class, PersonKey: o.PersonKey, NativeID: o.NativeID, Subject: f.Subject,
		Expected: f.Expected, Actual: f.Actual, Detail: f.Detail, Action: action, ReconID: r.rec.ID, SeenAt: r.env.Now()}
	if r.res.Counts[f.Class] <= r.opts.Sample {
		r.res.Sample = append(r.res.Sample, d)
	}
	if !r.opts.DryRun {
		r.out.drift = append(r.out.drift, d)
	}
	return nil
}

func (r *run) alert(ctx context.Context, person, nativeID, reason, action string) {
	msg := fmt.Sprintf("leaver %s still has an active account %s on %s (%s)", person, nativeID, r.rec.Target, reason)
	if action == config.DriftConverge {
		msg += "; reconciliation plans its disable"
	} else {
		msg += "; drift policy is report: disable it or set reconcile.drift.leaver_active: converge"
	}
	r.env.Notifier.Notify(ctx, notify.Event{Kind: notify.LeaverActive, Time: r.env.Now(), Target: r.rec.Target, Person: person,
		Message: msg, Details: map[string]any{"native_id": nativeID, "reconciliation": r.rec.ID, "action": action}})
}

// writer batches classification's writes.
type writer struct {
	r       *run
	calls   int
	changes []model.AccountChange
	drift   []store.Drift
	grants  []store.GrantSeen
}

func (w *writer) maybeFlush(ctx context.Context) error {
	w.calls++
	if w.calls%(10*flushEvery) == 0 || len(w.changes) >= flushEvery || len(w.drift) >= flushEvery || len(w.grants) >= 4*flushEvery {
		return w.flush(ctx)
	}
	return nil
}

func (w *writer) flush(ctx context.Context) error {
	st := w.r.env.Store
	if err := st.ApplyAccountChanges(ctx, w.changes); err != nil {
		return err
	}
	if err := st.PutDrift(ctx, w.r.rec.ID, w.drift); err != nil {
		return err
	}
	if err := st.VerifyGrants(ctx, w.grants); err != nil {
		return err
	}
	w.changes, w.drift, w.grants = w.changes[:0], w.drift[:0], w.grants[:0]
	return w.r.save(ctx, nil) // still alive: renew the lease
}

// peeker turns a store's streaming callback into a pull iterator with a
// current element, for merging streams ordered by the same key.
type peeker[T any] struct {
	next  func() (T, bool)
	close func()
	err   error
	cur   T
	ok    bool
}

func pull[T any](each func(fn func(T) error) error) *peeker[T] {
	p := &peeker[T]{}
	errStop := errors.New("stop")
	seq := func(yield func(T) bool) {
		err := each(func(v T) error {
			if !yield(v) {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			p.err = err
		}
	}
	p.next, p.close = iter.Pull(seq)
	p.advance()
	return p
}

func (p *peeker[T]) advance() { p.cur, p.ok = p.next() }

func (p *peeker[T]) stop() error {
	p.close()
	p.ok = false
	return p.err
}
