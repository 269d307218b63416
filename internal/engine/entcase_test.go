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

// A directory that ignores letter case grants "vpn users" to its group
// "VPN Users" and shows the membership in its own spelling. Verification
// compares as the target does, so the grant is verified (not unverified
// and retried), and known state keeps the policy's spelling, once.
func TestVerifyComparesEntitlementsAsTheTargetDoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, rigOpts{})
		r.mem.Caps.EntitlementsFoldCase = true
		r.mem.Caps.CreateWithEntitlements = true
		r.mem.Groups = []string{"VPN Users", "Wiki"}
		r.start()
		ctx := context.Background()

		r.queue("r1", []model.Job{{PersonKey: "E1", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpCreate,
			Attributes: model.Attributes{"userName": "ada"}, Entitlements: []string{"wiki"}}}}})
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		acct, ok := r.mem.ByAttr("userName", "ada")
		require.True(t, ok)
		require.Equal(t, map[string]bool{"Wiki": true}, acct.Entitlements, "the directory keeps its own spelling")
		known, err := r.st.GetAccount(ctx, "crm", "E1")
		require.NoError(t, err)
		require.Equal(t, []string{"wiki"}, known.Entitlements, "known state holds the policy's spelling once, not both")

		r.queue("r2", []model.Job{{PersonKey: "E1", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpGrant,
			NativeID: acct.ID, Entitlements: []string{"vpn users"}}}}})
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		as := r.actions("r2")
		require.Len(t, as, 1)
		require.Equal(t, model.ActionSucceeded, as[0].State, "verified, not unverified: %+v", as[0].Error)
		require.Equal(t, 1, as[0].Attempts, "no retry: the first read-back agreed")
		acct, _ = r.mem.ByAttr("userName", "ada")
		require.Equal(t, map[string]bool{"VPN Users": true, "Wiki": true}, acct.Entitlements)
		known, err = r.st.GetAccount(ctx, "crm", "E1")
		require.NoError(t, err)
		require.Equal(t, []string{"vpn users", "wiki"}, known.Entitlements)

		r.queue("r3", []model.Job{{PersonKey: "E1", Target: "crm", Actions: []model.Action{{Seq: 1, Op: model.OpRevoke,
			NativeID: acct.ID, Entitlements: []string{"vpn users"}}}}})
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		as = r.actions("r3")
		require.Equal(t, model.ActionSucceeded, as[0].State, "%+v", as[0].Error)
		acct, _ = r.mem.ByAttr("userName", "ada")
		require.Equal(t, map[string]bool{"Wiki": true}, acct.Entitlements)
	})
}

// On a target that tells letter case apart, a membership shown in another
// spelling is another entitlement: the grant is not verified.
func TestVerifyOnCaseSensitiveTargetComparesExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, rigOpts{})
		r.start()
		r.mem.Put(memory.Account{PersonKey: "E1", Attributes: model.Attributes{"userName": "ada"}, Active: true,
			Entitlements: map[string]bool{"VPN Users": true}})
		acct, _ := r.mem.ByAttr("userName", "ada")
		ref := acct
		c, verr := r.eng.verify(context.Background(), r.target, &model.Action{Op: model.OpGrant, Entitlements: []string{"vpn users"}},
			&connector.AccountRef{NativeID: ref.ID})
		require.NotNil(t, verr, "%+v", c)
		require.Contains(t, verr.Message, "not a member of vpn users")

		r.mem.Caps.EntitlementsFoldCase = true
		c, verr = r.eng.verify(context.Background(), r.target, &model.Action{Op: model.OpGrant, Entitlements: []string{"vpn users"}},
			&connector.AccountRef{NativeID: ref.ID})
		require.Nil(t, verr)
		require.Equal(t, "verified", c.note)
	})
}
