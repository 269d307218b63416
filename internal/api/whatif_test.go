package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// ops lists an answer's actions as "op entitlement,...".
func ops(t *testing.T, r response) []string {
	t.Helper()
	out := []string{}
	for _, a := range r.json(t)["actions"].([]any) {
		m := a.(map[string]any)
		s := m["op"].(string)
		for _, e := range m["entitlements"].([]any) {
			s += " " + e.(string)
		}
		out = append(out, s)
	}
	return out
}

// A targeted action with ?dry_run=true answers what it would do, through
// the same handler, and stores nothing: no run, no change to the person,
// nothing sent to the target.
func TestTargetedActionsDryRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	key := w.keys[api.ScopeAdmin]
	runsBefore, err := w.app.Store.ListRuns(ctx, store.RunQuery{})
	require.NoError(t, err)
	mark := w.simMark()

	r := w.do("POST", "/api/v1/persons/E1/entitlements/saas/crm/reenforce?dry_run=true", key, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, true, r.json(t)["dry_run"])
	require.Nil(t, r.json(t)["run"])
	require.Equal(t, []string{"grant crm"}, ops(t, r))
	require.Contains(t, r.json(t)["message"], "nothing was stored")

	r = w.do("POST", "/api/v1/persons/E1/entitlements/saas/github/reenforce?dry_run=true", key, nil)
	require.Equal(t, []string{"revoke github"}, ops(t, r), "not granted by policy: re-enforce revokes")

	r = w.do("POST", "/api/v1/persons/E1/end-employment?dry_run=true", key, map[string]any{"date": "2026-03-01"})
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Contains(t, ops(t, r), "disable_account", "a leaver is disabled")
	per, err := w.app.Store.GetPerson(ctx, "E1")
	require.NoError(t, err)
	require.True(t, per.End.IsZero(), "the person is unchanged")

	r = w.do("POST", "/api/v1/persons/E1/entitlements/saas/crm/unmanage?dry_run=true", key, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	um, err := w.app.Store.ListUnmanaged(ctx, "E1")
	require.NoError(t, err)
	require.Empty(t, um, "a dry run unmanages nothing")

	r = w.do("POST", "/api/v1/persons/E1/entitlements/saas/crm/manage?dry_run=true", key, nil)
	require.Equal(t, http.StatusNotFound, r.status, "crm is managed already")

	r = w.do("POST", "/api/v1/persons/E1/entitlements/saas/crm/reenforce?dry_run=maybe", key, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.text(), "dry_run")

	runsAfter, err := w.app.Store.ListRuns(ctx, store.RunQuery{})
	require.NoError(t, err)
	require.Len(t, runsAfter, len(runsBefore), "no run was stored")
	require.Empty(t, w.writesSince(mark), "nothing was sent to the target")

	// Unmanaged, then the what-if of managing it again plans the grant
	// back once the target lost it.
	r = w.do("POST", "/api/v1/persons/E1/entitlements/saas/crm/unmanage", key, map[string]any{"note": "test"})
	require.Equal(t, http.StatusOK, r.status, r.text())
	r = w.do("POST", "/api/v1/persons/E1/entitlements/saas/crm/manage?dry_run=true", key, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, true, r.json(t)["dry_run"])
}

// TestWhatIfNamesWhatDiscoveryAssumed: while the target's discovery has
// not answered, the API's what-ifs (the plan preview and a targeted
// action's dry run) name the target, why, and the shape it was planned
// in, as `accord plan` does; both answers fit openapi.json.
func TestWhatIfNamesWhatDiscoveryAssumed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{discoverWait: 200 * time.Millisecond, unplanned: true})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Path: "/scim/v2/ServiceProviderConfig",
		Delay: targetsim.Duration(20 * time.Second), Times: 1})
	require.NoError(t, err)
	key := w.keys[api.ScopeAdmin]
	requireAssumed := func(r response) {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, r.text())
		assumed, ok := r.json(t)["assumed"].([]any)
		require.True(t, ok, "assumed is a list: %s", r.text())
		require.Len(t, assumed, 1, r.text())
		as := assumed[0].(map[string]any)
		require.Equal(t, "saas", as["target"])
		require.Equal(t, "did not answer within 200ms", as["reason"])
		require.Contains(t, as["shape"], "attributes are not checked")
	}
	requireAssumed(w.do("GET", "/api/v1/plan?person=E1", key, nil))
	requireAssumed(w.do("POST", "/api/v1/persons/E1/end-employment?dry_run=true", key, map[string]any{"date": "2026-03-01"}))
	require.Len(t, w.sim.RequestsTo("GET", "/scim/v2/ServiceProviderConfig"), 1, "one discovery, still on its way")
}

// TestWhatIfAssumesNothingOnceDiscoveryAnswered: a target that answered
// its discovery is planned as it said; the plan preview's list is empty.
func TestWhatIfAssumesNothingOnceDiscoveryAnswered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.do("GET", "/api/v1/plan?person=E1", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, []any{}, r.json(t)["assumed"])
	r = w.do("POST", "/api/v1/persons/E1/end-employment?dry_run=true", w.keys[api.ScopeAdmin], map[string]any{"date": "2026-03-01"})
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.NotContains(t, r.json(t), "assumed")
}
