package console_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/model"
)

// TestPersonPageComparesEntitlementNamesAsTheTargetDoes: the target holds
// crm spelled CRM (known state, as a reconciliation links it or as it was
// granted before the policy's spelling changed). On a target that takes
// names differing only in case for one (entitlements_case: insensitive,
// as a directory does), the person page shows one row, wanted and held,
// as the planner sees it; unmanaged in a third spelling, it is that same
// row, and its Manage button names the spelling it was unmanaged as. On a
// target that tells case apart, crm is missing and CRM is extra.
func TestPersonPageComparesEntitlementNamesAsTheTargetDoes(t *testing.T) {
	t.Parallel()
	for _, setting := range []string{"insensitive", "sensitive"} {
		t.Run(setting, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{enforce: true, connection: "\n      entitlements_case: " + setting})
			require.NoError(t, w.app.Store.ApplyAccountChanges(context.Background(), []model.AccountChange{{
				Target: "saas", PersonKey: "E1", Revoke: []string{"crm"}, Grant: []string{"CRM"}, At: w.app.Now()}}))
			c := w.client()
			csrf := c.signIn(w.keys[api.ScopeAdmin])
			p := c.get("/persons/E1")
			require.Equal(t, http.StatusOK, p.status, p.body)
			if setting == "sensitive" {
				require.Contains(t, p.body, `id="ent-saas-crm"`)
				require.Contains(t, p.body, `id="ent-saas-CRM"`)
				require.Contains(t, p.body, `class="drift-missing"`)
				require.Contains(t, p.body, `class="drift-extra"`)
				return
			}
			require.Contains(t, p.body, `id="ent-saas-crm"`)
			require.NotContains(t, p.body, `id="ent-saas-CRM"`, "one row for crm and CRM")
			require.Contains(t, p.body, `also as <code>CRM</code>`)
			require.NotContains(t, p.body, `class="drift-missing"`)
			require.NotContains(t, p.body, `class="drift-extra"`)

			p = c.do("POST", "/persons/E1/unmanage", url.Values{"csrf": {csrf}, "target": {"saas"}, "entitlement": {"Crm"}, "note": {"kept by hand"}})
			require.Equal(t, http.StatusSeeOther, p.status, p.body)
			p = c.get("/persons/E1")
			require.NotContains(t, p.body, `id="ent-saas-Crm"`)
			require.Contains(t, p.body, `also as <code>CRM</code>, <code>Crm</code>`)
			require.Contains(t, p.body, `class="drift-unmanaged"`)
			require.Contains(t, p.body, "unmanaged by apikey:key-admin since 2026-03-02: kept by hand")
			require.Contains(t, p.body, `href="/persons/E1/manage?entitlement=Crm&amp;target=saas"`, "manage finds it by the spelling it was unmanaged as")
			p = c.do("POST", "/persons/E1/manage", url.Values{"csrf": {csrf}, "target": {"saas"}, "entitlement": {"Crm"}})
			require.Equal(t, http.StatusSeeOther, p.status, p.body)
			require.NotContains(t, c.get("/persons/E1").body, `class="drift-unmanaged"`)
		})
	}
}
