package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
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

// verify reads the account back after a write and compares what the
// action was about: the attributes it set, the active flag, the
// memberships. A 200 that the target did not honour is an error of kind
// unverified, never a green status.
//
// A target with replication lag (failure.settle) may not show a write
// at once: the read-back is repeated, with a growing wait, until it
// agrees or the settle window has passed. Only reads are repeated; the
// write is not sent again.
func (e *Engine) verify(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef) *connector.Error {
	if !t.Failure.VerifyOn() || !t.Conn.Capabilities().Read || ref.NativeID == "" {
		return nil
	}
	deadline := time.Now().Add(t.Failure.Settle)
	for n := 1; ; n++ {
		verr := e.readBack(ctx, t, a, ref)
		if verr == nil || verr.Kind != connector.Unverified {
			return verr
		}
		left := time.Until(deadline)
		if left <= 0 {
			return verr
		}
		timer := time.NewTimer(min(settleWait(n), left))
		select {
		case <-ctx.Done():
			timer.Stop()
			return verr
		case <-timer.C:
		}
	}
}

// readBack reads the account once and compares it with what a wrote.
func (e *Engine) readBack(ctx context.Context, t *Target, a *model.Action, ref *connector.AccountRef) *connector.Error {
	var got connector.Account
	err := t.do(ctx, func() error {
		var err error
		got, err = t.Conn.Get(ctx, *ref)
		return err
	})
	if err != nil {
		ce := connector.AsError(err)
		if ce.Kind == connector.NotFound && a.Op != model.OpDelete {
			return &connector.Error{Kind: connector.Unverified, Message: "read back: the account is not there after " + string(a.Op), Err: err}
		}
		if a.Op == model.OpDelete && ce.Kind == connector.NotFound {
			return nil
		}
		return ce
	}
	var diffs []string
	switch a.Op {
	case model.OpDelete:
		return &connector.Error{Kind: connector.Unverified, Message: "read back: the account still exists after delete"}
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
	if got.Entitlements != nil {
		switch a.Op {
		case model.OpGrant, model.OpCreate:
			for _, ent := range a.Entitlements {
				if !slices.Contains(got.Entitlements, ent) {
					diffs = append(diffs, fmt.Sprintf("not a member of %s", ent))
				}
			}
		case model.OpRevoke:
			for _, ent := range a.Entitlements {
				if slices.Contains(got.Entitlements, ent) {
					diffs = append(diffs, fmt.Sprintf("still a member of %s", ent))
				}
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return &connector.Error{Kind: connector.Unverified, Message: "read back after " + string(a.Op) + ": " + strings.Join(diffs, "; ")}
}

// hasEntitlement reads the account back to see whether a grant answered
// with a conflict ("already a member") is really in place.
func (e *Engine) hasEntitlements(ctx context.Context, t *Target, ref *connector.AccountRef, ents []string) (bool, *connector.Error) {
	caps := t.Conn.Capabilities()
	if !caps.Read || !caps.EntitlementsOnRead || ref.NativeID == "" {
		return true, nil // nothing better to go on than the target's word
	}
	var got connector.Account
	err := t.do(ctx, func() error {
		var err error
		got, err = t.Conn.Get(ctx, *ref)
		return err
	})
	if err != nil {
		return false, connector.AsError(err)
	}
	if got.Entitlements == nil {
		return true, nil
	}
	for _, ent := range ents {
		if !slices.Contains(got.Entitlements, ent) {
			return false, nil
		}
	}
	return true, nil
}
