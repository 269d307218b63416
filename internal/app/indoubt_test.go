package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// Against a target that accepts duplicate user names, a create whose
// earlier attempt may have reached the target is looked up before it is
// sent again: the target's uniqueness check is no part of the guarantee.

// TestTimedOutCreateIsLookedUpNotResent: the target creates the account
// but answers after accord's timeout. The retry finds the account and
// links it instead of POSTing a second one.
func TestTimedOutCreateIsLookedUpNotResent(t *testing.T) {
	const persons = 6
	w := newSimWorldWith(t, persons, 2, targetsim.Options{AllowDuplicates: true}, func(cfg string) string {
		return strings.Replace(cfg, "entitlements_by: displayName", "entitlements_by: displayName\n      timeout: 300ms", 1)
	})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultSlow, Method: "POST", Pattern: "/scim/v2/Users",
		Delay: targetsim.Duration(5 * time.Second), Times: 3})
	require.NoError(t, err)
	run := w.enforceToEnd(t)
	require.Equal(t, model.RunSucceeded, run.State, "%v", run.Counts)
	require.Equal(t, uint64(3), w.sim.Stats().Faults[targetsim.FaultSlow], "three creates timed out after the target acted")
	requireNoDuplicates(t, w.sim)
	w.checkTarget(persons)
	require.Equal(t, 3, countEnds(t, w, run.ID, "in doubt from an earlier attempt: found on the target"))
	require.Len(t, w.sim.RequestsTo("POST", "/scim/v2/Users"), persons, "no create sent twice")
}

// TestCrashedCreateIsResolvedBeforeItIsRepeated: three creates were
// started when the process died (the store has them running, no
// outcome). For the first the target had made the account and accord
// had not recorded the answer: it is found by correlation. For the
// second the answer was recorded (the native ID): it is read by ID. For
// the third the request never left: it is not on the target, and is sent.
func TestCrashedCreateIsResolvedBeforeItIsRepeated(t *testing.T) {
	const persons = 3
	w := newSimWorld(t, persons, 2, targetsim.Options{AllowDuplicates: true})
	ctx := context.Background()
	run, _, err := w.app.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	creates, err := w.app.Store.ListActions(ctx, store.ActionQuery{RunID: run.ID})
	require.NoError(t, err)
	var b store.Batch
	now := time.Now().UTC()
	for _, a := range creates {
		if a.Op != model.OpCreate {
			continue
		}
		b.Actions = append(b.Actions, store.ActionUpdate{ID: a.ID, State: model.ActionRunning, Attempts: 1, At: now})
		b.Audit = append(b.Audit, audit.Call{RunID: a.RunID, ActionID: a.ID, Attempt: 1, PersonKey: a.PersonKey, Target: a.Target, Operation: string(a.Op)}.Base(audit.KindAttemptStart))
		var i int
		_, err := fmt.Sscanf(a.PersonKey, "E%05d", &i)
		require.NoError(t, err)
		if i == 2 {
			continue // the crash came before the request left
		}
		u, err := w.sim.SCIM().CreateUser(fmt.Sprintf("p%d@example.com", i), map[string]any{"displayName": fmt.Sprintf("First Last%d", i), "active": true})
		require.NoError(t, err)
		if i == 1 {
			b.Accounts = append(b.Accounts, model.AccountChange{Target: a.Target, PersonKey: a.PersonKey, NativeID: u.ID, Upsert: true, State: model.AccountEnabled, At: now})
		}
	}
	require.Len(t, b.Actions, persons)
	require.NoError(t, w.app.Store.Commit(ctx, b))
	w.sim.ResetLog()

	w.runUntilDone(nil)
	r, err := w.app.Store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)
	requireNoDuplicates(t, w.sim)
	w.checkTarget(persons)
	require.Equal(t, 1, countEnds(t, w, run.ID, "in doubt from an earlier attempt: found on the target"))
	require.Equal(t, 1, countEnds(t, w, run.ID, "in doubt from an earlier attempt: the recorded account is on the target"))
	require.Equal(t, 1, countEnds(t, w, run.ID, "in doubt from an earlier attempt: not on the target, sent again"))
	require.Len(t, w.sim.RequestsTo("POST", "/scim/v2/Users"), 1, "only the create that never left is sent")
}

// enforceToEnd plans a run for everyone, executes it to its end and
// returns it as stored.
func (w *simWorld) enforceToEnd(t *testing.T) model.Run {
	t.Helper()
	ctx := context.Background()
	run, _, err := w.app.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	w.runUntilDone(nil)
	r, err := w.app.Store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	return r
}

func requireNoDuplicates(t *testing.T, sim *targetsim.Sim) {
	t.Helper()
	for name, n := range sim.SCIM().UserNameCounts() {
		require.Equal(t, 1, n, "%s has %d accounts", name, n)
	}
}

// countEnds counts the attempt ends of the run whose message has note.
func countEnds(t *testing.T, w *simWorld, runID, note string) int {
	t.Helper()
	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{RunID: runID, Kinds: []audit.Kind{audit.KindAttemptEnd}})
	require.NoError(t, err)
	n := 0
	for _, r := range recs {
		if strings.Contains(r.Message, note) {
			n++
		}
	}
	return n
}

// TestCreatedAccountIsRecordedBeforeTheReadBack: while the read-back of
// a new account is still at the target, the store already links the
// account by the native ID the create answered, so a crash during the
// read-back leaves no create in doubt.
func TestCreatedAccountIsRecordedBeforeTheReadBack(t *testing.T) {
	var w *simWorld
	type seen struct {
		acct model.Account
		err  error
	}
	during := make(chan seen, 1)
	w = newSimWorld(t, 1, 1, targetsim.Options{Sleep: func(ctx context.Context, _ time.Duration) error {
		acct, err := w.app.Store.GetAccount(ctx, "saas", "E00000")
		during <- seen{acct, err}
		return nil
	}})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Method: "GET", Pattern: "/scim/v2/Users/*",
		Delay: targetsim.Duration(time.Millisecond), Times: 1})
	require.NoError(t, err)
	w.enforceToEnd(t)

	s := <-during
	require.NoError(t, s.err, "the account is known while its read-back is in flight")
	u, ok := w.sim.SCIM().UserByName("p0@example.com")
	require.True(t, ok)
	require.Equal(t, u.ID, s.acct.NativeID)
}
