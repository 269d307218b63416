package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// inDoubt reports, from a as the store had it before this attempt's
// start, whether an earlier attempt may have changed the
// target without accord knowing: its start was recorded (Attempts) and
// either no outcome followed (the process died: the action is still
// running in the store) or the outcome does not rule out that the
// target acted (a timeout, a dropped connection, a 5xx after the body
// was sent). Only an answer that refused the request settles it.
func inDoubt(a *model.Action) bool {
	if a.Attempts == 0 && a.Error == nil {
		// Never attempted. An action with an error and no attempts was
		// attempted as a probe that did not count (spendsAttempt): its
		// error says whether the target may have acted.
		return false
	}
	if a.State == model.ActionRunning || a.Error == nil {
		return true
	}
	switch connector.Kind(a.Error.Kind) {
	case connector.Validation, connector.Auth, connector.Forbidden, connector.RateLimited, connector.Unsupported:
		return false
	}
	return true
}

// resolveInDoubt looks up the account of a create in doubt before it is
// sent again. It returns the account when the target has it, else nil
// and a note for the audit; an error when the lookup itself failed (the
// create is then retried later, never sent blind).
//
// A native ID recorded from the earlier answer is asked for directly;
// otherwise the connector's correlation (Find) is used.
//
// why says why the create is looked up ("": it is not): in doubt, or an
// account of the person already recorded. The notes start with it.
func (e *Engine) resolveInDoubt(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef, call func(func() error) *connector.Error, why string) (*connector.Account, string, *connector.Error) {
	if why == "" {
		return nil, "", nil
	}
	var acct connector.Account
	if ref.NativeID != "" {
		err := call(func() error {
			var err error
			acct, err = t.Conn.Get(ctx, *ref)
			return err
		})
		switch {
		case err == nil:
			return &acct, why + ": the recorded account is on the target", nil
		case err.Kind != connector.NotFound:
			return nil, why + ": reading the recorded account failed", err
		}
	}
	if !t.Conn.Capabilities().Find {
		// Nothing to look with: the idempotency key, where configured,
		// is what keeps the target from acting twice.
		return nil, why + ", and the target cannot look accounts up: sent again", nil
	}
	err := call(func() error {
		var err error
		acct, err = t.Conn.Find(ctx, a.Attributes)
		return err
	})
	switch {
	case err == nil:
		return &acct, why + ": found on the target", nil
	case err.Kind == connector.NotFound:
		return nil, why + ": not on the target, sent again", nil
	case err.Kind == connector.Conflict:
		return nil, why + ": several accounts on the target match; not creating another", err
	}
	return nil, why + ": looking the account up failed; not sent again yet", err
}

// recordCreated makes the target's answer to a create durable before
// the read-back, which may wait behind other requests: a crash from here
// on leaves the account linked by its native ID instead of a create in
// doubt. Attributes and grants are recorded only once verified.
func (e *Engine) recordCreated(ctx context.Context, t *Target, a *model.Action, acct connector.Account) {
	ch := linkChange(t, a, acct, true)
	ch.Attributes, ch.At = nil, e.opts.Now()
	if err := e.commit.Wait(context.WithoutCancel(ctx), store.Batch{Accounts: []model.AccountChange{*ch}}); err != nil {
		// The outcome's commit records the link again; only the crash
		// window stays as wide as before.
		e.log.Error("record created account", "action", a.ID, "target", t.Name, "error", err)
	}
}

// resendInDoubt sends a grant or revoke in doubt again only where the
// target does not show it done: an earlier attempt may have added (or
// removed) some of its entitlements before its answer was lost, its lease
// lapsed or the process died. The account is read first, and only the
// entitlements not yet as asked are sent; none left is success, read
// back. Where the target cannot show memberships the whole action is
// sent again (adding a member twice is not a second member); where
// reading fails it is not sent yet, and retried.
func (e *Engine) resendInDoubt(ctx context.Context, t *Target, job int64, a *model.Action, ref *connector.AccountRef, send func(*model.Action) result) result {
	if ref.NativeID == "" {
		ref.NativeID = a.NativeID
	}
	if !t.Conn.Capabilities().Read || ref.NativeID == "" {
		return send(a)
	}
	var got connector.Account
	if err := connector.AsError(t.do(ctx, func() error {
		var err error
		got, err = t.Conn.Get(ctx, *ref)
		return err
	})); err != nil {
		if err.Kind == connector.NotFound {
			return send(a) // the action's own reading of not_found decides
		}
		return result{err: err, message: "in doubt from an earlier attempt: reading the account back failed; not sent again yet"}
	}
	grant := a.Op == model.OpGrant
	var left, done []string
	for _, ent := range a.Entitlements {
		diffs, c, err := e.memberships(ctx, t, ref, got, []string{ent}, grant)
		switch {
		case err != nil:
			return result{err: err, message: "in doubt from an earlier attempt: reading the memberships back failed; not sent again yet"}
		case c.unverifiable:
			return send(a)
		case len(diffs) > 0:
			left = append(left, ent)
		default:
			done = append(done, ent)
		}
	}
	change := &model.AccountChange{Target: t.Name, PersonKey: a.PersonKey}
	if grant {
		change.Grant = a.Entitlements
	} else {
		change.Revoke = a.Entitlements
	}
	if len(left) == 0 {
		return result{change: change, message: "in doubt from an earlier attempt: already so on the target (read back); not sent again"}
	}
	if len(done) == 0 {
		res := send(a)
		res.message = joinMsg("in doubt from an earlier attempt: not so on the target (read back); sent again", res.message)
		return res
	}
	t.group.forgo(job, a.Op, done)
	part := *a
	part.Entitlements = left
	res := send(&part)
	if res.err == nil && res.change != nil {
		// The rest was read back as done: the action's whole effect holds.
		res.change.Grant, res.change.Revoke = change.Grant, change.Revoke
	}
	res.message = joinMsg(fmt.Sprintf("in doubt from an earlier attempt: %s already so on the target (read back); sent again: %s",
		strings.Join(done, ", "), strings.Join(left, ", ")), res.message)
	return res
}
