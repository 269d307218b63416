package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// entitlementCreator is implemented by connectors that can create a
// missing entitlement (SCIM: POST /Groups; REST: a create_entitlement
// operation) when the target's settings ask for it. An error of kind
// unsupported says they do not.
type entitlementCreator interface {
	CreateEntitlement(ctx context.Context, entitlement string) error
}

// accountThere reads the account to tell a missing account from a
// missing entitlement. known is false when the connector cannot read.
func (e *Engine) accountThere(ctx context.Context, t *Target, ref *connector.AccountRef) (there, known bool, _ *connector.Error) {
	if !t.Conn.Capabilities().Read {
		return false, false, nil
	}
	err := connector.AsError(t.do(ctx, func() error {
		_, err := t.Conn.Get(ctx, *ref)
		return err
	}))
	switch {
	case err == nil:
		return true, true, nil
	case err.Kind == connector.NotFound:
		return false, true, nil
	}
	return false, false, err
}

// grantNotFound resolves a not_found answered to a grant: the account
// may be gone, or the entitlement may not exist. The account is read
// first; only when it is gone is it forgotten. A missing entitlement is
// created when the connector is set to, and the grant is then sent again
// (retry true); otherwise it is a failure naming the entitlement and the
// target, the account kept.
func (e *Engine) grantNotFound(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef, err *connector.Error, written time.Time) (result, bool) {
	there, known, rerr := e.accountThere(ctx, t, ref)
	switch {
	case rerr != nil:
		return result{err: rerr, message: "grant answered not found; reading the account to tell why failed"}, false
	case known && !there:
		return e.gone(t, a, err, written), false
	case !known:
		return result{err: err, message: "grant answered not found; the connector cannot read the account to tell whether the account or the entitlement is missing, so the account is kept"}, false
	}
	if res, ok := e.settling(t, a, err, written); ok {
		// A lagging target may not show the membership's side of a
		// write yet either.
		return res, false
	}
	ents := strings.Join(a.Entitlements, ", ")
	if ec, ok := t.Conn.(entitlementCreator); ok {
		var created []string
		for _, ent := range a.Entitlements {
			cerr := connector.AsError(t.do(ctx, func() error { return ec.CreateEntitlement(ctx, ent) }))
			if cerr == nil || cerr.Kind == connector.Conflict {
				created = append(created, ent)
				continue
			}
			if cerr.Kind != connector.Unsupported {
				return result{err: cerr, message: fmt.Sprintf("the account exists on %s; creating the missing entitlement %s failed", t.Name, ent)}, false
			}
			break
		}
		if len(created) == len(a.Entitlements) {
			return result{message: fmt.Sprintf("created missing entitlement %s on %s", ents, t.Name)}, true
		}
	}
	what := "entitlement " + ents + " does"
	if len(a.Entitlements) > 1 {
		// A batched grant: the target's words say which one.
		what = "an entitlement among " + ents + " does"
	}
	return result{err: &connector.Error{Kind: connector.NotFound, Status: err.Status, Reason: err.Reason, Attribute: err.Attribute, Err: err,
		Message: fmt.Sprintf("%s not exist on %s (the account %s exists there): create it on the target, or let accord create missing groups, or correct the policy; then retry",
			what, t.Name, ref.NativeID)}}, false
}

// revokeNotFound resolves a not_found answered to a revoke. If the
// account is there, the entitlement is not, and neither is the
// membership: the revoke is done. If the account is gone, known state
// forgets it. A connector that cannot read keeps the old reading: the
// membership is not there.
func (e *Engine) revokeNotFound(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef, err *connector.Error, written time.Time) result {
	change := &model.AccountChange{Target: t.Name, PersonKey: a.PersonKey, Revoke: a.Entitlements}
	there, known, rerr := e.accountThere(ctx, t, ref)
	switch {
	case rerr != nil:
		return result{err: rerr, message: "revoke answered not found; reading the account to tell why failed"}
	case known && !there:
		return e.gone(t, a, err, written)
	case known:
		return result{change: change, message: fmt.Sprintf("entitlement %s does not exist on %s: nothing to revoke", strings.Join(a.Entitlements, ", "), t.Name)}
	}
	return result{change: change, message: "already revoked on the target (it answered not found)"}
}

// unresolvedConflict is a create the target refused as a conflict that
// correlation cannot resolve: nothing found matches the person. It fails
// as a conflict with the target's words, what was searched and what to
// do, and parks the pair so that the next plans do not send the same
// create again until something changes.
func unresolvedConflict(t *Target, a *model.Action, err, ferr *connector.Error) result {
	searched := ferr.Message
	ce := &connector.Error{Kind: connector.Conflict, Status: err.Status, Reason: err.Reason, Attribute: err.Attribute, Err: err,
		Message: fmt.Sprintf("create answered conflict, and correlation found no account (%s): something on %s collides with this person's attributes; adjust the correlation rules or the mapping, then retry action %d",
			searched, t.Name, a.ID)}
	return result{err: ce, park: &model.Park{Target: t.Name, PersonKey: a.PersonKey, Fingerprint: model.AttrsFingerprint(a.Attributes),
		Reason: ce.Text(), ActionID: a.ID, RunID: a.RunID}}
}

// parker keeps parks; the store implements it.
type parker interface {
	Park(ctx context.Context, p model.Park) error
}

// park records that a create must not be planned again as it is. A
// store without parks leaves the create to be planned, and fail, again.
func (e *Engine) park(ctx context.Context, p model.Park) {
	pk, ok := e.st.(parker)
	if !ok {
		return
	}
	if err := pk.Park(context.WithoutCancel(ctx), p); err != nil {
		e.log.Error("park", "target", p.Target, "person", p.PersonKey, "error", err)
	}
}
