package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/targetsim"
)

// GET /api/v1/actions?failed=true lists the failures still standing, as
// `accord actions list --failed` does: a grant the target refused once
// stands until a later run grants the same entitlement, then it is
// history (still listed by state=failed).
func TestListActionsFailedShowsFailuresStillStanding(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Status: http.StatusForbidden, Method: "PATCH",
		Path: w.groupPath("crm"), Times: 1})
	require.NoError(t, err)
	require.NoError(t, w.sim.SCIM().RemoveMember(w.groupID("crm"), w.account("E1").NativeID))
	r := w.admin("POST", "/api/v1/persons/E1/entitlements/saas/crm/reenforce", nil, http.StatusCreated)
	require.Equal(t, "failed", string(w.waitRun(r.runID()).State))

	items := func(query string) []any {
		t.Helper()
		return w.admin("GET", "/api/v1/actions?"+query, nil, http.StatusOK).json(t)["items"].([]any)
	}
	standing := items("failed=true&person=E1")
	require.Len(t, standing, 1, "the refused grant stands")
	require.Equal(t, "failed", standing[0].(map[string]any)["state"])
	require.Equal(t, "forbidden", standing[0].(map[string]any)["error"].(map[string]any)["kind"])
	require.Empty(t, items("failed=true&person=E2"), "the filters combine")

	// A later run grants it: the failure is made good.
	r = w.admin("POST", "/api/v1/persons/E1/entitlements/saas/crm/reenforce", nil, http.StatusCreated)
	require.Equal(t, "succeeded", string(w.waitRun(r.runID()).State))
	require.True(t, w.isMember(w.groupID("crm"), w.account("E1").NativeID))
	require.Empty(t, items("failed=true"), "made good by the later grant")
	require.Len(t, items("state=failed"), 1, "every failure is still there to see")
	require.Len(t, items("failed=false&state=failed"), 1)

	bad := w.do("GET", "/api/v1/actions?failed=yes", w.keys[api.ScopeRead], nil)
	require.Equal(t, http.StatusBadRequest, bad.status, bad.text())
	require.Contains(t, bad.text(), "failed")
}
