package ldap_test

import (
	"context"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

// The recipe's table of result codes, for OpenLDAP: each case lands on
// its kind, with the result code as status and the server's own words as
// the reason.
func TestResultCodesMapToKinds(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{UniqueUID: true})
	ctx := context.Background()
	c := open(t, d.settings())
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)

	kindOf := func(err error) (connector.Kind, int, string) {
		t.Helper()
		require.Error(t, err)
		ce := connector.AsError(err)
		return ce.Kind, ce.Status, ce.Reason
	}

	t.Run("duplicate DN is 68, a conflict", func(t *testing.T) {
		_, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
		kind, status, _ := kindOf(err)
		assert.Equal(t, connector.Conflict, kind)
		assert.Equal(t, 68, status)
	})
	t.Run("duplicate uid elsewhere is 19 from the unique overlay, a conflict", func(t *testing.T) {
		dup := ann()
		dup["ou"] = "Engineering"
		_, err := c.Create(ctx, connector.CreateRequest{Attributes: dup})
		kind, status, reason := kindOf(err)
		assert.Equal(t, connector.Conflict, kind)
		assert.Equal(t, 19, status)
		assert.NotEmpty(t, reason, "the server's own words are kept")
		assert.Contains(t, err.Error(), reason)
	})
	t.Run("a missing entry is 32, not found", func(t *testing.T) {
		err := c.Update(ctx, connector.AccountRef{Link: map[string]string{"dn": "uid=ghost,ou=Sales,ou=people," + d.Suffix}}, model.Attributes{"sn": "X"})
		kind, status, _ := kindOf(err)
		assert.Equal(t, connector.NotFound, kind)
		assert.Equal(t, 32, status)
	})
	t.Run("a value the schema refuses is a validation failure with the server's words", func(t *testing.T) {
		bad := ann()
		bad["uid"] = "bob"
		delete(bad, "sn") // inetOrgPerson requires sn
		_, err := c.Create(ctx, connector.CreateRequest{Attributes: bad})
		kind, status, reason := kindOf(err)
		assert.Equal(t, connector.Validation, kind)
		assert.Equal(t, 65, status)
		assert.Contains(t, reason, "sn")
	})
	t.Run("deleting a non-empty OU is 66, a validation failure", func(t *testing.T) {
		err := c.Delete(ctx, connector.AccountRef{Link: map[string]string{"dn": "ou=Sales,ou=people," + d.Suffix}})
		kind, status, _ := kindOf(err)
		assert.Equal(t, connector.Validation, kind)
		assert.Equal(t, 66, status)
	})
	t.Run("wrong bind password is 49, auth", func(t *testing.T) {
		wrong := strings.Replace(d.settings(), d.pwRef, "${env:ACCORD_LDAP_TEST_WRONG}", 1)
		t.Setenv("ACCORD_LDAP_TEST_WRONG", "not-the-password")
		bad := open(t, wrong)
		_, err := bad.Get(ctx, connector.AccountRef{NativeID: a.NativeID})
		kind, status, _ := kindOf(err)
		assert.Equal(t, connector.Auth, kind)
		assert.Equal(t, 49, status)
		assert.NotContains(t, err.Error(), "not-the-password")
	})
	t.Run("no such bind DN in an unknown place is auth too", func(t *testing.T) {
		other := strings.Replace(d.settings(), "bind_dn: "+d.AdminDN, "bind_dn: uid=nobody,ou=people,"+d.Suffix, 1)
		bad := open(t, other)
		_, err := bad.Find(ctx, model.Attributes{"uid": "ann"})
		kind, status, _ := kindOf(err)
		assert.Equal(t, connector.Auth, kind)
		assert.Equal(t, 49, status)
	})
	t.Run("a server that is not there is unavailable", func(t *testing.T) {
		gone := strings.Replace(d.settings(), d.URL, "ldap://127.0.0.1:1/", 1)
		bad := open(t, gone)
		_, err := bad.Get(ctx, connector.AccountRef{NativeID: a.NativeID})
		kind, _, _ := kindOf(err)
		assert.Equal(t, connector.Unavailable, kind, "%v", err)
		assert.True(t, kind.Transient())
	})
	t.Run("an anonymous write is 8 and a reader's write is 50, forbidden", func(t *testing.T) {
		anon := strings.Replace(strings.Replace(d.settings(), "bind_dn: "+d.AdminDN+"\n", "", 1), `bind_password: "`+d.pwRef+`"`+"\n", "", 1)
		bad := open(t, anon)
		x := ann()
		x["uid"] = "carl"
		_, err := bad.Create(ctx, connector.CreateRequest{Attributes: x})
		kind, status, _ := kindOf(err)
		assert.Equal(t, connector.Forbidden, kind, "%v", err)
		assert.Equal(t, 8, status)

		m := goldap.NewModifyRequest(a.Link["dn"], nil)
		m.Replace("userPassword", []string{"reader-Pass1"})
		require.NoError(t, d.admin.Modify(m))
		t.Setenv("ACCORD_LDAP_TEST_READER", "reader-Pass1")
		reader := strings.Replace(strings.Replace(d.settings(), "bind_dn: "+d.AdminDN, "bind_dn: "+a.Link["dn"], 1), d.pwRef, "${env:ACCORD_LDAP_TEST_READER}", 1)
		bad = open(t, reader)
		_, err = bad.Create(ctx, connector.CreateRequest{Attributes: x})
		kind, status, _ = kindOf(err)
		assert.Equal(t, connector.Forbidden, kind, "%v", err)
		assert.Equal(t, 50, status)
	})
}

func TestConfigProblems(t *testing.T) {
	d := &dir{Slapd: &testkit.Slapd{URL: "ldap://127.0.0.1:389/", Suffix: "dc=example,dc=test", AdminDN: "cn=admin,dc=example,dc=test"}, pwRef: "${env:ACCORD_LDAP_TEST_PW}"}
	t.Setenv("ACCORD_LDAP_TEST_PW", "x")
	for _, tc := range []struct{ edit, old, want string }{
		{"", "allow_plain: true\n", "ldap:// sends the bind password in clear"},
		{"", `dn: "uid={{ uid }}`, "unknown"},
		{"leaver: move", "", "leavers_base"},
		{"leaver: archive", "", "must be disable, move or delete"},
		{"find: (uid={{ uid }}", "", "not a search filter"},
		{"flavour: novell", "", "unknown flavour"},
		{"  by: na me", "", "must be dn, or the attribute that names a group"},
		{"start_tls: true", d.URL, "ldaps"},
	} {
		s := d.settings(tc.edit)
		switch {
		case tc.old == `dn: "uid={{ uid }}`:
			s = strings.Replace(s, tc.old, `dn: "uid={{ login }}`, 1)
		case tc.old == d.URL:
			s = strings.Replace(s, tc.old, "ldaps://ldap.example.test", 1)
		case tc.old != "":
			s = strings.Replace(s, tc.old, "", 1)
		}
		assert.Contains(t, checkSettings(t, s), tc.want, "edit %q", tc.edit+tc.old)
	}
	assert.Equal(t, "", checkSettings(t, d.settings()))
}
