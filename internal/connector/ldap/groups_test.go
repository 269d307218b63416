package ldap_test

import (
	"context"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/testkit"
)

func TestGrantRevokeIdempotentAndReadBack(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	for _, by := range []string{"dn", "cn"} {
		t.Run(by, func(t *testing.T) {
			c := open(t, d.settings("  by: "+by))
			attrs := ann()
			attrs["uid"] = "ann-" + by
			a, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
			require.NoError(t, err)
			ref := connector.AccountRef{NativeID: a.NativeID, Attributes: attrs}
			staff, vpn := "cn=staff,ou=groups,"+d.Suffix, "cn=vpn,ou=groups,"+d.Suffix
			ents := []string{staff, vpn}
			if by == "cn" {
				ents = []string{"staff", "vpn"}
			}
			require.NoError(t, c.Grant(ctx, ref, ents[:1]))
			require.NoError(t, c.Grant(ctx, ref, ents[:1]), "a member added twice (OpenLDAP: 20) is done")
			require.NoError(t, c.Grant(ctx, ref, ents[1:]))
			g := d.entry(t, staff, "member")
			assert.Contains(t, g.GetAttributeValues("member"), a.Link["dn"])

			got, err := c.Get(ctx, ref)
			require.NoError(t, err)
			assert.Equal(t, ents, got.Entitlements, "read back through memberOf")
			ok, err := c.IsMember(ctx, ref, ents[0])
			require.NoError(t, err)
			assert.True(t, ok)

			require.NoError(t, c.Revoke(ctx, ref, ents[:1]))
			require.NoError(t, c.Revoke(ctx, ref, ents[:1]), "removing a non-member (OpenLDAP: 16) is done")
			ok, err = c.IsMember(ctx, ref, ents[0])
			require.NoError(t, err)
			assert.False(t, ok)
			got, err = c.Get(ctx, ref)
			require.NoError(t, err)
			assert.Equal(t, ents[1:], got.Entitlements)

			missing := "cn=nope,ou=groups," + d.Suffix
			if by == "cn" {
				missing = "nope"
			}
			err = c.Grant(ctx, ref, []string{missing})
			assert.Equal(t, connector.NotFound, connector.KindOf(err), "%v", err)
			require.NoError(t, c.Revoke(ctx, ref, []string{missing}), "no group, no membership to remove")
		})
	}
}

func TestMembershipsReadFromTheGroups(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings("  read: group"))
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	ref := connector.AccountRef{NativeID: a.NativeID, Attributes: ann()}
	wiki := "cn=wiki,ou=groups," + d.Suffix
	require.NoError(t, c.Grant(ctx, ref, []string{wiki}))
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, []string{wiki}, got.Entitlements)
}

func TestNestedGroupsAreReported(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings("  by: cn"))
	// vpn is a member of staff: a grant of staff does not silently give vpn.
	require.NoError(t, d.admin.Modify(func() *goldap.ModifyRequest {
		m := goldap.NewModifyRequest("cn=staff,ou=groups,"+d.Suffix, nil)
		m.Add("member", []string{"cn=vpn,ou=groups," + d.Suffix})
		return m
	}()))
	nested, err := c.NestedGroups(ctx, "staff")
	require.NoError(t, err)
	assert.Equal(t, []string{"vpn"}, nested)
	page, err := c.ListEntitlements(ctx, "")
	require.NoError(t, err)
	var names []string
	for _, e := range page.Items {
		names = append(names, e.ID)
	}
	assert.Equal(t, []string{"staff", "vpn", "wiki"}, names)
}

// By cn, a group name two groups share is an error naming both, a name
// nobody has is an error naming it, and a group renamed after its name
// was cached is looked up again rather than written to its old DN.
func TestGroupsByNameAmbiguousMissingAndRenamed(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	for _, ou := range []string{"eu", "us"} {
		d.add(t, "ou="+ou+",ou=groups,"+d.Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}})
		d.add(t, "cn=sales,ou="+ou+",ou=groups,"+d.Suffix, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"sales"}, "member": {d.AdminDN}})
	}
	c := open(t, d.settings("  by: cn"))
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	ref := connector.AccountRef{NativeID: a.NativeID, Attributes: ann()}

	err = c.Grant(ctx, ref, []string{"sales"})
	require.Equal(t, connector.Conflict, connector.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), `group "sales" is ambiguous`)
	require.Contains(t, err.Error(), "ou=eu,ou=groups")
	require.Contains(t, err.Error(), "ou=us,ou=groups")
	_, err = c.IsMember(ctx, ref, "sales")
	require.Equal(t, connector.Conflict, connector.KindOf(err), "verification says so too: %v", err)

	err = c.Grant(ctx, ref, []string{"no-such-team"})
	require.Equal(t, connector.NotFound, connector.KindOf(err))
	require.Contains(t, err.Error(), `group "no-such-team" does not exist`)

	// wiki's DN is cached by the grant; then an admin renames it.
	require.NoError(t, c.Grant(ctx, ref, []string{"wiki"}))
	require.NoError(t, d.admin.ModifyDN(goldap.NewModifyDNRequest("cn=wiki,ou=groups,"+d.Suffix, "cn=knowledge", true, "")))
	err = c.Revoke(ctx, ref, []string{"wiki"})
	require.NoError(t, err, "the old name names no group now: no membership to remove")
	err = c.Grant(ctx, ref, []string{"wiki"})
	require.Equal(t, connector.NotFound, connector.KindOf(err), "not written to the cached DN: %v", err)
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, []string{"knowledge"}, got.Entitlements, "memberships read back by the new name")
	ok, err := c.IsMember(ctx, ref, "knowledge")
	require.NoError(t, err)
	require.True(t, ok)
}
