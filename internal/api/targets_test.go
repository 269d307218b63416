package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/pace"
)

// GET /api/v1/targets shows each target's pacing as the engine has it;
// POST /api/v1/targets/{name}/resume resumes it here and asks every
// other node through the store.
func TestTargetsListAndResume(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.do(http.MethodGet, "/api/v1/targets", w.keys[api.ScopeRead], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	var list struct {
		Targets []api.TargetView `json:"targets"`
	}
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Len(t, list.Targets, 1)
	got := list.Targets[0]
	require.Equal(t, "saas", got.Name)
	require.True(t, got.Running)
	require.Equal(t, pace.CircuitClosed, got.Circuit)
	require.Zero(t, got.Configured, "no rate_limit configured")
	require.Zero(t, got.RateLimit, "and no 429 seen: unlimited")
	require.Positive(t, got.Concurrency)

	require.Equal(t, http.StatusForbidden, w.do(http.MethodPost, "/api/v1/targets/saas/resume", w.keys[api.ScopeRead], nil).status)
	require.Equal(t, http.StatusNotFound, w.do(http.MethodPost, "/api/v1/targets/nope/resume", w.keys[api.ScopeActionsWrite], nil).status)
	r = w.do(http.MethodPost, "/api/v1/targets/saas/resume", w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Contains(t, r.json(t)["message"], "target saas resumed")
	asked, err := w.app.Store.(pace.Board).PaceResumes(context.Background())
	require.NoError(t, err)
	require.Contains(t, asked, "saas", "the other nodes are asked through the store")
}
