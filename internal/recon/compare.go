package recon

import (
	"maps"
	"slices"
	"strings"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// Finding is one difference found on one account.
type Finding struct {
	Class string
	// Subject is the attribute or entitlement concerned ("" for the
	// account as a whole).
	Subject  string
	Expected string
	Actual   string
	Detail   string
}

// Input is one person's account on one target, from three sides.
type Input struct {
	Desired *model.DesiredAccount
	// Known is accord's known account (nil when none).
	Known *model.Account
	// Observed is the account the target showed (nil when it is gone).
	Observed *store.ObservedAccount
	// EntitlementsRead: memberships were read; without, they are not
	// compared.
	EntitlementsRead bool
	CreateOnly       map[string]bool
	// Unmanaged entitlements are not drift and are never touched.
	Unmanaged map[string]bool
	// Names compares entitlement names as the target does (without
	// letter case on a directory).
	Names  model.EntitlementNames
	Policy config.DriftPolicy
	// Open drift of this account from earlier reconciliations, by
	// OpenKey. A converged finding stays open until the fix is done: known
	// state already took the target's value, so without this the drift
	// would look like planned work (while its run is held, say).
	Open map[string]bool
}

// OpenKey identifies an open drift record of an account in Input.Open.
func OpenKey(class, subject string) string { return class + "\x00" + subject }

// Outcome is what comparing one account found, and the known-state
// change that makes accord act as the drift policy says.
type Outcome struct {
	Findings []Finding
	// Fix changes known state; nil when it stays as it is.
	Fix *model.AccountChange
	// Linked: the observed account becomes the person's known account.
	Linked bool
}

// Compare classifies one account. The rules, with K what accord knows, T
// what the target has and P what policy wants:
//
//   - T agrees with P: no drift; K takes T where it differed (an
//     entitlement granted by hand that policy grants anyway).
//   - K agrees with P, T differs: drift. K takes T when the class
//     converges, so the planner plans the fix; otherwise K stays, and no
//     enforcement acts on it.
//   - K differs from P: work the planner has already planned or will
//     plan (HR changed); not drift.
//
// An account accord did not know yet (created outside accord, or
// re-created by hand) is adopted: K starts from T, so what accord would
// add (attribute values, entitlements policy grants) is ordinary work,
// while what it would take away (extra entitlements, enabling or
// disabling) is drift and waits for the policy's consent.
//
// A leaver's active account is always a finding (leaver_active), whether
// or not a disable is already planned.
func Compare(in Input) Outcome {
	d, k, o := in.Desired, in.Known, in.Observed
	var out Outcome
	conv := in.Policy.Converges
	if o == nil {
		if k == nil && in.Open[OpenKey(config.DriftMissing, "")] && (d.Desire == model.DesireEnabled || d.Desire == model.DesireDisabled) {
			// Converged earlier: known state forgot it, the re-creation is pending.
			out.Findings = append(out.Findings, Finding{Class: config.DriftMissing, Actual: "absent",
				Detail: "the account is no longer on the target; its re-creation is planned"})
			return out
		}
		if k == nil || k.NativeID == "" {
			return out
		}
		gone := &model.AccountChange{Target: k.Target, PersonKey: k.PersonKey, Delete: true}
		if d.Desire == model.DesireAbsent {
			out.Fix = gone // gone, as policy wants: forget it
			return out
		}
		out.Findings = append(out.Findings, Finding{Class: config.DriftMissing, Expected: "account " + k.NativeID,
			Actual: "absent", Detail: "the account is no longer on the target"})
		if conv(config.DriftMissing) {
			out.Fix = gone
		}
		return out
	}

	adopt := k == nil || k.NativeID != o.NativeID
	b := believed(k, o, adopt)
	n := cloneAccount(b)
	c := &comparison{d: d, o: o, b: &b, n: &n, adopt: adopt, conv: conv, open: in.Open}
	if d.Desire != model.DesireNone {
		c.state()
	}
	if d.Desire == model.DesireEnabled {
		c.attributes(in.CreateOnly)
	}
	if d.Desire != model.DesireNone && in.EntitlementsRead && o.Entitlements != nil {
		c.entitlements(in.Unmanaged, in.Names)
	}
	out.Findings = c.fs
	out.Linked = adopt
	out.Fix = fix(k, o, &n, adopt)
	return out
}

// believed is what accord takes the account to be before comparing: its
// known state, or, for an account it adopts, what the target shows.
func believed(k *model.Account, o *store.ObservedAccount, adopt bool) model.Account {
	if !adopt {
		return cloneAccount(*k)
	}
	st := model.AccountEnabled
	if !o.Active {
		st = model.AccountDisabled
	}
	return model.Account{Target: o.Target, PersonKey: o.PersonKey, NativeID: o.NativeID, Link: o.Link,
		Attributes: o.Attributes.Clone(), State: st, Entitlements: slices.Clone(o.Entitlements)}
}

func cloneAccount(a model.Account) model.Account {
	a.Attributes = a.Attributes.Clone()
	a.Entitlements = slices.Clone(a.Entitlements)
	a.Link = maps.Clone(a.Link)
	return a
}

func isLeaver(d *model.DesiredAccount) bool { return strings.HasPrefix(d.Reason, "leaver") }

func stateWord(active bool) string {
	if active {
		return "enabled"
	}
	return "disabled"
}

// comparison holds one account's comparison: b is what accord believed,
// n what it will know.
type comparison struct {
	d     *model.DesiredAccount
	o     *store.ObservedAccount
	b, n  *model.Account
	adopt bool
	conv  func(string) bool
	open  map[string]bool
	fs    []Finding
}

func (c *comparison) add(f Finding) { c.fs = append(c.fs, f) }

func (c *comparison) state() {
	d, o, b, n, adopt, conv := c.d, c.o, c.b, c.n, c.adopt, c.conv
	should := d.Desire == model.DesireEnabled
	observed := model.AccountDisabled
	if o.Active {
		observed = model.AccountEnabled
	}
	class := config.DriftState
	if o.Active && !should && isLeaver(d) {
		class = config.DriftLeaverActive
	}
	f := Finding{Class: class, Expected: stateWord(should), Actual: stateWord(o.Active), Detail: d.Reason}
	switch {
	case o.Active == should:
		n.State = observed
		return
	case class == config.DriftLeaverActive:
	case adopt:
		if should {
			return // adopting a disabled account of a joiner: enabling it is ordinary work
		}
	case b.Enabled() != should:
		if c.open[OpenKey(class, "")] {
			c.add(f) // converged earlier, not fixed yet
		}
		return // the planner is on it
	}
	c.add(f)
	if conv(class) {
		n.State = observed
	} else if adopt {
		// Adopted as it should be, so that no enforcement acts on it.
		n.State = model.AccountDisabled
	}
}

func (c *comparison) attributes(createOnly map[string]bool) {
	d, o, b, n := c.d, c.o, c.b, c.n
	for _, name := range d.Attributes.Keys() {
		if createOnly[name] {
			continue
		}
		want, have := d.Attributes[name], o.Attributes[name]
		bv, ok := b.Attributes[name]
		agreed := (ok && model.ValueEqual(bv, want)) || (!ok && model.ValueEqual(want, nil))
		f := Finding{Class: config.DriftAttribute, Subject: name, Expected: model.FormatValue(want), Actual: model.FormatValue(have)}
		switch {
		case model.ValueEqual(want, have):
			if !agreed {
				setAttr(n, name, have)
			}
			continue
		case !agreed:
			if c.open[OpenKey(f.Class, name)] {
				c.add(f)
			}
			continue // an update is due anyway
		}
		c.add(f)
		if c.conv(config.DriftAttribute) {
			setAttr(n, name, have)
		}
	}
}

func setAttr(n *model.Account, name string, v any) {
	if n.Attributes == nil {
		n.Attributes = model.Attributes{}
	}
	n.Attributes[name] = v
}

// entitlements compares memberships by name as the target compares them
// (names.Key). An entitlement is known and written in the policy's
// spelling when the policy grants it, else in the known spelling, else in
// the target's; an extra one is reported in the target's own spelling.
func (c *comparison) entitlements(unmanaged map[string]bool, names model.EntitlementNames) {
	d, o, b, n, adopt, conv := c.d, c.o, c.b, c.n, c.adopt, c.conv
	want := map[string]string{}
	if d.Desire == model.DesireEnabled {
		for _, g := range d.Grants {
			want[names.Key(g.Entitlement)] = g.Entitlement
		}
	}
	have, bel := keyed(o.Entitlements, names), keyed(b.Entitlements, names)
	spelling := map[string]string{}
	for _, m := range []map[string]string{have, bel, want} {
		maps.Copy(spelling, m) // the policy's spelling wins, then the known one
	}
	next := keyed(n.Entitlements, names)
	keys := slices.SortedFunc(maps.Keys(spelling), func(a, b string) int { return strings.Compare(spelling[a], spelling[b]) })
	for _, key := range keys {
		e := spelling[key]
		if names.In(unmanaged, e) {
			continue
		}
		_, w := want[key]
		seen, h := have[key]
		_, k := bel[key]
		missing := Finding{Class: config.DriftMissingEntitlement, Subject: e, Expected: "granted", Actual: "absent"}
		extra := Finding{Class: config.DriftExtraEntitlement, Subject: seen, Expected: "absent", Actual: "granted",
			Detail: "not granted by policy"}
		switch {
		case w && h:
			next[key] = e // agreed; known takes the policy's spelling
		case !w && !h && k:
			delete(next, key)
		case w && k && !h:
			c.add(missing)
			if conv(config.DriftMissingEntitlement) {
				delete(next, key)
			}
		case !w && h && (!k || adopt):
			c.add(extra)
			if conv(config.DriftExtraEntitlement) {
				next[key] = e
			} else {
				delete(next, key)
			}
		case w && !h && c.open[OpenKey(missing.Class, e)]:
			c.add(missing) // converged earlier, the grant is pending
		case !w && h && c.open[OpenKey(extra.Class, seen)]:
			c.add(extra) // converged earlier, the revoke is pending
		}
	}
	n.Entitlements = slices.Sorted(maps.Values(next))
}

// keyed maps each name's key (as the target compares names) to its
// spelling, the first one where a list has several.
func keyed(ss []string, names model.EntitlementNames) map[string]string {
	m := make(map[string]string, len(ss))
	for _, s := range ss {
		if _, ok := m[names.Key(s)]; !ok {
			m[names.Key(s)] = s
		}
	}
	return m
}

// fix is the known-state change from k to n: the whole account when it
// is adopted, else what differs.
func fix(k *model.Account, o *store.ObservedAccount, n *model.Account, adopt bool) *model.AccountChange {
	ch := &model.AccountChange{Target: o.Target, PersonKey: o.PersonKey}
	if adopt {
		ch.Upsert, ch.NativeID, ch.Link, ch.State = true, o.NativeID, o.Link, n.State
		if ch.Link == nil {
			ch.Link = map[string]string{}
		}
		ch.Attributes = n.Attributes
		ch.Grant = n.Entitlements
		if k != nil {
			ch.Revoke = minus(k.Entitlements, n.Entitlements)
			ch.Grant = minus(n.Entitlements, k.Entitlements)
		}
		return ch
	}
	changed := false
	if n.State != k.State {
		ch.State, changed = n.State, true
	}
	for name, v := range n.Attributes {
		if model.ValueEqual(k.Attributes[name], v) {
			continue
		}
		if ch.Attributes == nil {
			ch.Attributes = model.Attributes{}
		}
		ch.Attributes[name], changed = v, true
	}
	ch.Grant, ch.Revoke = minus(n.Entitlements, k.Entitlements), minus(k.Entitlements, n.Entitlements)
	if len(ch.Grant) > 0 || len(ch.Revoke) > 0 {
		changed = true
	}
	if !changed {
		return nil
	}
	return ch
}

// minus returns the elements of a not in b, sorted.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
