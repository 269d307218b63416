package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/testkit"
)

// TestMain stops the package's Samba DC, if a test started one.
func TestMain(m *testing.M) { os.Exit(testkit.SambaMain(m)) }

// adLifecycleTarget provisions Active Directory: accounts under an OU per
// department, leavers moved (and disabled) to a leavers OU, groups by cn.
const adLifecycleTarget = `targets:
  - name: ad
    type: ldap
    connection:
      flavour: ad
      url: %[1]s
      ca_file: %[2]s
      bind_dn: %[3]s
      bind_password: "${env:LIFECYCLE_AD_PASSWORD}"
      dn: "CN={{ cn }},OU={{ department }},OU=people,%[4]s"
      base: OU=people,%[4]s
      find: "(sAMAccountName={{ sAMAccountName }})"
      create_parents: true
      leaver: move
      leavers_base: OU=leavers,%[4]s
      groups: {base: "OU=groups,%[4]s", by: cn}
      ad: {must_change_password: true}
    account:
      cn: "{{ first_name }} {{ last_name }}"
      sAMAccountName: "acc-{{ employee_id }}"
      userPrincipalName: "{{ email }}"
      givenName: "{{ first_name }}"
      sn: "{{ last_name }}"
      displayName: "{{ first_name }} {{ last_name }}"
      title: "{{ title }}"
      department: "{{ department }}"
    birthright: [all-staff]
    lifecycle: {provision_days_before: 7, leaver: disable}
    retry: {max_attempts: 3, base: 10ms, max: 50ms}
`

// TestLifecycleOverActiveDirectory runs joiner, mover (a rename and an
// OU move), leaver and rehire through accord's pipeline against a real
// Samba AD DC, and reads the outcome back over LDAPS as the
// administrator.
func TestLifecycleOverActiveDirectory(t *testing.T) {
	dc := testkit.Samba(t)
	base := "OU=lifecycle," + dc.BaseDN
	admin, err := goldap.DialURL(dc.LDAPSURL(), goldap.DialWithTLSConfig(dc.TLSConfig()))
	require.NoError(t, err)
	defer admin.Close()
	require.NoError(t, admin.Bind(dc.AdminDN, dc.AdminPassword))
	add := func(dn string, attrs map[string][]string) {
		req := goldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		require.NoError(t, admin.Add(req), dn)
	}
	for _, ou := range []string{base, "OU=people," + base, "OU=groups," + base, "OU=leavers," + base} {
		add(ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	}
	for _, g := range []string{"all-staff", "crm", "github"} {
		add("CN="+g+",OU=groups,"+base, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"lc-" + g}})
	}
	bySAM := func(sam string) *goldap.Entry {
		t.Helper()
		res, err := admin.Search(goldap.NewSearchRequest(dc.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(sAMAccountName="+goldap.EscapeFilter(sam)+")", []string{"userAccountControl", "memberOf", "objectGUID", "title", "sn", "pwdLastSet", "userPrincipalName"}, nil))
		require.NoError(t, err)
		require.Len(t, res.Entries, 1, sam)
		return res.Entries[0]
	}
	groups := func(e *goldap.Entry) []string {
		var out []string
		for _, g := range e.GetAttributeValues("memberOf") {
			d, err := goldap.ParseDN(g)
			require.NoError(t, err)
			out = append(out, d.RDNs[0].Attributes[0].Value)
		}
		slices.Sort(out)
		return out
	}
	accounts := func() int {
		res, err := admin.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(&(objectCategory=person)(objectClass=user))", []string{"1.1"}, nil))
		require.NoError(t, err)
		return len(res.Entries)
	}

	t.Setenv("LIFECYCLE_AD_PASSWORD", dc.AdminPassword)
	dir := t.TempDir()
	config := "\nstore:\n  path: accord.db\n" + lifecycleHR.Source() +
		fmt.Sprintf(adLifecycleTarget, dc.LDAPSURL(), dc.CAFile, dc.AdminDN, base) +
		testkit.DepartmentRoles("ad", []string{"crm"}, []string{"github"}) + strings.ReplaceAll(lifecyclePolicy, "%%", "%")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(config), 0o600))
	clock := testkit.NewClock("2026-03-02")
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Now: clock.Now, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	defer a.Close(context.Background())
	feed := lifecycleFeed(t, a, dir)

	// Grace already has an account, made by hand in the wrong OU, with a
	// password of her own: accord adopts it (correlated by
	// sAMAccountName), never makes a second, and never resets her
	// password.
	grace := "CN=Grace Hopper,OU=people," + base
	add(grace, map[string][]string{"objectClass": {"user"}, "sAMAccountName": {"acc-E3"}, "title": {"Old"}})
	own := "Her-own-Pa55word!"
	setup := goldap.NewModifyRequest(grace, nil)
	setup.Replace("unicodePwd", []string{string(ldap.EncodeUnicodePwd(own))})
	require.NoError(t, admin.Modify(setup))
	enable := goldap.NewModifyRequest(grace, nil)
	enable.Replace("userAccountControl", []string{"512"})
	require.NoError(t, admin.Modify(enable))
	graceGUID := bySAM("acc-E3").GetRawAttributeValue("objectGUID")

	// Joiners: created disabled, given a password, enabled, in groups.
	feed("E1,Ada,Lovelace,ada@example.test,Sales,Account Executive,2026-03-01,",
		"E2,Alan,Turing,alan@example.test,Engineering,Engineer,2026-03-01,2026-03-10",
		"E3,Grace,Hopper,grace@example.test,Engineering,Engineer,2026-03-01,")
	ada := bySAM("acc-E1")
	require.Equal(t, "CN=Ada Lovelace,OU=Sales,OU=people,"+base, ada.DN)
	require.Equal(t, "512", ada.GetAttributeValue("userAccountControl"))
	require.Equal(t, "0", ada.GetAttributeValue("pwdLastSet"), "a new password at first logon")
	require.Equal(t, "Account Executive", ada.GetAttributeValue("title"))
	require.Equal(t, []string{"all-staff", "crm"}, groups(ada))
	alan := bySAM("acc-E2")
	require.Equal(t, []string{"all-staff", "github"}, groups(alan))
	adopted := bySAM("acc-E3")
	require.Equal(t, graceGUID, adopted.GetRawAttributeValue("objectGUID"), "adopted, not created again")
	require.Equal(t, "CN=Grace Hopper,OU=Engineering,OU=people,"+base, adopted.DN, "moved where the DN template says")
	require.Equal(t, "Engineer", adopted.GetAttributeValue("title"))
	require.Equal(t, []string{"all-staff", "github"}, groups(adopted))
	userConn, err := goldap.DialURL(dc.LDAPSURL(), goldap.DialWithTLSConfig(dc.TLSConfig()))
	require.NoError(t, err)
	defer userConn.Close()
	require.NoError(t, userConn.Bind(adopted.DN, own), "her own password still works")

	// A mover: married name and another department: renamed and moved
	// to the other OU, the same entry, the groups following the role.
	feed("E1,Ada,King,ada@example.test,Engineering,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.test,Engineering,Engineer,2026-03-01,2026-03-10",
		"E3,Grace,Hopper,grace@example.test,Engineering,Engineer,2026-03-01,")
	moved := bySAM("acc-E1")
	require.Equal(t, "CN=Ada King,OU=Engineering,OU=people,"+base, moved.DN)
	require.Equal(t, ada.GetRawAttributeValue("objectGUID"), moved.GetRawAttributeValue("objectGUID"), "the same entry")
	require.Equal(t, "King", moved.GetAttributeValue("sn"))
	require.Equal(t, "Engineer", moved.GetAttributeValue("title"))
	require.Equal(t, []string{"all-staff", "github"}, groups(moved))

	// A leaver, on the end date: disabled, out of the groups, moved.
	clock.Set("2026-03-10")
	feed("E1,Ada,King,ada@example.test,Engineering,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.test,Engineering,Engineer,2026-03-01,2026-03-10",
		"E3,Grace,Hopper,grace@example.test,Engineering,Engineer,2026-03-01,")
	left := bySAM("acc-E2")
	require.Equal(t, "CN=Alan Turing,OU=leavers,"+base, left.DN)
	require.Equal(t, "514", left.GetAttributeValue("userAccountControl"))
	require.Empty(t, groups(left))

	// A rehire into Sales: the same entry, enabled and moved back.
	clock.Set("2026-03-20")
	feed("E1,Ada,King,ada@example.test,Engineering,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.test,Sales,Account Executive,2026-03-25,",
		"E3,Grace,Hopper,grace@example.test,Engineering,Engineer,2026-03-01,")
	back := bySAM("acc-E2")
	require.Equal(t, "CN=Alan Turing,OU=Sales,OU=people,"+base, back.DN)
	require.Equal(t, alan.GetRawAttributeValue("objectGUID"), back.GetRawAttributeValue("objectGUID"), "the same account, not a new one")
	require.Equal(t, "512", back.GetAttributeValue("userAccountControl"))
	require.Equal(t, []string{"all-staff", "crm"}, groups(back))
	require.Equal(t, 3, accounts(), "no duplicate account")
}
