package ldap_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/testkit"
)

// TestMain stops the package's Samba DC, if a test started one.
func TestMain(m *testing.M) { os.Exit(testkit.SambaMain(m)) }

// adMapping is the account mapping of the AD tests.
var adMapping = []string{"cn", "sAMAccountName", "userPrincipalName", "givenName", "sn", "displayName", "mail", "department"}

// adTest is an OU of the package's Samba DC for one test, with people,
// groups and leavers OUs under it, and an admin connection over LDAPS
// that checks what the connector did without trusting it.
type adTest struct {
	*dir // the admin connection, pwRef, add and entry (no slapd)
	dc   *testkit.SambaDC
	n    int64  // the test's number: sAMAccountName and UPN are domain-wide
	base string // OU=<test>,DC=example,DC=test
	name string // <test>: the groups' sAMAccountNames are <test>-staff, ...
}

var adSeq atomic.Int64

func startAD(t *testing.T) *adTest {
	t.Helper()
	dc := testkit.Samba(t)
	conn, err := goldap.DialURL(dc.LDAPSURL(), goldap.DialWithTLSConfig(dc.TLSConfig()))
	require.NoError(t, err)
	require.NoError(t, conn.Bind(dc.AdminDN, dc.AdminPassword))
	t.Cleanup(func() { _ = conn.Close() })
	p := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(p, []byte(dc.AdminPassword), 0o600))
	n := adSeq.Add(1)
	name := regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(t.Name(), "") + fmt.Sprint(n)
	a := &adTest{dir: &dir{pwRef: "${file:" + p + "}", admin: conn}, dc: dc, n: n, base: "OU=" + name + "," + dc.BaseDN, name: name}
	for _, ou := range []string{a.base, "OU=people," + a.base, "OU=Sales,OU=people," + a.base,
		"OU=Engineering,OU=people," + a.base, "OU=groups," + a.base, "OU=leavers," + a.base} {
		a.add(t, ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	}
	for _, g := range []string{"staff", "vpn", "wiki"} {
		a.add(t, "CN="+g+",OU=groups,"+a.base, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {name + "-" + g}})
	}
	return a
}

// bySAM finds an entry anywhere in the test's OU by sAMAccountName.
func (a *adTest) bySAM(t *testing.T, sam string, attrs ...string) *goldap.Entry {
	t.Helper()
	res, err := a.admin.Search(goldap.NewSearchRequest(a.base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(sam)+")", attrs, nil))
	require.NoError(t, err)
	if len(res.Entries) == 0 {
		return nil
	}
	require.Len(t, res.Entries, 1)
	return res.Entries[0]
}

// bind tries a simple bind as dn over LDAPS on a connection of its own.
func (a *adTest) bind(t *testing.T, dn, password string) error {
	t.Helper()
	conn, err := goldap.DialURL(a.dc.LDAPSURL(), goldap.DialWithTLSConfig(a.dc.TLSConfig()))
	require.NoError(t, err)
	defer conn.Close()
	return conn.Bind(dn, password)
}

// settings is the YAML of an AD target over LDAPS; extra lines are
// appended.
func (a *adTest) settings(extra ...string) string {
	return fmt.Sprintf(`flavour: ad
url: %s
ca_file: %s
bind_dn: %s
bind_password: "%s"
timeout: 10s
dn: "CN={{ cn }},OU={{ department }},OU=people,%s"
base: OU=people,%s
find: "(sAMAccountName={{ sAMAccountName }})"
leavers_base: OU=leavers,%s
page_size: 10
groups:
  base: OU=groups,%s
  by: cn
`, a.dc.LDAPSURL(), a.dc.CAFile, a.dc.AdminDN, a.pwRef, a.base, a.base, a.base, a.base) + strings.Join(extra, "\n") + "\n"
}

// openAD builds the connector through the registry, as accord does.
func openAD(t *testing.T, settings string) *ldap.Conn {
	t.Helper()
	c, err := openADErr(t, settings)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.(*ldap.Conn)
}

func openADErr(t *testing.T, settings string) (connector.Connector, error) {
	return openADLog(t, settings, testkit.Logger(t))
}

func openADLog(t *testing.T, settings string, log *slog.Logger) (connector.Connector, error) {
	t.Helper()
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(settings), &n))
	return connector.Open(context.Background(), "ldap", connector.Spec{
		Target: "ad", Settings: n.Content[0], AccountAttributes: adMapping, Logger: log})
}

// The password is in no log line and no error, at debug level, whether
// AD takes it or refuses it.
func TestADPasswordNeverLogged(t *testing.T) {
	a := startAD(t)
	var logs testkit.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var auditLog testkit.AuditLog
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "R1", ActionID: 7, Target: "ad", Operation: "create", Sink: &auditLog})
	for _, pw := range []string{knownPassword, "tiny9!"} {
		c, err := openADLog(t, a.settings(passwordFile(t, pw)), log)
		require.NoError(t, err)
		defer c.Close(ctx)
		_, err = c.Create(ctx, connector.CreateRequest{Attributes: a.person("Pat "+pw[:2], "pat"+pw[:2], "Sales")})
		if err != nil {
			require.NotContains(t, err.Error(), pw)
			require.NotContains(t, fmt.Sprintf("%+v", connector.AsError(err)), pw)
		}
	}
	require.NotContains(t, logs.String(), knownPassword)
	require.NotContains(t, logs.String(), "tiny9!")
	// Every request is audited (by the core), the password's value in
	// none; the two password requests say what they were, masked, and
	// the refused one carries AD's code and kind.
	recs := auditLog.Records()
	testkit.RequireNoSecrets(t, recs, knownPassword, "tiny9!", string(ldap.EncodeUnicodePwd(knownPassword)))
	var pwRecs []audit.Record
	for _, r := range recs {
		require.Equal(t, "R1", r.RunID)
		if strings.Contains(r.RequestBody, "initial password") {
			pwRecs = append(pwRecs, r)
		}
	}
	require.Len(t, pwRecs, 2)
	for _, r := range pwRecs {
		require.Contains(t, r.RequestBody, "unicodePwd: [REDACTED]")
	}
	require.Zero(t, pwRecs[0].Status)
	require.Equal(t, string(connector.Validation), pwRecs[1].ErrorKind)
	require.Equal(t, 19, pwRecs[1].Status)
	require.Contains(t, pwRecs[1].ResponseExcerpt, "0000052D")
}

// passwordFile writes an initial_password template to a secret file and
// returns the settings line for it.
func passwordFile(t *testing.T, template string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "initial")
	require.NoError(t, os.WriteFile(p, []byte(template), 0o600))
	return fmt.Sprintf("ad:\n  initial_password: \"${file:%s}\"", p)
}

// person is an account's attributes; sam gets the test's number, as
// sAMAccountName and userPrincipalName are unique in the whole domain.
func (a *adTest) person(cn, sam, dept string) model.Attributes {
	sam = fmt.Sprintf("%s-%d", sam, a.n)
	return model.Attributes{"cn": cn, "sAMAccountName": sam, "userPrincipalName": sam + "@example.test",
		"givenName": strings.Fields(cn)[0], "sn": "Tester", "displayName": cn, "department": dept}
}

const knownPassword = "Zq8!wandering-Otter"

// A new account gets its password before it is enabled, only
// ACCOUNTDISABLE (and the PASSWD_NOTREQD of a password-less new entry)
// changes, and the bit really decides whether the account can bind.
func TestADCreateSetsPasswordThenEnables(t *testing.T) {
	a := startAD(t)
	c := openAD(t, a.settings(passwordFile(t, knownPassword)))
	ctx := context.Background()
	acct, err := c.Create(ctx, connector.CreateRequest{Attributes: a.person("Ann Lee", "alee", "Sales")})
	require.NoError(t, err)
	dn := "CN=Ann Lee,OU=Sales,OU=people," + a.base
	require.True(t, strings.EqualFold(dn, acct.Link["dn"]), acct.Link["dn"])
	require.True(t, acct.Active)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, acct.NativeID)
	e := a.entry(t, dn, "userAccountControl", "pwdLastSet", "objectGUID", "userPrincipalName")
	require.Equal(t, "512", e.GetAttributeValue("userAccountControl"), "NORMAL_ACCOUNT, enabled, a password required")
	require.NotEqual(t, "0", e.GetAttributeValue("pwdLastSet"), "no change at first logon was asked")
	require.Equal(t, acct.NativeID, ldap.FormatGUID(e.GetRawAttributeValue("objectGUID")))
	require.Equal(t, fmt.Sprintf("alee-%d@example.test", a.n), e.GetAttributeValue("userPrincipalName"))
	require.NoError(t, a.bind(t, dn, knownPassword), "the enabled account binds with its initial password")

	// Another bit set by someone else stays through disable and enable.
	mod := goldap.NewModifyRequest(dn, nil)
	mod.Replace("userAccountControl", []string{"66048"}) // + DONT_EXPIRE_PASSWORD
	require.NoError(t, a.admin.Modify(mod))
	ref := connector.AccountRef{NativeID: acct.NativeID, Attributes: a.person("Ann Lee", "alee", "Sales")}
	require.NoError(t, c.Disable(ctx, ref))
	require.Equal(t, "66050", a.entry(t, dn, "userAccountControl").GetAttributeValue("userAccountControl"))
	err = a.bind(t, dn, knownPassword)
	require.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials), "%v", err)
	require.Contains(t, err.Error(), "data 533", "refused because disabled, not for the password")
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	require.False(t, got.Active)

	require.NoError(t, c.Disable(ctx, ref), "disabling a disabled account is done")
	require.NoError(t, c.Enable(ctx, ref))
	require.Equal(t, "66048", a.entry(t, dn, "userAccountControl").GetAttributeValue("userAccountControl"))
	require.NoError(t, a.bind(t, dn, knownPassword))
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	require.True(t, got.Active)
}

// Without a template the password is generated: the account is enabled
// with a password nobody was told (a wrong one is refused as wrong, 52e,
// not as disabled), and pwdLastSet=0 asks for a change at first logon.
func TestADGeneratedPasswordAndMustChange(t *testing.T) {
	a := startAD(t)
	c := openAD(t, a.settings("ad:\n  must_change_password: true\n  password_length: 24"))
	_, err := c.Create(context.Background(), connector.CreateRequest{Attributes: a.person("Bo Chan", "bchan", "Engineering")})
	require.NoError(t, err)
	dn := "CN=Bo Chan,OU=Engineering,OU=people," + a.base
	e := a.entry(t, dn, "userAccountControl", "pwdLastSet")
	require.Equal(t, "512", e.GetAttributeValue("userAccountControl"))
	require.Equal(t, "0", e.GetAttributeValue("pwdLastSet"))
	err = a.bind(t, dn, "not-the-password-1A!")
	require.Error(t, err)
	require.Contains(t, err.Error(), "data 52e")
}

// Samba takes unicodePwd over plain LDAP; Windows does not, and a
// password must not cross the wire in clear: the ad flavour refuses a
// plain connection, and works over StartTLS.
func TestADPasswordNeedsTLS(t *testing.T) {
	a := startAD(t)
	plain := strings.Replace(a.settings(), "url: "+a.dc.LDAPSURL(), "url: "+a.dc.LDAPURL()+"\nallow_plain: true", 1)
	_, err := openADErr(t, plain)
	require.Error(t, err)
	require.Contains(t, err.Error(), "ldaps:// or start_tls")

	startTLS := strings.Replace(a.settings(passwordFile(t, knownPassword)), "url: "+a.dc.LDAPSURL(), "url: "+a.dc.LDAPURL()+"\nstart_tls: true", 1)
	c := openAD(t, startTLS)
	_, err = c.Create(context.Background(), connector.CreateRequest{Attributes: a.person("Cy Dow", "cdow", "Sales")})
	require.NoError(t, err)
	require.NoError(t, a.bind(t, "CN=Cy Dow,OU=Sales,OU=people,"+a.base, knownPassword))
}

// The failure cases of the recipe's AD column, each with its kind.
func TestADFailureKinds(t *testing.T) {
	a := startAD(t)
	ctx := context.Background()
	c := openAD(t, a.settings(passwordFile(t, knownPassword)))
	ann, err := c.Create(ctx, connector.CreateRequest{Attributes: a.person("Ann Lee", "alee", "Sales")})
	require.NoError(t, err)

	kindOf := func(err error) (connector.Kind, int, string) {
		t.Helper()
		require.Error(t, err)
		ce := connector.AsError(err)
		return ce.Kind, ce.Status, ce.Reason
	}

	t.Run("duplicate sAMAccountName is a conflict (68, 00002071)", func(t *testing.T) {
		p := a.person("Ann Lee Two", "alee", "Sales")
		p["userPrincipalName"] = "other-" + p["userPrincipalName"].(string)
		_, err := c.Create(ctx, connector.CreateRequest{Attributes: p})
		k, status, reason := kindOf(err)
		require.Equal(t, connector.Conflict, k)
		require.Equal(t, 68, status)
		require.True(t, strings.HasPrefix(reason, "00002071"), "the server's own text is kept: %q", reason)
	})
	t.Run("duplicate userPrincipalName is a conflict (19, 0000202F)", func(t *testing.T) {
		p := a.person("Al Other", "aother", "Sales")
		p["userPrincipalName"] = ann.Attributes["userPrincipalName"]
		_, err := c.Create(ctx, connector.CreateRequest{Attributes: p})
		k, status, reason := kindOf(err)
		require.Equal(t, connector.Conflict, k)
		require.Equal(t, 19, status)
		require.True(t, strings.HasPrefix(reason, "0000202F"), reason)
	})
	t.Run("a password the policy refuses is validation (19, 0000052D), and the new entry is removed", func(t *testing.T) {
		short := openAD(t, a.settings(passwordFile(t, "aB1!")))
		_, err := short.Create(ctx, connector.CreateRequest{Attributes: a.person("Di Ess", "diess", "Sales")})
		k, status, reason := kindOf(err)
		require.Equal(t, connector.Validation, k)
		require.Equal(t, 19, status)
		require.True(t, strings.HasPrefix(reason, "0000052D"), reason)
		require.NotContains(t, err.Error(), "aB1!")
		require.Nil(t, a.bySAM(t, fmt.Sprintf("diess-%d", a.n)), "no disabled, password-less account is left behind")
	})
	t.Run("modify of a missing entry is not_found (32)", func(t *testing.T) {
		mod := goldap.NewModifyRequest("CN=nobody,OU=people,"+a.base, nil)
		mod.Replace("description", []string{"x"})
		err := c.Modify(ctx, mod)
		k, status, _ := kindOf(err)
		require.Equal(t, connector.NotFound, k)
		require.Equal(t, 32, status)
		// And through the connector: an account whose GUID is gone.
		err = c.Update(ctx, connector.AccountRef{NativeID: "01234567-89ab-cdef-0123-456789abcdef"}, model.Attributes{"sn": "x"})
		require.Equal(t, connector.NotFound, connector.KindOf(err))
	})
	t.Run("delete of a non-empty OU is validation (66)", func(t *testing.T) {
		err := a.admin.Del(goldap.NewDelRequest("OU=Sales,OU=people,"+a.base, nil))
		require.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultNotAllowedOnNonLeaf), "%v", err)
		require.Equal(t, connector.Validation, ldap.KindForCode(goldap.LDAPResultNotAllowedOnNonLeaf))
	})
	t.Run("binding as a disabled account is auth (49, data 533)", func(t *testing.T) {
		// A service account accord binds as, disabled by someone.
		ref := connector.AccountRef{NativeID: ann.NativeID}
		require.NoError(t, c.Disable(ctx, ref))
		p := filepath.Join(t.TempDir(), "svc")
		require.NoError(t, os.WriteFile(p, []byte(knownPassword), 0o600))
		s := strings.Replace(a.settings(), "bind_dn: "+a.dc.AdminDN, "bind_dn: "+ann.Link["dn"], 1)
		s = strings.Replace(s, a.pwRef, "${file:"+p+"}", 1)
		svc := openAD(t, s)
		_, err := svc.Get(ctx, ref)
		k, status, reason := kindOf(err)
		require.Equal(t, connector.Auth, k)
		require.Equal(t, 49, status)
		require.Contains(t, reason, "data 533")
		require.Equal(t, "the account is disabled", ldap.ADBindReason(reason))
	})
	t.Run("an account that may have no password is not enabled", func(t *testing.T) {
		// As left by a create whose process died before the password:
		// AD made it disabled with PASSWD_NOTREQD.
		dn := "CN=Half Made,OU=Sales,OU=people," + a.base
		sam := fmt.Sprintf("half-%d", a.n)
		a.add(t, dn, map[string][]string{"objectClass": {"user"}, "sAMAccountName": {sam}})
		require.Equal(t, "546", a.entry(t, dn, "userAccountControl").GetAttributeValue("userAccountControl"))
		found, err := c.Find(ctx, model.Attributes{"sAMAccountName": sam})
		require.NoError(t, err)
		err = c.Enable(ctx, connector.AccountRef{NativeID: found.NativeID})
		k, _, _ := kindOf(err)
		require.Equal(t, connector.Validation, k)
		require.Contains(t, err.Error(), "may have no password")
		require.Equal(t, "546", a.entry(t, dn, "userAccountControl").GetAttributeValue("userAccountControl"), "still disabled")
	})
	t.Run("a sAMAccountName AD would refuse is refused before anything is sent", func(t *testing.T) {
		_, err := c.Create(ctx, connector.CreateRequest{Attributes: a.person("Ed Eff", "has,comma", "Sales")})
		k, _, _ := kindOf(err)
		require.Equal(t, connector.Validation, k)
		require.Contains(t, err.Error(), "sAMAccountName")
		require.Nil(t, a.entry(t, "CN=Ed Eff,OU=Sales,OU=people,"+a.base))
	})
}

// Grant and revoke are ensures on AD's codes (68 for add twice, 53 for
// removing a non-member), read back through memberOf, and follow a
// rename and a move.
func TestADMembershipIdempotentAndReadBack(t *testing.T) {
	a := startAD(t)
	ctx := context.Background()
	c := openAD(t, a.settings(passwordFile(t, knownPassword)))
	acct, err := c.Create(ctx, connector.CreateRequest{Attributes: a.person("Fay Gee", "fgee", "Sales")})
	require.NoError(t, err)
	ref := connector.AccountRef{NativeID: acct.NativeID, Attributes: a.person("Fay Gee", "fgee", "Sales")}

	require.NoError(t, c.Grant(ctx, ref, []string{"staff"}))
	require.NoError(t, c.Grant(ctx, ref, []string{"staff"}), "add a member twice (68) is done")
	require.NoError(t, c.Grant(ctx, ref, []string{"vpn"}))
	require.NoError(t, c.Revoke(ctx, ref, []string{"wiki"}), "remove a non-member of an empty group (16) is done")
	wiki := "CN=wiki,OU=groups," + a.base
	other := goldap.NewModifyRequest(wiki, nil)
	other.Add("member", []string{a.dc.AdminDN})
	require.NoError(t, a.admin.Modify(other))
	require.NoError(t, c.Revoke(ctx, ref, []string{"wiki"}), "remove a non-member (53) is done")

	// The codes really are AD's: the same requests sent raw.
	g := "CN=staff,OU=groups," + a.base
	add := goldap.NewModifyRequest(g, nil)
	add.Add("member", []string{acct.Link["dn"]})
	err = a.admin.Modify(add)
	require.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists), "%v", err)
	del := goldap.NewModifyRequest(wiki, nil)
	del.Delete("member", []string{acct.Link["dn"]})
	err = a.admin.Modify(del)
	require.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform), "%v", err)

	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, []string{"staff", "vpn"}, got.Entitlements)

	// A group inside a group is reported, not flattened into the
	// account's memberships.
	nest := goldap.NewModifyRequest("CN=vpn,OU=groups,"+a.base, nil)
	nest.Add("member", []string{"CN=wiki,OU=groups," + a.base})
	require.NoError(t, a.admin.Modify(nest))
	nested, err := c.NestedGroups(ctx, "vpn")
	require.NoError(t, err)
	require.Equal(t, []string{"wiki"}, nested)
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, []string{"staff", "vpn"}, got.Entitlements, "wiki is not added through vpn")

	// A mover: renamed and moved to another OU; AD keeps the groups'
	// member values pointing at it.
	moved := a.person("Fay Gee-Hill", "fgee", "Engineering")
	require.NoError(t, c.Update(ctx, ref, model.Attributes{"cn": "Fay Gee-Hill", "department": "Engineering", "displayName": "Fay Gee-Hill"}))
	newDN := "CN=Fay Gee-Hill,OU=Engineering,OU=people," + a.base
	e := a.entry(t, newDN, "memberOf", "objectGUID", "department", "displayName")
	require.NotNil(t, e, "renamed and moved")
	require.Equal(t, acct.NativeID, ldap.FormatGUID(e.GetRawAttributeValue("objectGUID")), "the same entry")
	require.Equal(t, "Engineering", e.GetAttributeValue("department"))
	require.Len(t, e.GetAttributeValues("memberOf"), 2)
	ref.Attributes = moved
	require.NoError(t, c.Revoke(ctx, ref, []string{"staff"}))
	require.NoError(t, c.Revoke(ctx, ref, []string{"staff"}))
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, []string{"vpn"}, got.Entitlements)
	require.Equal(t, []string{"CN=vpn,OU=groups," + a.base}, a.entry(t, newDN, "memberOf").GetAttributeValues("memberOf"))
}

// leaver: move disables the account and moves it under leavers_base; a
// rehire enables it and moves it back where the DN template says.
func TestADLeaverMoveAndRehire(t *testing.T) {
	a := startAD(t)
	ctx := context.Background()
	c := openAD(t, a.settings(passwordFile(t, knownPassword), "leaver: move"))
	attrs := a.person("Gus Ho", "gho", "Sales")
	acct, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
	require.NoError(t, err)
	ref := connector.AccountRef{NativeID: acct.NativeID, Attributes: attrs}
	require.NoError(t, c.Disable(ctx, ref))
	left := "CN=Gus Ho,OU=leavers," + a.base
	e := a.entry(t, left, "userAccountControl")
	require.NotNil(t, e, "moved to the leavers OU")
	require.Equal(t, "514", e.GetAttributeValue("userAccountControl"))
	require.Nil(t, a.entry(t, acct.Link["dn"]))
	got, err := c.Get(ctx, ref)
	require.NoError(t, err, "found by objectGUID wherever it is")
	require.False(t, got.Active)

	require.NoError(t, c.Enable(ctx, ref))
	e = a.entry(t, acct.Link["dn"], "userAccountControl")
	require.NotNil(t, e, "moved back")
	require.Equal(t, "512", e.GetAttributeValue("userAccountControl"))
	require.NoError(t, a.bind(t, acct.Link["dn"], knownPassword))
}

// Listing pages always (Samba has no 1,000 cap, AD does), and the AD
// flavour's delta filter on uSNChanged reads only what changed since
// the watermark.
func TestADPagedListAndUSNDelta(t *testing.T) {
	a := startAD(t)
	ctx := context.Background()
	c := openAD(t, a.settings(passwordFile(t, knownPassword)))
	for i := range 23 {
		_, err := c.Create(ctx, connector.CreateRequest{Attributes: a.person(fmt.Sprintf("User %02d", i), fmt.Sprintf("u%02d", i), "Sales")})
		require.NoError(t, err)
	}
	// A full listing through the delta seam gives the watermark: the
	// highest uSNChanged read.
	list := func(since string) ([]connector.Account, string, int) {
		t.Helper()
		var all []connector.Account
		pages, cursor := 0, ""
		for {
			p, mark, err := c.ListAccountsChanged(ctx, since, cursor)
			require.NoError(t, err)
			require.LessOrEqual(t, len(p.Items), 10, "page_size is kept")
			all = append(all, p.Items...)
			pages++
			if p.Next == "" {
				return all, mark, pages
			}
			cursor = p.Next
		}
	}
	all, mark, pages := list("")
	require.Len(t, all, 23)
	require.GreaterOrEqual(t, pages, 3)
	fl := &ldap.AD{}
	want := ""
	for _, acct := range all {
		want = fl.Watermark(want, a.entry(t, acct.Link["dn"], "uSNChanged"))
	}
	require.Equal(t, want, mark, "the watermark is the highest uSNChanged listed")

	// Three accounts change, a fourth joins a group (memberOf is AD's
	// back link: the account's own uSNChanged does not move).
	for _, i := range []int{3, 11, 19} {
		require.NoError(t, c.Update(ctx, connector.AccountRef{NativeID: all[i].NativeID, Attributes: all[i].Attributes}, model.Attributes{"sn": "Changed"}))
	}
	require.NoError(t, c.Grant(ctx, connector.AccountRef{NativeID: all[7].NativeID}, []string{"staff"}))
	changed, mark2, _ := list(mark)
	ids := map[string]bool{}
	for _, acct := range changed {
		ids[acct.NativeID] = true
	}
	for _, i := range []int{3, 11, 19, 7} {
		require.True(t, ids[all[i].NativeID], "account %d is in the delta", i)
	}
	require.LessOrEqual(t, len(changed), 5, "the changed four, and at most the entry at the watermark itself")
	var m1, m2 int
	_, _ = fmt.Sscan(mark, &m1)
	_, _ = fmt.Sscan(mark2, &m2)
	require.Greater(t, m2, m1, "the watermark moves on")
	again, _, _ := list(fmt.Sprint(m2 + 1))
	require.Empty(t, again, "nothing changed since")
	require.Equal(t, "(uSNChanged>=0)", fl.DeltaFilter("not a number"), "a bad watermark reads everything")
}

// Hostile values land in the right DN, round-trip, and never widen a
// filter.
func TestADHostileNamesRoundTrip(t *testing.T) {
	a := startAD(t)
	ctx := context.Background()
	s := strings.Replace(a.settings(passwordFile(t, knownPassword)), `find: "(sAMAccountName={{ sAMAccountName }})"`, `find: "(displayName={{ displayName }})"`, 1)
	c := openAD(t, s)
	names := []string{
		`Lee, Ann`, `A+B`, `Say "hi"`, `back\slash`, `#hash`, ` lead`, `trail `,
		`star*`, `par(en)`, `Zoë Ærø 日本`,
	}
	for i, cn := range names {
		attrs := model.Attributes{"cn": cn, "sAMAccountName": fmt.Sprintf("h%d-%d", i, adSeq.Load()), "displayName": cn, "sn": "X", "department": "Sales"}
		acct, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
		require.NoError(t, err, "create %q", cn)
		dn, err := goldap.ParseDN(acct.Link["dn"])
		require.NoError(t, err)
		require.Equal(t, strings.TrimSpace(cn), strings.TrimSpace(dn.RDNs[0].Attributes[0].Value), "the whole value is the RDN, nothing split off")
		require.Len(t, dn.RDNs, 4+strings.Count(a.base, ","), "no extra RDN from %q", cn)
		got, err := c.Get(ctx, connector.AccountRef{NativeID: acct.NativeID})
		require.NoError(t, err)
		require.Equal(t, cn, got.Attributes["displayName"], "displayName round-trips")
	}
	// NUL: AD refuses it or keeps it whole; it never cuts the DN short.
	nul := model.Attributes{"cn": "nul\x00cut", "sAMAccountName": fmt.Sprintf("hn-%d", a.n), "displayName": "nul\x00cut", "sn": "X", "department": "Sales"}
	if acct, err := c.Create(ctx, connector.CreateRequest{Attributes: nul}); err != nil {
		t.Logf("NUL refused: %v", err)
		require.NotEqual(t, connector.Unknown, connector.KindOf(err), "%v", err)
		require.Nil(t, a.entry(t, "CN=nul,OU=Sales,OU=people,"+a.base), "not cut at the NUL")
	} else {
		got, err := c.Get(ctx, connector.AccountRef{NativeID: acct.NativeID})
		require.NoError(t, err)
		require.Equal(t, "nul\x00cut", got.Attributes["displayName"])
		dn, err := goldap.ParseDN(got.Link["dn"])
		require.NoError(t, err)
		require.Equal(t, "nul\x00cut", dn.RDNs[0].Attributes[0].Value, "the whole value is the RDN")
	}
	// A value with * finds itself only, not "star" and more.
	attrs := model.Attributes{"cn": "starry", "sAMAccountName": fmt.Sprintf("hs-%d", adSeq.Load()), "displayName": "starry", "sn": "X", "department": "Sales"}
	_, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
	require.NoError(t, err)
	got, err := c.Find(ctx, model.Attributes{"displayName": "star*"})
	require.NoError(t, err, "one match, not several")
	require.Equal(t, "star*", got.Attributes["displayName"])
	_, err = c.Find(ctx, model.Attributes{"displayName": "*"})
	require.Equal(t, connector.NotFound, connector.KindOf(err), "a lone * matches nobody's displayName literally")
	_, err = c.Find(ctx, model.Attributes{"displayName": "x)(displayName=*"})
	require.Equal(t, connector.NotFound, connector.KindOf(err), "no filter injection")
}

// interleave is a context whose gate (passed before every request the
// connector sends) runs change before the requests that follow the
// connector's lookup of the account by objectGUID, up to times times:
// an administrator's change landing between accord's read and its write.
func interleave(ctx context.Context, times int, change func(n int)) (context.Context, *testkit.AuditLog) {
	var log testkit.AuditLog
	var armed atomic.Bool
	var n atomic.Int32
	sink := audit.SinkFunc(func(ctx context.Context, recs ...audit.Record) {
		for _, r := range recs {
			if strings.Contains(r.RequestBody, "objectGUID=") {
				armed.Store(true)
			}
		}
		log.Append(ctx, recs...)
	})
	ctx = audit.WithCall(ctx, audit.Call{RunID: "R1", ActionID: 1, Target: "ad", Operation: "disable", Sink: sink})
	return connector.WithGate(ctx, func(context.Context) error {
		if armed.Load() && int(n.Load()) < times {
			change(int(n.Add(1)))
		}
		return nil
	}), &log
}

// Enabling and disabling change userAccountControl with a modify that
// deletes the value read and adds the new one: an administrator's change
// in between makes AD refuse it (16), and accord reads again and keeps
// that change; a value that keeps changing is a conflict after a bounded
// number of tries, not a lost update.
func TestADUserAccountControlChangeIsAtomic(t *testing.T) {
	a := startAD(t)
	c := openAD(t, a.settings(passwordFile(t, knownPassword)))
	acct, err := c.Create(context.Background(), connector.CreateRequest{Attributes: a.person("Ida Jay", "ijay", "Sales")})
	require.NoError(t, err)
	dn := acct.Link["dn"]
	ref := connector.AccountRef{NativeID: acct.NativeID, Attributes: a.person("Ida Jay", "ijay", "Sales")}
	setUAC := func(v string) {
		mod := goldap.NewModifyRequest(dn, nil)
		mod.Replace("userAccountControl", []string{v})
		require.NoError(t, a.admin.Modify(mod))
	}
	uac := func() string { return a.entry(t, dn, "userAccountControl").GetAttributeValue("userAccountControl") }
	require.Equal(t, "512", uac())

	// An admin sets DONT_EXPIRE_PASSWORD after accord read 512.
	ctx, log := interleave(context.Background(), 1, func(int) { setUAC("66048") })
	require.NoError(t, c.Disable(ctx, ref))
	require.Equal(t, "66050", uac(), "disabled, and the admin's bit kept")
	var mods []audit.Record
	for _, r := range log.Records() {
		if r.Method == "MODIFY" {
			mods = append(mods, r)
		}
	}
	require.Len(t, mods, 2, "refused once, then made on the value read again")
	require.Equal(t, 16, mods[0].Status, "AD's own refusal of the stale value: %s", mods[0].ResponseExcerpt)
	require.Contains(t, mods[0].RequestBody, "from 512 to 514")
	require.Zero(t, mods[1].Status)
	require.Contains(t, mods[1].RequestBody, "from 66048 to 66050")

	// The same on enable: someone sets SMARTCARD_REQUIRED (0x40000) meanwhile.
	ctx, _ = interleave(context.Background(), 1, func(int) { setUAC("328194") })
	require.NoError(t, c.Enable(ctx, ref))
	require.Equal(t, "328192", uac(), "enabled, and the smart card bit kept")

	// A value that changes before every request: a conflict, the
	// administrator's last value stands.
	vals := []string{"512", "66048"}
	ctx, _ = interleave(context.Background(), 100, func(n int) { setUAC(vals[n%2]) })
	err = c.Disable(ctx, ref)
	require.Error(t, err)
	require.Equal(t, connector.Conflict, connector.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), "changed under accord")
	last := uac()
	require.Contains(t, vals, last, "accord's disable did not overwrite the administrator's value")
}

// groups.by: sAMAccountName: entitlements are the names an AD admin
// knows (the group's pre-Windows 2000 name, not its CN or DN), for
// grant, revoke, verification, read back and listing; a name that
// matches no group is an error naming it.
func TestADGroupsBySAMAccountName(t *testing.T) {
	a := startAD(t)
	ctx := context.Background()
	s := strings.Replace(a.settings(passwordFile(t, knownPassword)), "  by: cn\n", "  by: sAMAccountName\n", 1)
	c := openAD(t, s)
	acct, err := c.Create(ctx, connector.CreateRequest{Attributes: a.person("Kim Lo", "klo", "Sales")})
	require.NoError(t, err)
	ref := connector.AccountRef{NativeID: acct.NativeID, Attributes: a.person("Kim Lo", "klo", "Sales")}
	staff, vpn, wiki := a.name+"-staff", a.name+"-vpn", a.name+"-wiki"

	require.NoError(t, c.Grant(ctx, ref, []string{staff, strings.ToUpper(vpn)}), "AD's names are not case sensitive")
	require.ElementsMatch(t, []string{"CN=staff,OU=groups," + a.base, "CN=vpn,OU=groups," + a.base},
		a.entry(t, acct.Link["dn"], "memberOf").GetAttributeValues("memberOf"), "read back by the admin")
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, []string{staff, vpn}, got.Entitlements, "reported by sAMAccountName, as configured")
	ok, err := c.IsMember(ctx, ref, staff)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = c.IsMember(ctx, ref, wiki)
	require.NoError(t, err)
	require.False(t, ok)

	// A connector that never resolved these names reads them back too.
	fresh := openAD(t, s)
	got, err = fresh.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, []string{staff, vpn}, got.Entitlements)

	page, err := fresh.ListEntitlements(ctx, "")
	require.NoError(t, err)
	var ids, names []string
	for p := page; ; {
		for _, e := range p.Items {
			ids = append(ids, e.ID)
			names = append(names, e.DisplayName)
		}
		if p.Next == "" {
			break
		}
		p, err = fresh.ListEntitlements(ctx, p.Next)
		require.NoError(t, err)
	}
	require.ElementsMatch(t, []string{staff, vpn, wiki}, ids)
	require.ElementsMatch(t, []string{"staff", "vpn", "wiki"}, names, "the CN is the display name")

	require.NoError(t, c.Revoke(ctx, ref, []string{staff}))
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, []string{vpn}, got.Entitlements)

	// The CN is not the sAMAccountName: "staff" names no group here.
	err = c.Grant(ctx, ref, []string{"staff"})
	require.Equal(t, connector.NotFound, connector.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), `group "staff" does not exist`)
	require.Contains(t, err.Error(), "sAMAccountName")

	// Nested groups are reported by name too.
	nest := goldap.NewModifyRequest("CN=vpn,OU=groups,"+a.base, nil)
	nest.Add("member", []string{"CN=wiki,OU=groups," + a.base})
	require.NoError(t, a.admin.Modify(nest))
	nested, err := fresh.NestedGroups(ctx, vpn)
	require.NoError(t, err)
	require.Equal(t, []string{wiki}, nested)
}

// pwReceiver is an onboarding system's webhook endpoint: it checks the
// signature, notes what it got and how the account stood in AD at that
// moment, and answers with the statuses it is given (then 200).
type pwReceiver struct {
	a        *adTest
	mu       sync.Mutex
	statuses []int
	got      []pwDelivery
}

type pwDelivery struct {
	event    notify.Event
	validSig bool
	uac      string // the account's userAccountControl when the password arrived
	status   int
}

func (r *pwReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := pwDelivery{status: http.StatusOK, validSig: notify.VerifySignature([]byte("hook-key-1"),
		req.Header.Get(notify.HeaderTimestamp), body, req.Header.Get(notify.HeaderSignature))}
	_ = json.Unmarshal(body, &d.event)
	if dn, _ := d.event.Details["dn"].(string); dn != "" {
		res, err := r.a.admin.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"userAccountControl"}, nil))
		if err == nil && len(res.Entries) == 1 {
			d.uac = res.Entries[0].GetAttributeValue("userAccountControl")
		}
	}
	r.mu.Lock()
	if len(r.statuses) > 0 {
		d.status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	r.got = append(r.got, d)
	r.mu.Unlock()
	w.WriteHeader(d.status)
}

func (r *pwReceiver) deliveries() []pwDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pwDelivery(nil), r.got...)
}

// A generated initial password goes to the configured receiver (over
// https, its CA from ca_file), signed,
// while the account is still disabled, and only then is the account
// enabled; the password is the account's (AD asks for a change at first
// logon, 773, rather than refusing it, 52e), and is in no log line, audit
// record, error or returned account. A receiver that does not take it
// leaves no account behind: the retry creates it with a new password.
func TestADInitialPasswordDeliveredBeforeEnabling(t *testing.T) {
	a := startAD(t)
	rcv := &pwReceiver{a: a, statuses: []int{http.StatusServiceUnavailable}}
	srv := httptest.NewTLSServer(rcv)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "receiver-ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	t.Setenv("ACCORD_TEST_HOOK_KEY", "hook-key-1")
	var logs testkit.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	conn, err := openADLog(t, a.settings(`ad:
  must_change_password: true
  password_delivery:
    url: `+srv.URL+`/accord/passwords?token=tok-in-query
    secret: "${env:ACCORD_TEST_HOOK_KEY}"
    ca_file: `+caFile+`
    timeout: 5s`), log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var auditLog testkit.AuditLog
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "R9", ActionID: 3, PersonKey: "E-1042", Target: "ad", Operation: "create", Sink: &auditLog})
	attrs := a.person("Lu Min", "lmin", "Sales")
	sam := attrs["sAMAccountName"].(string)

	// The receiver is down: no account is left, enabled or not.
	_, err = conn.Create(ctx, connector.CreateRequest{Attributes: attrs})
	require.Error(t, err)
	require.Equal(t, connector.Unavailable, connector.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), "503")
	require.Contains(t, err.Error(), "not delivered")
	require.NotContains(t, err.Error(), "tok-in-query")
	require.Nil(t, a.bySAM(t, sam), "the account whose password was not delivered is removed")
	first := rcv.deliveries()
	require.Len(t, first, 1)
	lost, _ := first[0].event.Details["password"].(string)
	require.NotEmpty(t, lost)
	require.NotContains(t, err.Error(), lost)

	// The retry: a new password, delivered, then the account enabled.
	acct, err := conn.Create(ctx, connector.CreateRequest{Attributes: attrs})
	require.NoError(t, err)
	all := rcv.deliveries()
	require.Len(t, all, 2)
	d := all[1]
	require.True(t, d.validSig, "signed with password_delivery.secret")
	require.Equal(t, notify.InitialPassword, d.event.Kind)
	require.Equal(t, "R9", d.event.RunID)
	require.Equal(t, "E-1042", d.event.Person)
	require.Equal(t, acct.Link["dn"], d.event.Details["dn"])
	require.Equal(t, sam, d.event.Details["sAMAccountName"])
	require.Equal(t, true, d.event.Details["must_change_password"])
	pw, _ := d.event.Details["password"].(string)
	require.NoError(t, ldap.CheckADComplexity(pw, ldap.MinPasswordLength, sam, "Lu Min"))
	require.NotEqual(t, lost, pw, "a new password for the new account")
	uac, err := ldap.UACActive(d.uac)
	require.NoError(t, err, "the account existed when its password arrived: %q", d.uac)
	require.False(t, uac, "still disabled when the password arrived")

	e := a.entry(t, acct.Link["dn"], "userAccountControl", "pwdLastSet")
	require.Equal(t, "512", e.GetAttributeValue("userAccountControl"))
	require.Equal(t, "0", e.GetAttributeValue("pwdLastSet"))
	err = a.bind(t, acct.Link["dn"], pw)
	require.Error(t, err)
	require.Contains(t, err.Error(), "data 773", "the delivered password is right; AD wants it changed first")

	// The password went to the receiver only.
	recs := auditLog.Records()
	testkit.RequireNoSecrets(t, recs, pw, lost, string(ldap.EncodeUnicodePwd(pw)), "tok-in-query")
	require.NotContains(t, logs.String(), pw)
	require.NotContains(t, logs.String(), lost)
	require.NotContains(t, fmt.Sprintf("%+v", acct), pw)
	var events []audit.Record
	for _, r := range recs {
		if r.Kind == audit.KindEvent {
			events = append(events, r)
		}
	}
	require.Len(t, events, 2, "each delivery is audited")
	require.Equal(t, "failed", events[0].Outcome)
	require.Contains(t, events[0].Message, "503")
	require.Empty(t, events[1].Outcome)
	require.Contains(t, events[1].RequestBody, "initial password ([REDACTED]) of "+acct.Link["dn"])
	require.Equal(t, srv.URL+"/accord/passwords", events[1].URL)
}

// password_delivery is checked when the target is opened: an https
// receiver (http only on this machine) and a signing secret.
func TestADPasswordDeliverySettings(t *testing.T) {
	for _, tc := range []struct{ delivery, want string }{
		{"    url: http://onboarding.example.com/h\n    secret: ${env:X}", "ad.password_delivery.url (line 7): must be https://"},
		{"    secret: ${env:X}", "ad.password_delivery.url (line 6): is required"},
		{"    url: https://onboarding.example.com/h", "ad.password_delivery.secret (line 6): is required"},
		{"    url: http://127.0.0.1:8080/h\n    secret: ${env:X}", ""},
	} {
		s := `flavour: ad
url: ldaps://dc.example.test
dn: "CN={{ cn }},OU=people,DC=example,DC=test"
base: OU=people,DC=example,DC=test
ad:
  password_delivery:
` + tc.delivery + "\n"
		var n yaml.Node
		require.NoError(t, yaml.Unmarshal([]byte(s), &n))
		f, _ := connector.Lookup("ldap")
		got := f.Check(n.Content[0], connector.CheckEnv{Target: "ad", AccountAttributes: adMapping}).Error()
		if tc.want == "" {
			require.NotContains(t, got, "password_delivery", "http on loopback is allowed")
			continue
		}
		require.Contains(t, got, tc.want)
	}
}
