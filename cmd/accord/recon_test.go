package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReconcileCommands: an account made by hand on the target is found
// by 'accord reconcile' (dry run first, which records nothing), listed by
// 'accord drift', and the access report exports as CSV.
func TestReconcileCommands(t *testing.T) {
	w := newE2E(t, 3, 2)
	code, out := accord(t, w.dir, "enforce", "--import", "--wait", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	_, err := w.sim.SCIM().CreateUser("=cmd|' /C calc'!A0", map[string]any{"active": true})
	require.NoError(t, err)

	code, out = accord(t, w.dir, "reconcile", "--dry-run", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "saas reconciled [dry run: nothing changed]: 4 accounts")
	require.Regexp(t, `orphan\s+1`, out)
	code, out = accord(t, w.dir, "drift", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "no drift")

	code, out = accord(t, w.dir, "reconcile", "--target", "saas", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "reading accounts")
	require.Regexp(t, `orphan\s+1`, out)
	require.NotContains(t, out, "queued", "report only")

	code, out = accord(t, w.dir, "drift", "--csv", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	require.True(t, strings.HasPrefix(lines[0], "id,target,class,"))
	require.Contains(t, lines[1], `,saas,orphan,`)
	require.Contains(t, lines[1], `'=cmd|' /C calc'!A0`, "neutralised for spreadsheets")

	code, out = accord(t, w.dir, "drift", "--json", "--class", "orphan", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"class":"orphan"`)
	code, _ = accord(t, w.dir, "drift", "--class", "nonsense", "-c", "accord.yaml")
	require.Equal(t, 2, code)

	code, out = accord(t, w.dir, "access-report", "--person", "E0000", "--csv", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "person,target,native_id,account_state,entitlement,granted_by_roles")
	require.Contains(t, out, "E0000,saas,")
	require.Contains(t, out, ",crm,sales,no,")
	require.Contains(t, out, ",yes,yes\n", "verified on the target and known")

	code, out = accord(t, w.dir, "reconcile", "--target", "nope", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, `no target named "nope"`)
}
