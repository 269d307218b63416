package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/wait"
)

// settleStep is the first wait before looking again at a write the target
// does not show yet; it doubles up to settleStepMax.
const (
	settleStep    = 100 * time.Millisecond
	settleStepMax = 2 * time.Second
)

// settleWait is the wait before the attempt after attempt n when the
// target did not show accord's write yet: settleStep, doubling per
// attempt up to settleStepMax.
func settleWait(n int) time.Duration {
	if n < 1 || n > 8 {
		return settleStepMax
	}
	return min(settleStep<<(n-1), settleStepMax)
}

// memberReader is what verification needs of a connector whose accounts
// do not show their memberships: a read of one membership where the
// target shows it (SCIM: the group; REST: a members or check_member
// operation). An error of kind unsupported says the target offers none.
type memberReader interface {
	IsMember(ctx context.Context, ref connector.AccountRef, entitlement string) (bool, error)
}

// check is what verification established when it found nothing wrong.
type check struct {
	// note is the audit's word for it: "verified", or why not.
	note string
	// unverifiable: the target accepted the change, but nothing it offers
	// can show it. Never reported as verified.
	unverifiable bool
}

var checkVerified = check{note: "verified"}

func unverifiable(why string) check {
	return check{note: "unverifiable: " + why, unverifiable: true}
}

// verify reads the account back after a write and compares what the
// action was about: the attributes it set, the active flag, the
// memberships. A 200 that the target did not honour is an error of kind
// unverified, never a green status; a change nothing can show is
// unverifiable, never verified.
//
// A target with replication lag (failure.settle) may not show a write
// at once: the read-back is repeated, with a growing wait, until it
// agrees or the settle window has passed. Only reads are repeated; the
// write is not sent again.
func (e *Engine) verify(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef) (check, *connector.Error) {
	switch {
	case !t.Failure.VerifyOn():
		return check{note: "not read back (failure.verify is off)"}, nil
	case !t.Conn.Capabilities().Read:
		return unverifiable("the connector cannot read accounts back"), nil
	case ref.NativeID == "":
		return unverifiable("the target returned no account ID to read back"), nil
	}
	deadline := time.Now().Add(t.Failure.Settle)
	for n := 1; ; n++ {
		c, verr := e.readBack(ctx, t, a, ref)
		if verr == nil || verr.Kind != connector.Unverified {
			return c, verr
		}
		left := time.Until(deadline)
		if left <= 0 {
			return c, verr
		}
		if wait.For(ctx, min(settleWait(n), left)) != nil {
			return c, verr
		}
	}
}

// readBack reads the account once and compares it with what a wrote.
func (e *Engine) readBack(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef) (check, *connector.Error) {
	var got connector.Account
	err := t.do(ctx, func() error {
		var err error
		got, err = t.Conn.Get(ctx, *ref)
		return err
	})
	if err != nil {
		ce := connector.AsError(err)
		if ce.Kind == connector.NotFound && a.Op != model.OpDelete {
			return check{}, &connector.Error{Kind: connector.Unverified, Message: "read back: the account is not there after " + string(a.Op), Err: err}
		}
		if a.Op == model.OpDelete && ce.Kind == connector.NotFound {
			return checkVerified, nil
		}
		return check{}, ce
	}
	var diffs []string
	switch a.Op {
	case model.OpDelete:
		return check{}, &connector.Error{Kind: connector.Unverified, Message: "read back: the account still exists after delete"}
	case model.OpCreate, model.OpUpdate:
		for _, k := range a.Attributes.Keys() {
			want := a.Attributes[k]
			have, ok := got.Attributes[k]
			if !ok && model.ValueEqual(want, nil) {
				continue
			}
			if !ok || !model.ValueEqual(want, have) {
				diffs = append(diffs, fmt.Sprintf("%s is %q, expected %q", k, model.FormatValue(have), model.FormatValue(want)))
			}
		}
		if a.Op == model.OpCreate && !got.Active {
			diffs = append(diffs, "the account is inactive")
		}
	case model.OpEnable:
		if !got.Active {
			diffs = append(diffs, "the account is still inactive")
		}
	case model.OpDisable:
		if got.Active {
			diffs = append(diffs, "the account is still active")
		}
	}
	c := checkVerified
	if want := a.Op == model.OpGrant || a.Op == model.OpCreate; (want || a.Op == model.OpRevoke) && len(a.Entitlements) > 0 {
		d, mc, err := e.memberships(ctx, t, ref, got, a.Entitlements, want)
		if err != nil {
			return check{}, err
		}
		diffs, c = append(diffs, d...), mc
	}
	if len(diffs) == 0 {
		return c, nil
	}
	return check{}, &connector.Error{Kind: connector.Unverified, Message: "read back after " + string(a.Op) + ": " + strings.Join(diffs, "; ")}
}

// memberships compares the entitlements an action granted (want) or
// revoked (!want) with what the target shows: on the account when it
// lists its memberships, else where the connector can read them. Where
// neither can, the check is unverifiable.
func (e *Engine) memberships(ctx context.Context, t *Target, ref *connector.AccountRef, got connector.Account, ents []string, want bool) ([]string, check, *connector.Error) {
	var diffs []string
	differs := func(ent string, member bool, where string) {
		switch {
		case want && !member:
			diffs = append(diffs, "not a member of "+ent+where)
		case !want && member:
			diffs = append(diffs, "still a member of "+ent+where)
		}
	}
	if got.Entitlements != nil {
		names := t.Conn.Capabilities().Names()
		for _, ent := range ents {
			differs(ent, names.Contains(got.Entitlements, ent), "")
		}
		return diffs, checkVerified, nil
	}
	mr, ok := t.Conn.(memberReader)
	if !ok {
		return nil, unverifiable("the target's accounts do not show their memberships, and the connector has no other way to read them"), nil
	}
	for _, ent := range ents {
		var member bool
		err := t.do(ctx, func() error {
			var err error
			member, err = mr.IsMember(ctx, *ref, ent)
			return err
		})
		if err != nil {
			ce := connector.AsError(err)
			if ce.Kind == connector.Unsupported {
				return nil, unverifiable(ce.Text()), nil
			}
			return nil, check{}, ce
		}
		differs(ent, member, " (read on the entitlement)")
	}
	return diffs, checkVerified, nil
}

// hasEntitlements reads the membership back to see whether a grant
// answered with a conflict ("already a member") is really in place. seen
// is false when nothing can show it: then there is only the target's
// word.
func (e *Engine) hasEntitlements(ctx context.Context, t *Target, ref *connector.AccountRef, ents []string) (ok, seen bool, _ *connector.Error) {
	if !t.Conn.Capabilities().Read || ref.NativeID == "" {
		return true, false, nil
	}
	var got connector.Account
	err := t.do(ctx, func() error {
		var err error
		got, err = t.Conn.Get(ctx, *ref)
		return err
	})
	if err != nil {
		return false, false, connector.AsError(err)
	}
	diffs, c, cerr := e.memberships(ctx, t, ref, got, ents, true)
	if cerr != nil {
		return false, false, cerr
	}
	if c.unverifiable {
		return true, false, nil
	}
	return len(diffs) == 0, true, nil
}
