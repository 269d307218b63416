package recon_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
)

func TestNeutralise(t *testing.T) {
	cases := map[string]string{
		"=SUM(A1:A9)":       "'=SUM(A1:A9)",
		"+1":                "'+1",
		"-2+3":              "'-2+3",
		"@evil":             "'@evil",
		"\tx":               "'\tx",
		"\rx":               "'\rx",
		"plain":             "plain",
		"":                  "",
		"a=b":               "a=b",
		"ann@example.com":   "ann@example.com",
		"2026-01-01T00:00Z": "2026-01-01T00:00Z",
	}
	for in, want := range cases {
		require.Equal(t, want, recon.Neutralise(in), "%q", in)
	}
}

func readCSV(t *testing.T, b []byte) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// TestAccessReport: who has what, granted by which role, since when,
// verified when; exported as CSV with formula injection neutralised.
func TestAccessReport(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: convergeMost})
	w.scim.createGroup("=SUM(1,2)")
	w.feed(staff[:2]...)
	w.enforce()
	w.scim.addMember("=SUM(1,2)", "bob@example.com")
	w.reconcile(recon.Options{})
	ctx := context.Background()

	var rows []recon.AccessRow
	require.NoError(t, recon.AccessReport(ctx, w.env(), recon.AccessFilter{Person: "E1"}, func(r recon.AccessRow) error {
		rows = append(rows, r)
		return nil
	}))
	require.Len(t, rows, 2)
	crm := rows[1]
	require.Equal(t, "crm", crm.Entitlement)
	require.Equal(t, []string{"sales"}, crm.Roles)
	require.Equal(t, "yes", crm.OnTarget)
	require.True(t, crm.Known)
	require.NotNil(t, crm.Since)
	require.NotEmpty(t, crm.RunID, "granted by accord's run")
	require.NotNil(t, crm.VerifiedAt)
	require.False(t, crm.VerifiedAt.Before(*crm.Since))
	require.Equal(t, []string{"(birthright)"}, rows[0].Roles)

	var buf bytes.Buffer
	require.NoError(t, recon.WriteAccessCSV(ctx, &buf, w.env(), recon.AccessFilter{Target: "saas"}))
	got := readCSV(t, buf.Bytes())
	require.Len(t, got, 5, "ann: all-staff, crm; bob: the extra, all-staff, github")
	extra := got[2]
	require.Equal(t, "E2", extra["person"])
	require.Equal(t, `'=SUM(1,2)`, extra["entitlement"], "neutralised")
	require.Equal(t, "", extra["granted_by_roles"])
	require.Equal(t, "no", extra["known_to_accord"])
	require.Equal(t, "yes", extra["on_target"])
	require.NotEmpty(t, extra["since"], "first seen by reconciliation")
	require.Empty(t, extra["granted_by_run"])

	buf.Reset()
	require.NoError(t, recon.WriteDriftCSV(ctx, &buf, w.app.Store, store.DriftQuery{Target: "saas"}))
	drift := readCSV(t, buf.Bytes())
	require.Len(t, drift, 1)
	require.Equal(t, "extra_entitlement", drift[0]["class"])
	require.Equal(t, `'=SUM(1,2)`, drift[0]["subject"])
}
