package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
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
	forEachNameCase(t, func(t *testing.T, w *world, fold bool) {
		// Known state holds crm as the target spells it (linked by a
		// reconciliation, or granted before the policy's spelling
		// changed).
		require.NoError(t, w.app.Store.ApplyAccountChanges(context.Background(), []model.AccountChange{{
			Target: "saas", PersonKey: "E1", Revoke: []string{"crm"}, Grant: []string{"CRM"}, At: w.app.Now()}}))
		// An operator unmanages it in yet another spelling.
		w.act("/api/v1/persons/E1/entitlements/saas/Crm/unmanage", map[string]string{"note": "kept by hand"}, http.StatusOK)

		view := w.admin("GET", "/api/v1/persons/E1", nil, http.StatusOK).json(t)
		ts := view["targets"].([]any)[0].(map[string]any)
		require.Equal(t, fold, ts["entitlements_fold_case"])
		require.Equal(t, map[string]bool{"all-staff": false, "crm": fold, "sales-drive": false},
			unmanagedFlags(ts["desired"].(map[string]any)["entitlements"]), "wanted")
		require.Equal(t, map[string]bool{"all-staff": false, "CRM": fold, "sales-drive": false},
			unmanagedFlags(ts["account"].(map[string]any)["entitlements"]), "held")

		plan := w.admin("GET", "/api/v1/plan?person=E1", nil, http.StatusOK).json(t)
		desired := plan["desired"].([]any)[0].(map[string]any)
		require.Equal(t, map[string]bool{"all-staff": false, "crm": fold, "sales-drive": false},
			unmanagedFlags(desired["entitlements"]), "wanted, in the plan")
	})
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

// TestManageAndUnmanageCompareNamesAsTheTargetDoes: on a target that
// folds case, unmanaging an entitlement in another spelling refreshes the
// record already kept, not a second one, and managing it in any spelling
// (its what-if too) makes it managed again in every spelling recorded. On
// a target that tells case apart, another spelling is another
// entitlement.
func TestManageAndUnmanageCompareNamesAsTheTargetDoes(t *testing.T) {
	forEachNameCase(t, func(t *testing.T, w *world, fold bool) {
		ctx := context.Background()
		spellings := func() map[string]string {
			um, err := w.app.Store.ListUnmanaged(ctx, "E1")
			require.NoError(t, err)
			out := map[string]string{}
			for _, u := range um {
				out[u.Entitlement] = u.Note
			}
			return out
		}
		w.act("/api/v1/persons/E1/entitlements/saas/sales-drive/unmanage", map[string]string{"note": "first"}, http.StatusOK)
		r, _ := w.act("/api/v1/persons/E1/entitlements/saas/Sales-Drive/unmanage", map[string]string{"note": "second"}, http.StatusOK)
		manageOther := w.do("POST", "/api/v1/persons/E1/entitlements/saas/SALES-DRIVE/manage?dry_run=true", w.keys[api.ScopeActionsWrite], nil)
		if !fold {
			require.Equal(t, map[string]string{"sales-drive": "first", "Sales-Drive": "second"}, spellings(), "two entitlements")
			require.Equal(t, http.StatusNotFound, manageOther.status, manageOther.text())
			return
		}
		require.Equal(t, map[string]string{"sales-drive": "second"}, spellings(), "one record, refreshed")
		require.Contains(t, r.text(), "entitlement sales-drive of person E1")
		require.Equal(t, http.StatusOK, manageOther.status, manageOther.text())

		// A record kept twice (before names were compared so) is
		// managed again whole.
		require.NoError(t, w.app.Store.SetUnmanaged(ctx, store.Unmanaged{PersonKey: "E1", Target: "saas",
			Entitlement: "SALES-drive", Actor: "test", Note: "old", At: w.app.Now()}))
		require.Len(t, spellings(), 2)
		m := w.do("POST", "/api/v1/persons/E1/entitlements/saas/Sales-DRIVE/manage", w.keys[api.ScopeActionsWrite], nil)
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, m.status, m.text())
		require.Empty(t, spellings(), "managed in every spelling")
		m = w.do("POST", "/api/v1/persons/E1/entitlements/saas/sales-drive/manage", w.keys[api.ScopeActionsWrite], nil)
		require.Equal(t, http.StatusNotFound, m.status, m.text())
	})
}

// forEachNameCase runs fn, in parallel, in a world whose target folds
// the case of entitlement names (fold) and in one whose target does not.
func forEachNameCase(t *testing.T, fn func(t *testing.T, w *world, fold bool)) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		fold    bool
	}{{"insensitive", true}, {"sensitive", false}} {
		t.Run(tc.setting, func(t *testing.T) {
			t.Parallel()
			fn(t, newWorld(t, worldOptions{connection: "\n      entitlements_case: " + tc.setting}), tc.fold)
		})
	}
}
