package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/targetsim"
)

// TestActionsListFailedShowsFailuresStillStanding: a create the target
// refused once and a later run carried out is history, not work: `actions
// list --failed` leaves it out, and `--state failed` still lists it.
func TestActionsListFailedShowsFailuresStillStanding(t *testing.T) {
	w := newE2E(t, 2, 1)
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "POST", Path: "/scim/v2/Users", Status: 400, Times: 1,
		Body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": "try again later"}`})
	require.NoError(t, err)
	code, out := accord(t, w.dir, "enforce", "--import", "--wait", "-c", "accord.yaml")
	require.NotEqual(t, 0, code, out)

	list := func(args ...string) []map[string]any {
		t.Helper()
		code, out := accord(t, w.dir, append([]string{"actions", "list", "--json", "-c", "accord.yaml"}, args...)...)
		require.Equal(t, 0, code, out)
		var views []map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &views), out)
		return views
	}
	require.Len(t, list("--failed"), 1, "the refused create stands")

	code, out = accord(t, w.dir, "enforce", "--wait", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Empty(t, list("--failed"), "made good by the later create")
	failed := list("--state", "failed")
	require.Len(t, failed, 1, "every failure is still there to see")
	require.Equal(t, "create_account", failed[0]["op"])
}
