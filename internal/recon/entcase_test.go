package recon_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
)

// The policy grants "crm"; the SCIM target's group is "CRM" (the
// simulator, like RFC 7643, matches displayName without case, so the
// grant reaches it, and the User shows "CRM"). On a target configured
// entitlements_case: insensitive the grant is verified, reconciliation
// finds no drift and a second plan is empty; on one that tells case
// apart, the grant of "crm" is never verified (so not known) and "CRM"
// is reported as an extra entitlement.
func TestReconcileCaseOnlyDifference(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		drift   []store.Drift
	}{
		{"insensitive", nil},
		{"sensitive", []store.Drift{
			{Class: config.DriftExtraEntitlement, PersonKey: "E1", Subject: "CRM", Expected: "absent", Actual: "granted", Action: "report"},
		}},
	} {
		t.Run(tc.setting, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOpts{drift: convergeMost, quirks: "\n      entitlements_case: " + tc.setting})
			g := w.scim.find("Groups", "displayName", "crm")
			require.NotNil(t, g)
			w.scim.do("PATCH", "/Groups/"+g["id"].(string), patchOp("replace", "displayName", "CRM"))
			w.feed(staff[:1]...)
			w.enforce()
			var shown []string
			for _, x := range w.scim.user("ann@example.com")["groups"].([]any) {
				shown = append(shown, x.(map[string]any)["display"].(string))
			}
			require.Contains(t, shown, "CRM", "the grant of crm reached CRM, and the User shows the group's spelling")

			w.reconcile(recon.Options{})
			var got []store.Drift
			for _, d := range w.drift(store.DriftQuery{Target: "saas"}) {
				got = append(got, pick(d))
			}
			require.ElementsMatch(t, tc.drift, got)
			if tc.drift == nil {
				require.Nil(t, w.enforce(), "a second plan is empty")
				require.Equal(t, []string{"all-staff", "crm"}, w.known("E1").Entitlements, "known state keeps the policy's spelling")
				var rows []recon.AccessRow
				require.NoError(t, recon.AccessReport(context.Background(), w.env(), recon.AccessFilter{Person: "E1"}, func(r recon.AccessRow) error {
					rows = append(rows, r)
					return nil
				}))
				require.Len(t, rows, 2, "one access row for crm/CRM, not two")
				require.Equal(t, "crm", rows[1].Entitlement)
				require.True(t, rows[1].Known)
				require.Equal(t, "yes", rows[1].OnTarget)
				require.Equal(t, []string{"sales"}, rows[1].Roles)
			}
		})
	}
}
