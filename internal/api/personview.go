package api

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// personDetail is everything accord knows and wants of one person: what
// HR says, whether policy leaves them alone, and per target what policy
// wants, what the target has, what an operator took out of accord's hands,
// and what is still to be done.
type personDetail struct {
	Person         personView    `json:"person"`
	Excluded       bool          `json:"excluded"`
	ExcludedReason string        `json:"excluded_reason"`
	Problem        string        `json:"problem"`
	Targets        []targetState `json:"targets"`
}

type targetState struct {
	Target string `json:"target"`
	// EntitlementsFoldCase: the target takes entitlement names that differ
	// only in case for one (a directory): wanted, held and unmanaged are
	// compared so, and a client comparing them should do the same.
	EntitlementsFoldCase bool            `json:"entitlements_fold_case"`
	Desired              *desiredView    `json:"desired"`
	Account              *accountView    `json:"account"`
	Unmanaged            []unmanagedView `json:"unmanaged"`
	PendingActions       []ActionView    `json:"pending_actions"`
}

type desiredView struct {
	// Desire is enabled, disabled, absent, or none (no opinion yet).
	Desire       string             `json:"desire"`
	Reason       string             `json:"reason"`
	Attributes   model.Attributes   `json:"attributes"`
	Entitlements []desiredGrantView `json:"entitlements"`
}

type desiredGrantView struct {
	Entitlement string   `json:"entitlement"`
	Roles       []string `json:"roles"`
	// Unmanaged: policy would grant it, but accord leaves it alone.
	Unmanaged bool `json:"unmanaged"`
}

type accountView struct {
	NativeID     string             `json:"native_id"`
	State        model.AccountState `json:"state"`
	Attributes   model.Attributes   `json:"attributes"`
	Entitlements []heldView         `json:"entitlements"`
	DisabledAt   *time.Time         `json:"disabled_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
}

type heldView struct {
	Entitlement string `json:"entitlement"`
	// Unmanaged: held, and accord will not revoke it.
	Unmanaged bool `json:"unmanaged"`
}

func (s *Server) getPerson(rq *request) (int, any, error) {
	ctx := rq.Context()
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	key := rq.PathValue("key")
	per, err := s.personsStore().GetPerson(ctx, key)
	if err != nil {
		return 0, nil, err
	}
	out := personDetail{Person: toPersonView(&per), Targets: []targetState{}}
	ev, err := s.app.Policy.Evaluate(&per, s.app.Today())
	if err != nil {
		out.Problem = err.Error()
	}
	out.Excluded, out.ExcludedReason = ev.Excluded, ev.Reason
	um, err := s.accountsStore().ListUnmanaged(ctx, key)
	if err != nil {
		return 0, nil, err
	}
	pending, err := s.runsStore().ListActions(ctx, store.ActionQuery{PersonKey: key,
		States: []model.ActionState{model.ActionPending, model.ActionRunning}})
	if err != nil {
		return 0, nil, err
	}
	for _, t := range s.app.Policy.Targets {
		ts := targetState{Target: t.Name, Unmanaged: []unmanagedView{}, PendingActions: []ActionView{}}
		names := s.entitlementNames(t.Name)
		ts.EntitlementsFoldCase = names.FoldCase
		unmanaged := map[string]bool{}
		for _, u := range um {
			if u.Target == t.Name {
				unmanaged[u.Entitlement] = true
				ts.Unmanaged = append(ts.Unmanaged, toUnmanagedView(u))
			}
		}
		if d := desiredOn(ev, t.Name); d != nil {
			ts.Desired = toDesiredView(d, unmanaged, names)
		}
		acct, err := s.accountsStore().GetAccount(ctx, t.Name, key)
		switch {
		case err == nil:
			ts.Account = toAccountView(&acct, unmanaged, names)
		case !errors.Is(err, store.ErrNotFound):
			return 0, nil, err
		}
		for i := range pending {
			if pending[i].Target == t.Name {
				ts.PendingActions = append(ts.PendingActions, ToActionView(&pending[i]))
			}
		}
		out.Targets = append(out.Targets, ts)
	}
	return http.StatusOK, out, nil
}

// entitlementNames compares entitlement names as target does, as the
// planner, verification and reconciliation do (Capabilities.Names).
func (s *Server) entitlementNames(target string) model.EntitlementNames {
	if c := s.app.Conns[target]; c != nil {
		return c.Capabilities().Names()
	}
	return model.EntitlementNames{}
}

func toDesiredView(d *model.DesiredAccount, unmanaged map[string]bool, names model.EntitlementNames) *desiredView {
	v := &desiredView{Desire: string(d.Desire), Reason: d.Reason, Attributes: attrs(d.Attributes), Entitlements: []desiredGrantView{}}
	if d.Desire == model.DesireNone {
		v.Desire = "none"
	}
	for _, g := range d.Grants {
		v.Entitlements = append(v.Entitlements, desiredGrantView{Entitlement: g.Entitlement, Roles: slices.Clone(g.Roles), Unmanaged: names.In(unmanaged, g.Entitlement)})
	}
	return v
}

func toAccountView(a *model.Account, unmanaged map[string]bool, names model.EntitlementNames) *accountView {
	v := &accountView{NativeID: a.NativeID, State: a.State, Attributes: attrs(a.Attributes), Entitlements: []heldView{},
		DisabledAt: timePtr(a.DisabledAt), UpdatedAt: a.UpdatedAt}
	for _, e := range a.Entitlements {
		v.Entitlements = append(v.Entitlements, heldView{Entitlement: e, Unmanaged: names.In(unmanaged, e)})
	}
	return v
}
