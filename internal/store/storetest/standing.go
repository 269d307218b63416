package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var standingTests = []test{
	{"StandingFailuresLeaveOutSuperseded", testStandingFailures},
}

// A failure is superseded by a later success of the same operation for
// the same person, target and entitlements, and by nothing else.
func testStandingFailures(t *testing.T, s store.Store) {
	now := at(time.Minute)
	_, first := newRun(t, s, "r1", model.RunPending, t0,
		job{"E1", "crm", []model.Op{model.OpCreate}},
		job{"E2", "crm", []model.Op{model.OpGrant}}, // grant group-1
		job{"E3", "crm", []model.Op{model.OpUpdate}})
	for _, j := range first {
		finishJob(t, s, j, model.ActionFailed, now)
	}
	_, second := newRun(t, s, "r2", model.RunPending, at(2*time.Minute),
		job{"E1", "crm", []model.Op{model.OpCreate}},                // same op: supersedes
		job{"E2", "crm", []model.Op{model.OpRevoke, model.OpGrant}}, // grant group-2: another entitlement
		job{"E3", "mail", []model.Op{model.OpUpdate}})               // another target
	for _, j := range second {
		finishJob(t, s, j, model.ActionSucceeded, at(3*time.Minute))
	}
	failed := []model.ActionState{model.ActionFailed}
	all := listActions(t, s, store.ActionQuery{States: failed})
	require.Len(t, all, 3, "every failure without Standing")
	standing := listActions(t, s, store.ActionQuery{States: failed, Standing: true})
	var who []string
	for _, a := range standing {
		who = append(who, a.PersonKey+" "+string(a.Op))
	}
	require.Equal(t, []string{"E2 grant", "E3 update_account"}, who)

	// A failure after the success stands again.
	_, third := newRun(t, s, "r3", model.RunPending, at(4*time.Minute), job{"E1", "crm", []model.Op{model.OpCreate}})
	finishJob(t, s, third[0], model.ActionFailed, at(5*time.Minute))
	standing = listActions(t, s, store.ActionQuery{States: failed, Standing: true, PersonKey: "E1"})
	require.Equal(t, []int64{third[0].Actions[0].ID}, actionIDs(standing))
}
