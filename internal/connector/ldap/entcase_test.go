package ldap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/testkit"
)

// The policy names the directory's group "VPN Users" in other letter
// case. slapd grants it all the same and reads the membership back in its
// own spelling; the planner, verification and reconciliation compare as
// the directory does, so a second plan is empty, whether known state holds
// the policy's spelling (after accord's grant) or the directory's (after
// reconciliation adopted it), and reconciliation finds no drift.
func TestPolicyCaseDiffersFromTheDirectory(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	groupDN := "cn=VPN Users,ou=groups," + d.Suffix
	d.add(t, groupDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"VPN Users"}, "member": {d.AdminDN}})
	for by, ent := range map[string]string{"cn": "vpn users", "dn": "CN=vpn users,OU=Groups," + strings.ToUpper(d.Suffix)} {
		t.Run(by, func(t *testing.T) {
			c := open(t, d.settings("  by: "+by))
			caps := c.Capabilities()
			require.True(t, caps.EntitlementsFoldCase)
			attrs := ann()
			attrs["uid"] = "case-" + by
			a, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
			require.NoError(t, err)
			ref := connector.AccountRef{NativeID: a.NativeID, Attributes: attrs}

			desired := &model.DesiredAccount{Target: "dir", PersonKey: "E1", Desire: model.DesireEnabled,
				Grants: []model.Grant{{Entitlement: ent, Roles: []string{"remote"}}}}
			known := &model.Account{Target: "dir", PersonKey: "E1", NativeID: a.NativeID, State: model.AccountEnabled}
			in := plan.AccountInput{Caps: caps}
			acts := plan.PlanAccount(desired, known, in)
			require.Len(t, acts, 1)
			require.Equal(t, model.OpGrant, acts[0].Op)
			require.NoError(t, c.Grant(ctx, ref, acts[0].Entitlements))
			require.Contains(t, d.entry(t, groupDN, "member").GetAttributeValues("member"), a.Link["dn"], "slapd granted the group")

			got, err := c.Get(ctx, ref)
			require.NoError(t, err)
			require.Len(t, got.Entitlements, 1)
			require.NotEqual(t, ent, got.Entitlements[0], "the directory spells the group its own way")
			require.True(t, caps.Names().Contains(got.Entitlements, ent), "verification finds %q among %q", ent, got.Entitlements)

			known.Entitlements = []string{ent}
			require.Empty(t, plan.PlanAccount(desired, known, in), "second plan after accord's grant")
			known.Entitlements = got.Entitlements
			require.Empty(t, plan.PlanAccount(desired, known, in), "second plan after reconciliation adopted the directory's spelling")

			obs := &store.ObservedAccount{Target: "dir", PersonKey: "E1", NativeID: got.NativeID, Active: got.Active, Entitlements: got.Entitlements}
			out := recon.Compare(recon.Input{Desired: desired, Known: &model.Account{Target: "dir", PersonKey: "E1", NativeID: a.NativeID,
				State: model.AccountEnabled, Entitlements: []string{ent}}, Observed: obs, EntitlementsRead: true, Names: caps.Names(),
				Policy: config.DriftPolicy{ExtraEntitlement: "converge", MissingEntitlement: "converge"}})
			require.Empty(t, out.Findings)
			require.Nil(t, out.Fix)

			// The role is taken away: the revoke names the known spelling,
			// and the directory drops the membership.
			acts = plan.PlanAccount(&model.DesiredAccount{Target: "dir", PersonKey: "E1", Desire: model.DesireEnabled}, known, in)
			require.Len(t, acts, 1)
			require.Equal(t, model.OpRevoke, acts[0].Op)
			require.NoError(t, c.Revoke(ctx, ref, acts[0].Entitlements))
			ok, err := c.IsMember(ctx, ref, ent)
			require.NoError(t, err)
			require.False(t, ok)
		})
	}
}
