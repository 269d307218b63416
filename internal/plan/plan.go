// Package plan compares what policy wants with what the targets have and
// produces the actions that close the gap. PlanAccount and Planner.PlanPerson
// are pure functions of (desired, known, policy); Build streams the store
// through them; thresholds decide whether the result may run unattended.
package plan

import (
	"slices"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// Key names one person's account on one target.
type Key struct {
	Person string
	Target string
}

// AccountInput is everything PlanAccount needs beyond the two states.
type AccountInput struct {
	Today model.Date
	Caps  connector.Capabilities
	// CreateOnly attributes are set at creation and never updated.
	CreateOnly map[string]bool
	// Unmanaged entitlements are neither granted nor revoked.
	Unmanaged map[string]bool
}

// PlanAccount returns the ordered actions that take known (nil when there
// is no account) to desired. The order is the execution order within the
// job: create or enable first, then attribute updates, then grants before
// revokes (a mover never loses access before gaining the new), and for a
// leaver the disable before the revokes (access is cut first).
func PlanAccount(d *model.DesiredAccount, k *model.Account, in AccountInput) []model.Action {
	var acts []model.Action
	add := func(a model.Action) {
		if acts == nil {
			acts = make([]model.Action, 0, 2+len(d.Grants))
		}
		a.PersonKey, a.Target, a.State = d.PersonKey, d.Target, model.ActionPending
		if k != nil {
			a.NativeID = k.NativeID
		}
		a.Seq = len(acts)
		acts = append(acts, a)
	}
	if k == nil {
		if d.Desire != model.DesireEnabled {
			return nil
		}
		ents := entitlementsOf(d.Grants, in.Unmanaged, in.Caps.Names())
		create := model.Action{Op: model.OpCreate, Attributes: d.Attributes.Clone(), Reason: "joiner"}
		if in.Caps.CreateWithEntitlements {
			create.Entitlements, ents = ents, nil
		}
		add(create)
		for _, b := range batches(ents, in.Caps.MaxBatch) {
			add(model.Action{Op: model.OpGrant, Entitlements: b, Reason: "joiner"})
		}
		return acts
	}
	switch d.Desire {
	case model.DesireEnabled:
		reason := "mover"
		if !k.Enabled() {
			reason = "rehire"
			add(model.Action{Op: model.OpEnable, Reason: "rehire"})
		}
		if changed, prev := diffAttributes(d.Attributes, k.Attributes, in.CreateOnly); len(changed) > 0 {
			add(model.Action{Op: model.OpUpdate, Attributes: changed, Previous: prev, Reason: "attributes changed"})
		}
		want := entitlementsOf(d.Grants, in.Unmanaged, in.Caps.Names())
		grant, revoke := diffEntitlements(want, k.Entitlements, in.Unmanaged, in.Caps.Names())
		for _, b := range batches(grant, in.Caps.MaxBatch) {
			add(model.Action{Op: model.OpGrant, Entitlements: b, Reason: reason})
		}
		for _, b := range batches(revoke, in.Caps.MaxBatch) {
			add(model.Action{Op: model.OpRevoke, Entitlements: b, Reason: reason})
		}
	case model.DesireDisabled:
		if d.DeleteByGrace && in.Caps.Delete && !k.Enabled() && !k.DisabledAt.IsZero() &&
			!in.Today.Before(model.DateOf(k.DisabledAt).AddDays(d.DeleteAfterDays)) {
			add(model.Action{Op: model.OpDelete, Reason: d.Reason + "; grace period over"})
			break
		}
		if k.Enabled() {
			add(model.Action{Op: model.OpDisable, Reason: d.Reason})
		}
		_, revoke := diffEntitlements(nil, k.Entitlements, in.Unmanaged, in.Caps.Names())
		for _, b := range batches(revoke, in.Caps.MaxBatch) {
			add(model.Action{Op: model.OpRevoke, Entitlements: b, Reason: d.Reason})
		}
	case model.DesireAbsent:
		if in.Caps.Delete {
			add(model.Action{Op: model.OpDelete, Reason: d.Reason})
			break
		}
		// The target cannot delete: the closest safe state is disabled
		// with nothing granted.
		dd := *d
		dd.Desire = model.DesireDisabled
		return PlanAccount(&dd, k, in)
	}
	return acts
}

func entitlementsOf(grants []model.Grant, unmanaged map[string]bool, names model.EntitlementNames) []string {
	out := make([]string, 0, len(grants))
	for _, g := range grants {
		if !names.In(unmanaged, g.Entitlement) {
			out = append(out, g.Entitlement)
		}
	}
	return out
}

// diffEntitlements returns want-minus-have and have-minus-want as the
// target compares names (see diffSorted): on a target that ignores letter
// case, a known "VPN Users" satisfies a wanted "vpn users". Grants keep
// the policy's spelling, revokes the known one. The exact diff comes
// first; only what it leaves over is compared without case, so an account
// known in the policy's spelling (as accord stores it) costs no more.
func diffEntitlements(want, have []string, unmanaged map[string]bool, names model.EntitlementNames) (add, remove []string) {
	if !names.FoldCase {
		return diffSorted(want, have, unmanaged)
	}
	add, remove = diffSorted(want, have, nil)
	add = slices.DeleteFunc(add, func(w string) bool { return names.Contains(have, w) })
	remove = slices.DeleteFunc(remove, func(h string) bool { return names.Contains(want, h) || names.In(unmanaged, h) })
	return add, remove
}

// diffSorted returns want-minus-have and have-minus-want, both sorted,
// skipping unmanaged entitlements on the revoke side (and want never has
// them). Both inputs are sorted and unique.
func diffSorted(want, have []string, unmanaged map[string]bool) (add, remove []string) {
	i, j := 0, 0
	for i < len(want) || j < len(have) {
		switch {
		case j == len(have) || (i < len(want) && want[i] < have[j]):
			add = append(add, want[i])
			i++
		case i == len(want) || have[j] < want[i]:
			if !unmanaged[have[j]] {
				remove = append(remove, have[j])
			}
			j++
		default:
			i++
			j++
		}
	}
	return add, remove
}

func batches(ents []string, max int) [][]string {
	if len(ents) == 0 {
		return nil
	}
	if max <= 1 {
		// One entitlement per action: sub-slices of ents, which is never
		// modified afterwards, so no copy is needed.
		out := make([][]string, len(ents))
		for i := range ents {
			out[i] = ents[i : i+1 : i+1]
		}
		return out
	}
	var out [][]string
	for len(ents) > 0 {
		n := min(max, len(ents))
		out = append(out, slices.Clone(ents[:n]))
		ents = ents[n:]
	}
	return out
}

// diffAttributes returns the desired values that differ from the known
// ones, and the known values they replace.
func diffAttributes(want, have model.Attributes, createOnly map[string]bool) (changed, prev model.Attributes) {
	for k, w := range want {
		if createOnly[k] {
			continue
		}
		h, known := have[k]
		if known && model.ValueEqual(w, h) {
			continue
		}
		if !known && model.ValueEqual(w, nil) {
			continue
		}
		if changed == nil {
			changed, prev = model.Attributes{}, model.Attributes{}
		}
		changed[k] = w
		if known {
			prev[k] = h
		}
	}
	return changed, prev
}
