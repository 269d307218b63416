package recon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	_ "github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/testkit"
)

const deltaConfig = `
store:
  path: accord.db
%s
targets:
  - name: dir
    type: ldap
    connection:
      url: %s
      allow_plain: true
      bind_dn: %s
      bind_password: "${file:%s}"
      dn: "uid={{ uid }},ou=people,dc=example,dc=test"
      base: ou=people,dc=example,dc=test
      page_size: 4
      groups: {base: "ou=groups,dc=example,dc=test", by: cn}
    account:
      uid: "{{ lower(first_name) }}"
      cn: "{{ first_name }} {{ last_name }}"
      sn: "{{ last_name }}"
      employeeNumber: "{{ employee_id }}"
    reconcile:
      delta: true
      full_every: 3
      correlate: [{account: employeeNumber, person: key}]
policy:
  thresholds: {disables: "100%%"}
engine:
  poll: 20ms
  lease: 5s
`

// TestDeltaReconciliationReadsOnlyChanges: against a real OpenLDAP, the
// first reconciliation reads every account; the next reads only what
// changed since (and finds its drift, without calling the others
// missing); the full_every-th reads everything again, and only it sees an
// account deleted behind accord's back.
func TestDeltaReconciliationReadsOnlyChanges(t *testing.T) {
	sl := testkit.StartSlapd(t, testkit.SlapdOptions{})
	admin, err := goldap.DialURL(sl.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	require.NoError(t, admin.Bind(sl.AdminDN, sl.AdminPassword))

	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte(sl.AdminPassword), 0o600))
	hr := testkit.HR{}
	cfg := fmt.Sprintf(deltaConfig, hr.Source(), sl.URL, sl.AdminDN, pw)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(cfg), 0o600))
	var rows []string
	for i := range 10 {
		rows = append(rows, fmt.Sprintf("E%d,Name%c,Last%d,p%d@example.com,Sales,2026-01-01,", i, 'a'+i, i, i))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(hr.Header()+strings.Join(rows, "\n")+"\n"), 0o600))
	clock := testkit.NewClock("2026-03-02")
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Now: clock.Now, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	defer a.Close(context.Background())
	_, err = a.Import(context.Background(), "")
	require.NoError(t, err)
	run, _, err := a.Enforce(context.Background(), app.Filter{}, "test")
	require.NoError(t, err)
	require.NotNil(t, run)
	testkit.Drain(t, a, nil, 60*time.Second)

	env := &recon.Env{Store: a.Store, Config: a.Cfg, Policy: a.Policy, Conns: a.Conns, Now: a.Now, Log: a.Log, Owner: "test",
		Planner: func(ctx context.Context, target string) (*plan.Planner, error) {
			p, _, err := a.Planner(ctx, app.Filter{Target: target})
			return p, err
		}}
	day := 2
	reconcile := func() *recon.Result {
		t.Helper()
		day++
		clock.Set(fmt.Sprintf("2026-03-%02d", day))
		res, err := recon.Reconcile(context.Background(), env, "dir", recon.Options{})
		require.NoError(t, err)
		return res
	}

	first := reconcile()
	assert.False(t, first.Recon.Delta, "no watermark yet: a full read")
	assert.Equal(t, 10, first.Recon.Accounts)
	assert.Equal(t, 0, first.Total(), "%v", first.Counts)
	require.NotEmpty(t, first.Recon.Watermark)

	// Someone changes one account's sn behind accord's back.
	m := goldap.NewModifyRequest("uid=namec,ou=people,dc=example,dc=test", nil)
	m.Replace("sn", []string{"Tampered"})
	require.NoError(t, admin.Modify(m))

	second := reconcile()
	assert.True(t, second.Recon.Delta)
	assert.LessOrEqual(t, second.Recon.Accounts, 2, "the changed entry (and at most the watermark's own)")
	assert.GreaterOrEqual(t, second.Recon.Accounts, 1)
	assert.Equal(t, 1, second.Counts["attribute"], "the change is drift: %v", second.Counts)
	assert.Equal(t, 0, second.Counts["missing"], "unread accounts are not missing")
	assert.Greater(t, second.Recon.Watermark, first.Recon.Watermark)

	// An account deleted behind accord's back: a delta cannot see it...
	require.NoError(t, admin.Del(goldap.NewDelRequest("uid=named,ou=people,dc=example,dc=test", nil)))
	third := reconcile()
	assert.True(t, third.Recon.Delta)
	assert.Equal(t, 0, third.Counts["missing"])
	// ...the full one (every third) does.
	fourth := reconcile()
	assert.False(t, fourth.Recon.Delta)
	assert.Equal(t, 9, fourth.Recon.Accounts)
	assert.Equal(t, 1, fourth.Counts["missing"], "%v", fourth.Counts)
}
