package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// attempt performs one action against the target, turning the answers
// that mean "already so" into success: every action is an ensure.
// doubt says an earlier attempt may have acted without accord knowing.
func (e *Engine) attempt(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef, written time.Time, doubt bool) result {
	if a.Op != model.OpCreate && ref.NativeID == "" {
		ref.NativeID = a.NativeID
	}
	if a.Op != model.OpCreate && ref.NativeID == "" {
		return result{err: connector.Errorf(connector.NotFound, "no account of %s is known on %s", a.PersonKey, t.Name),
			change: &model.AccountChange{Target: t.Name, PersonKey: a.PersonKey, Delete: true}}
	}
	call := func(f func() error) *connector.Error {
		return connector.AsError(t.do(ctx, f))
	}
	change := &model.AccountChange{Target: t.Name, PersonKey: a.PersonKey}
	note := "" // what was done on the way, for the audit
	switch a.Op {
	case model.OpCreate:
		return e.create(ctx, t, a, ref, call, doubt)
	case model.OpUpdate:
		if err := call(func() error { return t.Conn.Update(ctx, *ref, a.Attributes) }); err != nil {
			return e.gone(t, a, err, written)
		}
		change.Attributes = a.Attributes
		mergeAttrs(ref, a.Attributes)
	case model.OpEnable:
		if err := call(func() error { return t.Conn.Enable(ctx, *ref) }); err != nil {
			return e.gone(t, a, err, written)
		}
		change.State = model.AccountEnabled
	case model.OpDisable:
		if err := call(func() error { return t.Conn.Disable(ctx, *ref) }); err != nil {
			return e.gone(t, a, err, written)
		}
		change.State = model.AccountDisabled
	case model.OpDelete:
		msg := ""
		if err := call(func() error { return t.Conn.Delete(ctx, *ref) }); err != nil {
			if err.Kind != connector.NotFound {
				return result{err: err}
			}
			msg = "already absent on the target"
		}
		change.Delete = true
		return result{change: change, message: msg}
	case model.OpGrant:
		err := call(func() error { return t.Conn.Grant(ctx, *ref, a.Entitlements) })
		if err != nil && err.Kind == connector.NotFound {
			// Which is missing, the account or the entitlement, is read
			// before anything is concluded.
			res, retry := e.grantNotFound(ctx, t, a, ref, err, written)
			if !retry {
				return res
			}
			note = res.message
			err = call(func() error { return t.Conn.Grant(ctx, *ref, a.Entitlements) })
			if err != nil && err.Kind == connector.NotFound {
				return result{err: err, message: res.message}
			}
		}
		if err != nil {
			if err.Kind != connector.Conflict {
				return result{err: err}
			}
			// "Already a member": believe it only after looking.
			ok, seen, rerr := e.hasEntitlements(ctx, t, ref, a.Entitlements)
			if rerr != nil {
				return result{err: rerr, message: "grant answered conflict; reading the membership back failed"}
			}
			if !ok {
				return result{err: &connector.Error{Kind: connector.Unverified, Status: err.Status, Reason: err.Reason,
					Message: "grant answered conflict (already a member), but the membership is not there: " + err.Message}}
			}
			change.Grant = a.Entitlements
			if !seen {
				return result{change: change, unverifiable: true,
					message: "unverifiable: the target answered already a member, and nothing it offers can show the membership"}
			}
			return result{change: change, message: "already granted on the target (read back)"}
		}
		change.Grant = a.Entitlements
	case model.OpRevoke:
		if err := call(func() error { return t.Conn.Revoke(ctx, *ref, a.Entitlements) }); err != nil {
			if err.Kind != connector.NotFound {
				return result{err: err}
			}
			return e.revokeNotFound(ctx, t, a, ref, err, written)
		}
		change.Revoke = a.Entitlements
	default:
		return result{err: connector.Errorf(connector.Validation, "unknown operation %q", a.Op)}
	}
	c, verr := e.verify(ctx, t, a, ref)
	if verr != nil {
		// Known state records what the target really holds only once a
		// retry succeeds and verifies.
		return result{err: verr}
	}
	return result{change: change, message: joinMsg(note, c.note), unverifiable: c.unverifiable}
}

// gone handles a not_found on an operation that needs the account: it was
// deleted on the target behind our back. Known state forgets it, so the
// next plan re-creates it per policy; this action fails visibly.
//
// Within the target's settle window after accord last wrote the account,
// the target may just not show it yet (replication lag): the attempt is
// retried instead, and the account kept.
func (e *Engine) gone(t *Target, a *model.Action, err *connector.Error, written time.Time) result {
	if err.Kind != connector.NotFound {
		return result{err: err}
	}
	if res, ok := e.settling(t, a, err, written); ok {
		return res
	}
	return result{
		err:     err,
		change:  &model.AccountChange{Target: t.Name, PersonKey: a.PersonKey, Delete: true},
		message: "the account no longer exists on the target; the next run re-creates it",
	}
}

// settling says whether a not_found may only mean that the target does
// not show accord's last write yet: within its settle window after accord
// wrote the account, the attempt is retried instead of concluded. Such a
// retry counts, so the action's last attempt concludes: attempts never
// exceed max_attempts.
func (e *Engine) settling(t *Target, a *model.Action, err *connector.Error, written time.Time) (result, bool) {
	left := written.Add(t.Failure.Settle).Sub(e.opts.Now())
	if written.IsZero() || left <= 0 || a.Attempts >= t.Retry.MaxAttempts {
		return result{}, false
	}
	return result{err: err, settling: left,
		message: fmt.Sprintf("not found %s after accord wrote the account: the target may not show it yet (failure.settle %s)",
			e.opts.Now().Sub(written).Round(time.Millisecond), t.Failure.Settle)}, true
}

// create makes the account; when the target says it already exists, it
// correlates, links and converges instead of failing or duplicating.
//
// A create whose earlier attempt may have reached the target is in
// doubt: it is looked up first and linked if there, and sent again only
// if absent, so a target that accepts duplicate names never gets a
// second account from a crash or a timeout.
func (e *Engine) create(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef, call func(func() error) *connector.Error, doubt bool) result {
	var acct connector.Account
	// An account an earlier attempt created and linked (a create that
	// granted only part of its entitlements) is looked up like one in
	// doubt, whatever that attempt's error: it is never created again.
	why := ""
	switch {
	case doubt:
		why = "in doubt from an earlier attempt"
	case ref.NativeID != "":
		// Another run made the account after this one was planned (its
		// job started and ended while this plan was being stored), or
		// an earlier attempt linked it: never created again blind.
		why = "an account of this person on the target is recorded already"
	}
	existing, msg, err := e.resolveInDoubt(ctx, t, a, ref, call, why)
	if err != nil {
		return result{err: err, message: msg}
	}
	if existing == nil {
		var partial *connector.PartialCreateError
		err = call(func() error {
			var err error
			acct, err = t.Conn.Create(ctx, connector.CreateRequest{PersonKey: a.PersonKey, Attributes: a.Attributes, Entitlements: a.Entitlements})
			errors.As(err, &partial)
			return err
		})
		if err == nil {
			e.recordCreated(ctx, t, a, acct)
		}
		if partial != nil {
			return e.createdInPart(ctx, t, a, ref, call, partial)
		}
	}
	if err != nil || existing != nil {
		var found connector.Account
		if existing != nil {
			found = *existing
		} else {
			if err.Kind != connector.Conflict {
				return result{err: err, message: msg}
			}
			ferr := call(func() error {
				var err error
				found, err = t.Conn.Find(ctx, a.Attributes)
				return err
			})
			if ferr != nil {
				res := result{err: ferr, message: "create answered conflict, and correlation failed"}
				if ferr.Kind == connector.NotFound && t.Failure.Settle > 0 && a.Attempts < t.Retry.MaxAttempts {
					// The target says the account exists but its search does not
					// show it yet: a lagging index, looked at again later.
					res.settling = t.Failure.Settle
					res.message = "create answered conflict, but the search does not show the account yet (failure.settle)"
					return res
				}
				if ferr.Kind == connector.NotFound {
					return unresolvedConflict(t, a, err, ferr)
				}
				return res
			}
			msg = "already existed"
		}
		acct = found
		ref.NativeID, ref.Link = found.NativeID, found.Link
		changes := diff(a.Attributes, found.Attributes)
		if len(changes) > 0 {
			if uerr := call(func() error { return t.Conn.Update(ctx, *ref, changes) }); uerr != nil {
				return result{err: uerr, message: joinMsg(msg, "linked existing account "+found.NativeID+", update failed"),
					change: linkChange(t, a, found, false)}
			}
		}
		if !found.Active {
			if eerr := call(func() error { return t.Conn.Enable(ctx, *ref) }); eerr != nil {
				return result{err: eerr, message: joinMsg(msg, "linked existing account "+found.NativeID+", enable failed"),
					change: linkChange(t, a, found, false)}
			}
		}
		msg += ": linked to " + found.NativeID + " and converged"
		if len(a.Entitlements) > 0 {
			if gerr := call(func() error { return t.Conn.Grant(ctx, *ref, a.Entitlements) }); gerr != nil && gerr.Kind != connector.Conflict {
				return result{err: gerr, message: msg, change: linkChange(t, a, found, true)}
			}
		}
	}
	return e.created(ctx, t, a, ref, acct, msg)
}

// created verifies a create's account and its entitlements by reading
// them back, and records the link.
func (e *Engine) created(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef, acct connector.Account, msg string) result {
	ref.NativeID, ref.Link = acct.NativeID, acct.Link
	ref.Attributes = a.Attributes.Clone()
	ch := linkChange(t, a, acct, true)
	c, verr := e.verify(ctx, t, a, ref)
	if verr != nil {
		// The account exists: link it even though the read-back
		// disagrees, so a retry updates it instead of creating another;
		// its attributes and the grants it carried are not known to hold.
		ch.Attributes = nil
		return result{err: verr, change: ch, message: msg}
	}
	ch.Grant = append(ch.Grant, a.Entitlements...)
	return result{change: ch, message: joinMsg(msg, c.note), unverifiable: c.unverifiable}
}

// createdInPart handles a create that made the account but not every
// grant asked with it: the account is linked at once, the missing
// entitlements are granted as grants, and all of them are verified by
// reading back. If the grants fail too, the action fails or retries
// with the account linked, and its next attempt finds the account
// instead of creating another.
func (e *Engine) createdInPart(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef, call func(func() error) *connector.Error, p *connector.PartialCreateError) result {
	acct := p.Account
	e.recordCreated(ctx, t, a, acct)
	ref.NativeID, ref.Link = acct.NativeID, acct.Link
	msg := fmt.Sprintf("created %s, but %s not granted with it: %s; granted separately", acct.NativeID, strings.Join(p.Missing, ", "), p.Err.Text())
	if gerr := call(func() error { return t.Conn.Grant(ctx, *ref, p.Missing) }); gerr != nil && gerr.Kind != connector.Conflict {
		ch := linkChange(t, a, acct, true)
		ch.Attributes = nil
		return result{err: gerr, message: strings.TrimSuffix(msg, "; granted separately") + "; granting them separately failed", change: ch}
	}
	return e.created(ctx, t, a, ref, acct, msg)
}

// spelledAs returns the entitlements the target shows, each in the
// action's spelling where the target takes the two as one (a directory
// that ignores letter case), so known state holds each entitlement once,
// as the policy spells it.
func spelledAs(shown, granted []string, names model.EntitlementNames) []string {
	if !names.FoldCase || len(granted) == 0 {
		return shown
	}
	out := make([]string, len(shown))
	for i, s := range shown {
		if g, ok := names.Find(granted, s); ok {
			s = g
		}
		out[i] = s
	}
	return out
}

func linkChange(t *Target, a *model.Action, acct connector.Account, converged bool) *model.AccountChange {
	ch := &model.AccountChange{
		Target: t.Name, PersonKey: a.PersonKey, NativeID: acct.NativeID, Link: acct.Link, Upsert: true,
		State: model.AccountEnabled, Attributes: a.Attributes,
	}
	if !converged {
		ch.Attributes = acct.Attributes
		ch.State = model.AccountDisabled
		if acct.Active {
			ch.State = model.AccountEnabled
		}
	}
	// What the existing account already held is true on the target:
	// known state says so, and the next plan revokes what policy does not
	// grant.
	ch.Grant = append(ch.Grant, spelledAs(acct.Entitlements, a.Entitlements, t.Conn.Capabilities().Names())...)
	return ch
}

func diff(want, have model.Attributes) model.Attributes {
	var out model.Attributes
	for k, w := range want {
		if h, ok := have[k]; ok && model.ValueEqual(w, h) {
			continue
		}
		if out == nil {
			out = model.Attributes{}
		}
		out[k] = w
	}
	return out
}

func mergeAttrs(ref *connector.AccountRef, changes model.Attributes) {
	if ref.Attributes == nil {
		ref.Attributes = model.Attributes{}
	} else {
		ref.Attributes = ref.Attributes.Clone()
	}
	for k, v := range changes {
		ref.Attributes[k] = v
	}
}
