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

// bindAs tries a simple bind as dn.
func bindAs(t *testing.T, d *dir, dn, pw string) error {
	t.Helper()
	conn, err := goldap.DialURL(d.URL)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	return conn.Bind(dn, pw)
}

func TestLeaverDisableLocksTheAccount(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings())
	attrs := ann()
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
	require.NoError(t, err)
	ref := connector.AccountRef{NativeID: a.NativeID, Attributes: attrs}
	// A password the person set themselves, so the lock can be seen at bind.
	m := goldap.NewModifyRequest(a.Link["dn"], nil)
	m.Replace("userPassword", []string{"s3cret-Pass"})
	require.NoError(t, d.admin.Modify(m))
	require.NoError(t, bindAs(t, d, a.Link["dn"], "s3cret-Pass"))

	require.NoError(t, c.Disable(ctx, ref))
	require.NoError(t, c.Disable(ctx, ref), "disabling twice is done")
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	assert.False(t, got.Active)
	e := d.entry(t, a.Link["dn"], "pwdAccountLockedTime")
	assert.Equal(t, "000001010000Z", e.GetAttributeValue("pwdAccountLockedTime"))
	err = bindAs(t, d, a.Link["dn"], "s3cret-Pass")
	assert.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials), "a locked account cannot bind: %v", err)

	require.NoError(t, c.Enable(ctx, ref))
	require.NoError(t, c.Enable(ctx, ref), "enabling twice is done")
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	assert.True(t, got.Active)
	require.NoError(t, bindAs(t, d, a.Link["dn"], "s3cret-Pass"))
}

func TestLeaverMoveAndRehire(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings("leaver: move", "leavers_base: ou=leavers,"+d.Suffix))
	attrs := ann()
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
	require.NoError(t, err)
	ref := connector.AccountRef{NativeID: a.NativeID, Attributes: attrs}
	require.NoError(t, c.Grant(ctx, ref, []string{"cn=vpn,ou=groups," + d.Suffix}))

	require.NoError(t, c.Disable(ctx, ref))
	left := "uid=ann,ou=leavers," + d.Suffix
	require.NotNil(t, d.entry(t, left), "moved under leavers_base (made, as create_parents is set)")
	assert.Nil(t, d.entry(t, a.Link["dn"]))
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	assert.False(t, got.Active)
	assert.Equal(t, left, got.Link["dn"])
	vpn := d.entry(t, "cn=vpn,ou=groups,"+d.Suffix, "member")
	assert.Contains(t, vpn.GetAttributeValues("member"), left, "refint follows the move")
	// Correlation still finds a leaver (rehire).
	found, err := c.Find(ctx, attrs)
	require.NoError(t, err)
	assert.Equal(t, a.NativeID, found.NativeID)
	// An update while away does not move the account back.
	require.NoError(t, c.Update(ctx, ref, map[string]any{"sn": "Lee-Away"}))
	require.NotNil(t, d.entry(t, left))

	require.NoError(t, c.Enable(ctx, ref))
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	assert.True(t, got.Active)
	assert.Equal(t, a.Link["dn"], got.Link["dn"], "a rehire goes back to the DN template's place")
}

func TestLeaverDelete(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings("leaver: delete"))
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	require.NoError(t, c.Disable(ctx, connector.AccountRef{NativeID: a.NativeID}))
	assert.Nil(t, d.entry(t, a.Link["dn"]))
}
