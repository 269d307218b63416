package ldap_test

import (
	"context"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

// switchFlavour is a flavour as another server's would be written: it
// embeds OpenLDAP and overrides how a new entry is made and how accounts
// are enabled and disabled (here: by the description attribute).
type switchFlavour struct{ ldap.OpenLDAP }

func (switchFlavour) PrepareCreate(_ *ldap.Conn, req *goldap.AddRequest, _ model.Attributes) error {
	req.Attribute("description", []string{"on"})
	return nil
}

func (switchFlavour) ReadAttributes() []string { return []string{"description"} }

func (switchFlavour) Active(e *goldap.Entry) (bool, bool) {
	return e.GetAttributeValue("description") != "off", true
}

func (switchFlavour) SetActive(ctx context.Context, c *ldap.Conn, e *goldap.Entry, active bool) (bool, error) {
	m := goldap.NewModifyRequest(e.DN, nil)
	v := "off"
	if active {
		v = "on"
	}
	m.Replace("description", []string{v})
	return true, c.Modify(ctx, m)
}

func init() {
	ldap.RegisterFlavour("test-switch", func(ldap.Settings) (ldap.Flavour, error) { return switchFlavour{}, nil })
}

func TestAFlavourOverridesCreateAndEnableDisable(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings("flavour: test-switch"))
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	assert.True(t, a.Active)
	assert.Equal(t, "on", d.entry(t, a.Link["dn"], "description").GetAttributeValue("description"))

	ref := connector.AccountRef{NativeID: a.NativeID}
	require.NoError(t, c.Disable(ctx, ref))
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	assert.False(t, got.Active)
	e := d.entry(t, a.Link["dn"], "description", "pwdAccountLockedTime")
	assert.Equal(t, "off", e.GetAttributeValue("description"))
	assert.Empty(t, e.GetAttributeValue("pwdAccountLockedTime"), "the flavour's way, not OpenLDAP's lock")
	require.NoError(t, c.Enable(ctx, ref))
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	assert.True(t, got.Active)
}
