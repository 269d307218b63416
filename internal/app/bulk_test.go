package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// Issue 16: a joiner's create and its group grants in one SCIM /Bulk
// where the target offers it, each outcome still read back.

var bulkOn = targetsim.Options{Bulk: targetsim.Bulk{Supported: true}, AllowDuplicates: true}

func runActions(t *testing.T, w *simWorld, runID string) []model.Action {
	t.Helper()
	acts, err := w.app.Store.ListActions(context.Background(), store.ActionQuery{RunID: runID})
	require.NoError(t, err)
	return acts
}

func bulkWrites(sim *targetsim.Sim) (bulk, posts, patches int) {
	return len(sim.RequestsTo("POST", "/scim/v2/Bulk")), len(sim.RequestsTo("POST", "/scim/v2/Users")), len(sim.RequestsTo("PATCH", "/scim/v2/Groups/"))
}

// Each joiner is one create carrying its groups, sent as one /Bulk, and
// every create is verified by reading the account and its groups back.
func TestJoinersAreCreatedWithTheirGroupsInOneBulk(t *testing.T) {
	const persons = 6
	w := newSimWorld(t, persons, 2, bulkOn)
	run := w.enforceToEnd(t)
	require.Equal(t, model.RunSucceeded, run.State, "%v", run.Counts)
	acts := runActions(t, w, run.ID)
	require.Len(t, acts, persons, "one action per joiner")
	for _, a := range acts {
		require.Equal(t, model.OpCreate, a.Op)
		require.Equal(t, model.ActionSucceeded, a.State, "%+v", a.Error)
		require.Contains(t, a.Entitlements, "all-staff", "birthright, with the department's")
	}
	bulk, posts, patches := bulkWrites(w.sim)
	require.Equal(t, persons, bulk)
	require.Zero(t, posts+patches)
	w.checkTarget(persons)
	require.Equal(t, persons, countEnds(t, w, run.ID, "verified"))
}

// The same with bulk: off: the create and each grant are separate.
func TestBulkOffSendsSeparateRequests(t *testing.T) {
	const persons = 3
	w := newSimWorldWith(t, persons, 2, bulkOn, func(cfg string) string {
		return strings.Replace(cfg, "entitlements_by: displayName", "entitlements_by: displayName\n      bulk: \"off\"", 1)
	})
	run := w.enforceToEnd(t)
	require.Equal(t, model.RunSucceeded, run.State, "%v", run.Counts)
	grants := 0
	for _, a := range runActions(t, w, run.ID) {
		if a.Op == model.OpGrant {
			grants += len(a.Entitlements)
		} else {
			require.Empty(t, a.Entitlements, "a create without grants folded in")
		}
	}
	bulk, posts, patches := bulkWrites(w.sim)
	require.Zero(t, bulk)
	require.Equal(t, persons, posts)
	require.Equal(t, grants, patches, "one PATCH per group")
	w.checkTarget(persons)
}

// The /Bulk reaches the target and creates the users, but the answer
// comes after accord's timeout: the create is in doubt, looked up, found
// and linked; the target, which accepts duplicate names, never gets a
// second user, and the groups are granted and read back.
func TestTimedOutBulkIsLookedUpNotResent(t *testing.T) {
	const persons = 4
	w := newSimWorldWith(t, persons, 2, bulkOn, func(cfg string) string {
		return strings.Replace(cfg, "entitlements_by: displayName", "entitlements_by: displayName\n      timeout: 300ms", 1)
	})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultSlow, Method: "POST", Path: "/scim/v2/Bulk",
		Delay: targetsim.Duration(5 * time.Second), Times: 2})
	require.NoError(t, err)
	run := w.enforceToEnd(t)
	require.Equal(t, model.RunSucceeded, run.State, "%v", run.Counts)
	require.Equal(t, uint64(2), w.sim.Stats().Faults[targetsim.FaultSlow])
	requireNoDuplicates(t, w.sim)
	w.checkTarget(persons)
	require.Equal(t, 2, countEnds(t, w, run.ID, "in doubt from an earlier attempt: found on the target"))
	require.Len(t, w.sim.RequestsTo("POST", "/scim/v2/Bulk"), persons, "no /Bulk sent twice")
}

// A 503 for the whole /Bulk answered in place (nothing done): in doubt
// too, looked up, not found, sent again.
func TestBulkRefusedWithUnavailableIsLookedUpThenSent(t *testing.T) {
	const persons = 2
	w := newSimWorld(t, persons, 1, bulkOn)
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultDown, Method: "POST", Path: "/scim/v2/Bulk", Times: 1})
	require.NoError(t, err)
	run := w.enforceToEnd(t)
	require.Equal(t, model.RunSucceeded, run.State, "%v", run.Counts)
	requireNoDuplicates(t, w.sim)
	w.checkTarget(persons)
	require.Equal(t, 1, countEnds(t, w, run.ID, "in doubt from an earlier attempt: not on the target, sent again"))
}

// One group operation inside the /Bulk is refused: the account is linked
// at once, the missing group is granted separately and everything read
// back; the audit shows the target's words for the refused operation.
func TestPartialBulkGrantsTheMissingGroupSeparately(t *testing.T) {
	const persons = 1
	w := newSimWorld(t, persons, 1, bulkOn)
	crm, ok := w.sim.SCIM().GroupByName("crm")
	require.True(t, ok)
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "PATCH", Path: "/scim/v2/Groups/" + crm.ID, Status: 503, Times: 1,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"503","detail":"membership service is restarting"}`})
	require.NoError(t, err)
	run := w.enforceToEnd(t)
	require.Equal(t, model.RunSucceeded, run.State, "%v", run.Counts)
	acts := runActions(t, w, run.ID)
	require.Len(t, acts, 1)
	require.Equal(t, model.ActionSucceeded, acts[0].State)
	requireNoDuplicates(t, w.sim)
	w.checkTarget(persons)
	require.Equal(t, 1, countEnds(t, w, run.ID, `but crm not granted with it: the target said "membership service is restarting"`))
	bulk, posts, patches := bulkWrites(w.sim)
	require.Equal(t, []int{1, 0, 1}, []int{bulk, posts, patches}, "the one missing grant as its own PATCH")
}

// The refused group is refused again when granted separately: the create
// fails with the account linked and the target's words; no second user
// is ever created, and the next run plans the grant, not a create.
func TestPartialBulkWhoseGrantFailsLeavesTheAccountLinked(t *testing.T) {
	const persons = 1
	w := newSimWorld(t, persons, 1, bulkOn)
	crm, ok := w.sim.SCIM().GroupByName("crm")
	require.True(t, ok)
	rule, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "PATCH", Path: "/scim/v2/Groups/" + crm.ID, Status: 400,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"crm is frozen for audit"}`})
	require.NoError(t, err)
	run := w.enforceToEnd(t)
	require.Equal(t, model.RunFailed, run.State, "%v", run.Counts)
	acts := runActions(t, w, run.ID)
	require.Len(t, acts, 1)
	require.Equal(t, model.ActionFailed, acts[0].State)
	require.Contains(t, acts[0].Error.Message, "crm is frozen for audit")
	requireNoDuplicates(t, w.sim)
	require.Len(t, w.sim.SCIM().Users(), 1)
	u := w.sim.SCIM().Users()[0]
	acct, err := w.app.Store.GetAccount(context.Background(), "saas", acts[0].PersonKey)
	require.NoError(t, err)
	require.Equal(t, u.ID, acct.NativeID, "linked")
	ends, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{RunID: run.ID, Kinds: []audit.Kind{audit.KindAttemptEnd}})
	require.NoError(t, err)
	require.NotEmpty(t, ends)
	require.Contains(t, ends[len(ends)-1].Message, "granting them separately failed")

	require.True(t, w.sim.RemoveFault(rule))
	next := w.enforceToEnd(t)
	require.Equal(t, model.RunSucceeded, next.State, "%v", next.Counts)
	for _, a := range runActions(t, w, next.ID) {
		require.NotEqual(t, model.OpCreate, a.Op, "the account is known: no second create")
	}
	requireNoDuplicates(t, w.sim)
	w.checkTarget(persons)
}
