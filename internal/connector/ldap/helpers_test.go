package ldap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/testkit"
)

// mapping is the account mapping the tests use: inetOrgPerson names.
var mapping = []string{"uid", "cn", "sn", "givenName", "mail", "ou", "employeeNumber", "jpegPhoto"}

// dir is a started slapd and what a test needs to talk to it.
type dir struct {
	*testkit.Slapd
	pwRef string
	admin *goldap.Conn
}

func startDir(t testing.TB, opts testkit.SlapdOptions) *dir {
	t.Helper()
	s := testkit.StartSlapd(t, opts)
	p := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(p, []byte(s.AdminPassword), 0o600))
	conn, err := goldap.DialURL(s.URL)
	require.NoError(t, err)
	require.NoError(t, conn.Bind(s.AdminDN, s.AdminPassword))
	t.Cleanup(func() { _ = conn.Close() })
	d := &dir{Slapd: s, pwRef: "${file:" + p + "}", admin: conn}
	// groupOfNames needs a member; the admin DN holds the place.
	for _, g := range []string{"staff", "vpn", "wiki"} {
		d.add(t, "cn="+g+",ou=groups,"+s.Suffix, map[string][]string{
			"objectClass": {"groupOfNames"}, "cn": {g}, "member": {s.AdminDN}})
	}
	for _, ou := range []string{"Sales", "Engineering"} {
		d.add(t, "ou="+ou+",ou=people,"+s.Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}})
	}
	return d
}

func (d *dir) add(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	req := goldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		req.Attribute(k, v)
	}
	require.NoError(t, d.admin.Add(req), "add %s", dn)
}

// entry reads an entry as the admin; nil when there is none.
func (d *dir) entry(t *testing.T, dn string, attrs ...string) *goldap.Entry {
	t.Helper()
	res, err := d.admin.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", attrs, nil))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil
	}
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	return res.Entries[0]
}

// settings is the YAML the tests start from; extra lines are appended.
func (d *dir) settings(extra ...string) string {
	base := fmt.Sprintf(`url: %s
allow_plain: true
bind_dn: %s
bind_password: "%s"
timeout: 5s
dn: "uid={{ uid }},ou={{ ou }},ou=people,%s"
base: ou=people,%s
object_classes: [inetOrgPerson]
multi_valued: [mail]
binary: [jpegPhoto]
create_parents: true
groups:
  base: ou=groups,%s
`, d.URL, d.AdminDN, d.pwRef, d.Suffix, d.Suffix, d.Suffix)
	return base + strings.Join(extra, "\n")
}

// open builds the connector through the registry, as accord does.
func open(t testing.TB, settings string) *ldap.Conn {
	t.Helper()
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(settings), &n))
	c, err := connector.Open(context.Background(), "ldap", connector.Spec{
		Target: "dir", Settings: n.Content[0], AccountAttributes: mapping, Logger: testkit.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.(*ldap.Conn)
}

// checkSettings runs the type's config check on settings.
func checkSettings(t *testing.T, settings string) string {
	t.Helper()
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(settings), &n))
	f, ok := connector.Lookup("ldap")
	require.True(t, ok)
	return f.Check(n.Content[0], connector.CheckEnv{Target: "dir", AccountAttributes: mapping}).Error()
}
