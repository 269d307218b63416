package engine

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
)

// revokesFrom queues a run removing the accounts from ent; leavers are
// disabled first.
func revokesFrom(r *rig, id, ent string, accts []memory.Account, leavers bool) {
	r.t.Helper()
	var jobs []model.Job
	for _, a := range accts {
		revoke := model.Action{Seq: 1, Op: model.OpRevoke, Entitlements: []string{ent}, NativeID: a.ID}
		acts := []model.Action{revoke}
		if leavers {
			revoke.Seq = 2
			acts = []model.Action{{Seq: 1, Op: model.OpDisable, NativeID: a.ID}, revoke}
		}
		jobs = append(jobs, model.Job{PersonKey: a.PersonKey, Target: "crm", Actions: acts})
	}
	r.queue(id, jobs)
}

// A leaver day's revokes go in batches too: about n/size removals from
// all-staff instead of n, every member read back absent by one read per
// request, every action succeeded and verified, known state without the
// membership, and the audit naming each member once in the request that
// removed it.
func TestLeaversRevokesGoInGroupBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people, size = 40, 10
		r := newRig(t, rigOpts{batch: size})
		r.start()
		joiners(r, "r1", people)
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		reads := len(callsOf(r.mem, "members_among"))

		revokesFrom(r, "r2", "all-staff", r.mem.Accounts(), true)
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		as := requireAllSucceeded(t, r, "r2")
		require.Empty(t, callsOf(r.mem, "revoke"), "no revoke was sent alone")
		removed := 0
		removes := callsOf(r.mem, "remove_members")
		for _, c := range removes {
			require.Equal(t, []string{"all-staff"}, c.Entitlements)
			require.LessOrEqual(t, len(c.Members), size)
			removed += len(c.Members)
		}
		require.Equal(t, people, removed, "each leaver removed once")
		require.LessOrEqual(t, len(removes), people/size+4, "about people/size requests")
		require.Len(t, callsOf(r.mem, "members_among"), reads+len(removes), "one read back per request")
		for _, a := range r.mem.Accounts() {
			require.False(t, a.Entitlements["all-staff"], a.ID)
			require.Len(t, a.Entitlements, 1, "%s keeps its department group", a.ID)
			require.False(t, a.Active, a.ID)
		}
		for _, a := range as {
			if a.Op != model.OpRevoke {
				continue
			}
			end := endOf(t, r, a.ID)
			require.Contains(t, end.Message, "removed from all-staff by request r2/batch-")
			require.Contains(t, end.Message, "verified (read back by request r2/batch-")
			acct, err := r.st.GetAccount(context.Background(), "crm", a.PersonKey)
			require.NoError(t, err)
			require.NotContains(t, acct.Entitlements, "all-staff", "known state follows the revoke")
		}
		require.Equal(t, people, namedBy(t, r, "r2", "remove_members", "all-staff"), "every member named once by the request that removed it")
	})
}

// A revoke batch the target accepts but does not honour for one member
// (it still lists it): that member is read again within the settle
// window and then fails as unverified, in words that say it is still a
// member; the others succeed verified.
func TestRevokeBatchNotHonouredIsUnverified(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people, size = 8, 8
		r := newRig(t, rigOpts{batch: size, conn: func(m *memory.Target) connector.Connector { return stubborn{m} }})
		r.start()
		joiners(r, "r1", people)
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		accts := r.mem.Accounts()
		revokesFrom(r, "r2", "all-staff", accts, false)
		require.Equal(t, model.RunFailed, r.finish(5*time.Minute).State)
		for _, a := range r.actions("r2") {
			if a.PersonKey == accts[0].PersonKey {
				require.Equal(t, model.ActionFailed, a.State)
				require.Equal(t, string(connector.Unverified), a.Error.Kind)
				require.Contains(t, a.Error.Message, accts[0].ID+" is still a member of all-staff")
				continue
			}
			require.Equal(t, model.ActionSucceeded, a.State, "%s: %+v", a.PersonKey, a.Error)
		}
	})
}

// stubborn accepts every removal but keeps the first account it was
// asked to remove in the entitlement.
type stubborn struct{ *memory.Target }

func (s stubborn) RemoveMembers(ctx context.Context, ent string, ids []string) error {
	keep := s.Accounts()[0].ID
	var rest []string
	for _, id := range ids {
		if id != keep {
			rest = append(rest, id)
		}
	}
	return s.Target.RemoveMembers(ctx, ent, rest)
}
