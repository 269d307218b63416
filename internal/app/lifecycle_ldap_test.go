package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	_ "github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

// ldapHR is the lifecycle's feed with a third department, which has no
// OU in the directory yet.
var ldapHR = testkit.HR{Columns: testkit.StandardColumns("title"), Departments: []string{"Sales", "Engineering", "Finance"}}

// ldapLifecycleTargets provisions a slapd: %s are its URL, the bind
// DN and the password file.
const ldapLifecycleTargets = `targets:
  - name: dir
    type: ldap
    connection:
      url: %s
      allow_plain: true
      bind_dn: %s
      bind_password: "${file:%s}"
      dn: "uid={{ uid }},ou={{ ou }},ou=people,dc=example,dc=test"
      base: ou=people,dc=example,dc=test
      object_classes: [inetOrgPerson]
      create_parents: true
      leaver: move
      leavers_base: ou=leavers,dc=example,dc=test
      groups: {base: "ou=groups,dc=example,dc=test", by: cn}
    account:
      uid: "{{ lower(first_name) }}.{{ lower(last_name) }}"
      cn: "{{ first_name }} {{ last_name }}"
      givenName: "{{ first_name }}"
      sn: "{{ last_name }}"
      mail: "{{ email }}"
      title: "{{ title }}"
      ou: "{{ department }}"
      employeeNumber: "{{ employee_id }}"
    birthright: [all-staff]
    lifecycle: {provision_days_before: 7, leaver: disable}
    retry: {max_attempts: 3, base: 10ms, max: 50ms}
`

// ldapEntry reads the one account with employeeNumber as the directory
// administrator, without the connector under test.
func ldapEntry(t *testing.T, conn *goldap.Conn, employee string) *goldap.Entry {
	t.Helper()
	res, err := conn.Search(goldap.NewSearchRequest("dc=example,dc=test", goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(employeeNumber="+employee+")", []string{"*", "entryUUID", "memberOf", "pwdAccountLockedTime"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1, "accounts of %s", employee)
	return res.Entries[0]
}

func ldapGroups(e *goldap.Entry) []string {
	var out []string
	for _, g := range e.GetAttributeValues("memberOf") {
		dn, _ := goldap.ParseDN(g)
		out = append(out, dn.RDNs[0].Attributes[0].Value)
	}
	slices.Sort(out)
	return out
}

// TestLifecycleOverLDAP runs joiner, mover (rename and OU move), leaver
// (locked and moved to the leavers OU) and rehire through accord's whole
// pipeline against a real OpenLDAP, and reads the outcome back as the
// directory's administrator.
func TestLifecycleOverLDAP(t *testing.T) {
	var groups strings.Builder
	for _, g := range []string{"all-staff", "crm", "github"} {
		fmt.Fprintf(&groups, "dn: cn=%s,ou=groups,dc=example,dc=test\nobjectClass: groupOfNames\ncn: %s\nmember: cn=admin,dc=example,dc=test\n\n", g, g)
	}
	sl := testkit.StartSlapd(t, testkit.SlapdOptions{UniqueUID: true, ExtraLDIF: groups.String()})
	admin, err := goldap.DialURL(sl.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	require.NoError(t, admin.Bind(sl.AdminDN, sl.AdminPassword))

	dir := t.TempDir()
	pw := filepath.Join(dir, "ldap-password")
	require.NoError(t, os.WriteFile(pw, []byte(sl.AdminPassword), 0o600))
	cfg := "\nstore:\n  path: accord.db\n" + ldapHR.Source() + fmt.Sprintf(ldapLifecycleTargets, sl.URL, sl.AdminDN, pw) +
		testkit.DepartmentRoles("dir", []string{"crm"}, []string{"github"}) + lifecyclePolicy
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(strings.ReplaceAll(cfg, "%%", "%")), 0o600))
	clock := testkit.NewClock("2026-03-02")
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Now: clock.Now, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	defer a.Close(context.Background())
	feed := func(rows ...string) {
		t.Helper()
		data := ldapHR.Header() + strings.Join(rows, "\n") + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(data), 0o600))
		_, err := a.Import(context.Background(), "")
		require.NoError(t, err)
		run, _, err := a.Enforce(context.Background(), app.Filter{}, "test")
		require.NoError(t, err)
		if run != nil {
			require.NotEqual(t, model.RunHeld, run.State)
			testkit.Drain(t, a, nil, 120*time.Second)
			r, err := a.Store.GetRun(context.Background(), run.ID)
			require.NoError(t, err)
			require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)
		}
	}

	// Joiners.
	feed("E1,Ada,Lovelace,ada@example.com,Sales,Account Executive,2026-03-01,",
		"E2,Alan,Turing,alan@example.com,Engineering,Engineer,2026-03-01,2026-03-10")
	ada := ldapEntry(t, admin, "E1")
	require.Equal(t, "uid=ada.lovelace,ou=Sales,ou=people,dc=example,dc=test", ada.DN)
	require.Equal(t, "Account Executive", ada.GetAttributeValue("title"))
	require.Equal(t, []string{"all-staff", "crm"}, ldapGroups(ada))
	alan := ldapEntry(t, admin, "E2")
	require.Equal(t, []string{"all-staff", "github"}, ldapGroups(alan))

	// A mover: a new name (renamed: modrdn) and department (moved to
	// another OU, made on the way), the same entry.
	feed("E1,Ada,King,ada@example.com,Finance,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.com,Engineering,Engineer,2026-03-01,2026-03-10")
	moved := ldapEntry(t, admin, "E1")
	require.Equal(t, "uid=ada.king,ou=Finance,ou=people,dc=example,dc=test", moved.DN)
	require.Equal(t, ada.GetAttributeValue("entryUUID"), moved.GetAttributeValue("entryUUID"), "renamed in place")
	require.Equal(t, []string{"ada.king"}, moved.GetAttributeValues("uid"))
	require.Equal(t, "King", moved.GetAttributeValue("sn"))
	require.Equal(t, []string{"all-staff"}, ldapGroups(moved), "no role for Finance")

	// A leaver, on the end date: locked, moved to the leavers OU, out of
	// every group.
	clock.Set("2026-03-10")
	feed("E1,Ada,King,ada@example.com,Finance,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.com,Engineering,Engineer,2026-03-01,2026-03-10")
	left := ldapEntry(t, admin, "E2")
	require.Equal(t, "uid=alan.turing,ou=leavers,dc=example,dc=test", left.DN)
	require.Equal(t, "000001010000Z", left.GetAttributeValue("pwdAccountLockedTime"))
	require.Empty(t, ldapGroups(left))

	// A rehire into Sales: the same entry, unlocked, back under people.
	clock.Set("2026-03-20")
	feed("E1,Ada,King,ada@example.com,Finance,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.com,Sales,Account Executive,2026-03-25,")
	back := ldapEntry(t, admin, "E2")
	require.Equal(t, alan.GetAttributeValue("entryUUID"), back.GetAttributeValue("entryUUID"), "the same account, not a new one")
	require.Equal(t, "uid=alan.turing,ou=Sales,ou=people,dc=example,dc=test", back.DN)
	require.Empty(t, back.GetAttributeValue("pwdAccountLockedTime"))
	require.Equal(t, "Account Executive", back.GetAttributeValue("title"))
	require.Equal(t, []string{"all-staff", "crm"}, ldapGroups(back))
}
