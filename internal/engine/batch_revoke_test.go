package engine

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// leavers queues a run of leavers: each account disabled, then removed
// from ent.
func leavers(r *rig, id, ent string, accts []memory.Account) {
	r.t.Helper()
	var jobs []model.Job
	for _, a := range accts {
		jobs = append(jobs, model.Job{PersonKey: a.PersonKey, Target: "crm", Actions: []model.Action{
			{Seq: 1, Op: model.OpDisable, NativeID: a.ID},
			{Seq: 2, Op: model.OpRevoke, Entitlements: []string{ent}, NativeID: a.ID},
		}})
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

		leavers(r, "r2", "all-staff", r.mem.Accounts())
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
		recs, err := r.st.ListAudit(context.Background(), store.AuditQuery{RunID: "r2"})
		require.NoError(t, err)
		named := 0
		for _, rec := range recs {
			if rec.Kind == audit.KindEvent && rec.Operation == "remove_members" {
				require.Contains(t, rec.Message, "remove")
				named += strings.Count(rec.Message, "(action ")
			}
		}
		require.Equal(t, people, named, "every member named once by the request that removed it")
	})
}

// A revoke batch in which one account was deleted behind accord's back
// fails as a whole: it is narrowed down by halves, the others are
// removed, and the one member takes the single revoke's path (the
// account read, found gone and forgotten; the action failed visibly).
func TestRevokeBatchMemberGoneFailsAloneOthersSucceed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people, size = 16, 16
		r := newRig(t, rigOpts{batch: size})
		r.start()
		joiners(r, "r1", people)
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		accts := r.mem.Accounts()
		gone := accts[5]
		var jobs []model.Job
		for _, a := range accts {
			jobs = append(jobs, model.Job{PersonKey: a.PersonKey, Target: "crm", Actions: []model.Action{
				{Seq: 1, Op: model.OpRevoke, Entitlements: []string{"all-staff"}, NativeID: a.ID},
			}})
		}
		r.mem.Remove(gone.ID)
		r.queue("r2", jobs)
		require.Equal(t, model.RunFailed, r.finish(time.Minute).State)
		for _, a := range r.actions("r2") {
			if a.PersonKey == gone.PersonKey {
				require.Equal(t, model.ActionFailed, a.State)
				require.Equal(t, string(connector.NotFound), a.Error.Kind)
				end := endOf(t, r, a.ID)
				require.Contains(t, end.Message, "removing it from all-staff answered")
				require.Contains(t, end.Message, "sent alone")
				continue
			}
			require.Equal(t, model.ActionSucceeded, a.State, "%s: %+v", a.PersonKey, a.Error)
		}
		for _, a := range r.mem.Accounts() {
			require.False(t, a.Entitlements["all-staff"], a.ID)
		}
		require.Less(t, len(callsOf(r.mem, "remove_members")), people, "narrowed by halves, not one by one")
		require.Len(t, callsOf(r.mem, "revoke"), 1, "only the failing member was sent alone")
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
		var jobs []model.Job
		for _, a := range accts {
			jobs = append(jobs, model.Job{PersonKey: a.PersonKey, Target: "crm", Actions: []model.Action{
				{Seq: 1, Op: model.OpRevoke, Entitlements: []string{"all-staff"}, NativeID: a.ID},
			}})
		}
		r.queue("r2", jobs)
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
