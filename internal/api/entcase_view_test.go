package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
)

// TestPersonViewComparesEntitlementNamesAsTheTargetDoes: on a target that
// takes names differing only in case for one entitlement
// (entitlements_case: insensitive, as a directory does), an entitlement
// unmanaged in one spelling is unmanaged in every other, wanted or held,
// in the person's view and in their plan, as the planner leaves it alone
// in every spelling; and the view says that the target folds case, so
// that a client (the console) compares as it does. On a target that tells
// case apart, another spelling is another entitlement.
func TestPersonViewComparesEntitlementNamesAsTheTargetDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		fold    bool
	}{{"insensitive", true}, {"sensitive", false}} {
		t.Run(tc.setting, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{connection: "\n      entitlements_case: " + tc.setting})
			// Known state holds crm as the target spells it (linked by a
			// reconciliation, or granted before the policy's spelling
			// changed).
			require.NoError(t, w.app.Store.ApplyAccountChanges(context.Background(), []model.AccountChange{{
				Target: "saas", PersonKey: "E1", Revoke: []string{"crm"}, Grant: []string{"CRM"}, At: w.app.Now()}}))
			// An operator unmanages it in yet another spelling.
			w.act("/api/v1/persons/E1/entitlements/saas/Crm/unmanage", map[string]string{"note": "kept by hand"}, http.StatusOK)

			view := w.admin("GET", "/api/v1/persons/E1", nil, http.StatusOK).json(t)
			ts := view["targets"].([]any)[0].(map[string]any)
			require.Equal(t, tc.fold, ts["entitlements_fold_case"])
			require.Equal(t, map[string]bool{"all-staff": false, "crm": tc.fold, "sales-drive": false},
				unmanagedFlags(ts["desired"].(map[string]any)["entitlements"]), "wanted")
			require.Equal(t, map[string]bool{"all-staff": false, "CRM": tc.fold, "sales-drive": false},
				unmanagedFlags(ts["account"].(map[string]any)["entitlements"]), "held")

			plan := w.admin("GET", "/api/v1/plan?person=E1", nil, http.StatusOK).json(t)
			desired := plan["desired"].([]any)[0].(map[string]any)
			require.Equal(t, map[string]bool{"all-staff": false, "crm": tc.fold, "sales-drive": false},
				unmanagedFlags(desired["entitlements"]), "wanted, in the plan")
		})
	}
}

// unmanagedFlags maps each entitlement of a view's list to its unmanaged
// flag.
func unmanagedFlags(list any) map[string]bool {
	out := map[string]bool{}
	for _, e := range list.([]any) {
		m := e.(map[string]any)
		out[m["entitlement"].(string)] = m["unmanaged"].(bool)
	}
	return out
}
