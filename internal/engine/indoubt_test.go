package engine

import (
	"context"
	"sync"
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

// lastEnd is the last attempt_end recorded for action id.
func lastEnd(t *testing.T, r *rig, id int64) audit.Record {
	t.Helper()
	recs, err := r.st.ListAudit(context.Background(), store.AuditQuery{ActionID: id, Kinds: []audit.Kind{audit.KindAttemptEnd}})
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	return recs[len(recs)-1]
}

// once answers true the first time it is asked for a key.
type once struct {
	mu   sync.Mutex
	done map[string]bool
}

func (o *once) first(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done[key] {
		return false
	}
	if o.done == nil {
		o.done = map[string]bool{}
	}
	o.done[key] = true
	return true
}

// A grant whose answer was lost after the target added some of its
// entitlements is in doubt: the next attempt reads the account first and
// sends only what is not there yet, instead of the whole grant again (a
// target that refuses "already a member" would fail it; one that keeps
// duplicates would hold two).
func TestGrantInDoubtSendsOnlyWhatIsMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, rigOpts{})
		r.mem.Put(memory.Account{ID: "u-1", PersonKey: "E1", Active: true, Entitlements: map[string]bool{}})
		require.NoError(t, r.st.ApplyAccountChanges(context.Background(), []model.AccountChange{
			{Target: "crm", PersonKey: "E1", Upsert: true, NativeID: "u-1", At: time.Now()}}))
		var lost once
		r.mem.Fail = func(op string, c memory.Call) error {
			if op != "grant" || !lost.first(op) {
				return nil
			}
			// The target adds the first group, then the answer is lost.
			r.mem.Put(memory.Account{ID: "u-1", PersonKey: "E1", Active: true, Entitlements: map[string]bool{"all-staff": true}})
			return &connector.Error{Kind: connector.Timeout, Message: "no answer within 30s"}
		}
		r.start()
		r.queue("r1", []model.Job{{PersonKey: "E1", Target: "crm", Actions: []model.Action{
			{Seq: 1, Op: model.OpGrant, Entitlements: []string{"all-staff", "crm-users", "vpn"}, NativeID: "u-1"},
		}}})
		require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
		as := requireAllSucceeded(t, r, "r1")
		require.Equal(t, 2, as[0].Attempts)

		grants := callsOf(r.mem, "grant")
		require.Len(t, grants, 2)
		require.Equal(t, []string{"all-staff", "crm-users", "vpn"}, grants[0].Entitlements)
		require.Equal(t, []string{"crm-users", "vpn"}, grants[1].Entitlements, "all-staff was read back as there, not sent again")
		for _, ent := range []string{"all-staff", "crm-users", "vpn"} {
			require.True(t, r.mem.Accounts()[0].Entitlements[ent], ent)
		}
		acct, err := r.st.GetAccount(t.Context(), "crm", "E1")
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"all-staff", "crm-users", "vpn"}, acct.Entitlements, "known state has the whole grant")
		end := lastEnd(t, r, as[0].ID)
		require.Contains(t, end.Message, "all-staff already so on the target (read back); sent again: crm-users, vpn")
	})
}

// A grant in doubt that the target shows complete is success, read
// back, with nothing sent again; a revoke likewise.
func TestGrantInDoubtAlreadyDoneIsNotSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, rigOpts{})
		r.mem.Put(memory.Account{ID: "u-1", PersonKey: "E1", Active: true, Entitlements: map[string]bool{"old": true}})
		var lost once
		r.mem.Fail = func(op string, c memory.Call) error {
			if (op != "grant" && op != "revoke") || !lost.first(op) {
				return nil
			}
			a := r.mem.Accounts()[0]
			if op == "grant" {
				a.Entitlements["vpn"] = true
			} else {
				delete(a.Entitlements, "old")
			}
			r.mem.Put(a)
			return &connector.Error{Kind: connector.Unknown, Message: "connection reset after the request was sent"}
		}
		r.start()
		r.queue("r1", []model.Job{{PersonKey: "E1", Target: "crm", Actions: []model.Action{
			{Seq: 1, Op: model.OpGrant, Entitlements: []string{"vpn"}, NativeID: "u-1"},
			{Seq: 2, Op: model.OpRevoke, Entitlements: []string{"old"}, NativeID: "u-1"},
		}}})
		require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
		as := requireAllSucceeded(t, r, "r1")
		require.Len(t, callsOf(r.mem, "grant"), 1, "the grant was sent once")
		require.Len(t, callsOf(r.mem, "revoke"), 1, "the revoke was sent once")
		for _, a := range as {
			require.Contains(t, lastEnd(t, r, a.ID).Message, "already so on the target (read back); not sent again")
		}
	})
}

// With group batching, a grant of two groups whose second batch got no
// answer is in doubt: the retry adds the member to the second group
// only; the first group's batch carried it once.
func TestBatchedGrantInDoubtAddsOnlyTheMissingGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, rigOpts{batch: 10})
		for _, id := range []string{"u-1", "u-2"} {
			r.mem.Put(memory.Account{ID: id, PersonKey: "P" + id, Active: true, Entitlements: map[string]bool{}})
		}
		var lost once
		r.mem.Fail = func(op string, c memory.Call) error {
			if op == "add_members" && c.Entitlements[0] == "vpn" && lost.first(op) {
				return &connector.Error{Kind: connector.Timeout, Message: "no answer within 30s"}
			}
			return nil
		}
		r.start()
		var jobs []model.Job
		for _, id := range []string{"u-1", "u-2"} {
			jobs = append(jobs, model.Job{PersonKey: "P" + id, Target: "crm", Actions: []model.Action{
				{Seq: 1, Op: model.OpGrant, Entitlements: []string{"all-staff", "vpn"}, NativeID: id},
			}})
		}
		r.queue("r1", jobs)
		require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
		requireAllSucceeded(t, r, "r1")
		staff := 0
		for _, c := range callsOf(r.mem, "add_members") {
			if c.Entitlements[0] == "all-staff" {
				staff += len(c.Members)
			}
		}
		require.Equal(t, 2, staff, "each member was added to all-staff once")
		for _, a := range r.mem.Accounts() {
			require.True(t, a.Entitlements["all-staff"] && a.Entitlements["vpn"], a.ID)
		}
	})
}

// A fresh create for a person whose account the store records already
// (another run's job made it after this run was planned: its job had
// ended, so nothing stopped this one) looks the account up and links it
// instead of sending a second create to a target that would keep both.
func TestFreshCreateOfARecordedAccountIsLookedUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, rigOpts{})
		r.mem.Put(memory.Account{ID: "u-1", PersonKey: "E1", Active: true, Attributes: model.Attributes{"userName": "e1"}, Entitlements: map[string]bool{}})
		require.NoError(t, r.st.ApplyAccountChanges(context.Background(), []model.AccountChange{
			{Target: "crm", PersonKey: "E1", Upsert: true, NativeID: "u-1", At: time.Now()}}))
		r.start()
		r.queue("r1", []model.Job{{PersonKey: "E1", Target: "crm", Actions: []model.Action{
			{Seq: 1, Op: model.OpCreate, Attributes: model.Attributes{"userName": "e1"}},
		}}})
		require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
		as := requireAllSucceeded(t, r, "r1")
		require.Empty(t, callsOf(r.mem, "create"), "no second account")
		require.Len(t, r.mem.Accounts(), 1)
		require.Contains(t, lastEnd(t, r, as[0].ID).Message, "an account of this person on the target is recorded already: the recorded account is on the target")
	})
}
