package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/testkit"
)

// An answer about a run lists its first actions and counts the rest: a
// held initial load is millions of actions, and GET /runs/{id} (and
// approve, cancel) held them all in memory for one answer. The rest are
// paged from GET /actions?run=ID.
func TestRunAnswerListsTheFirstActionsAndCountsTheRest(t *testing.T) {
	w := newWorld(t, worldOptions{unplanned: true})
	now := w.app.Now()
	const n = api.RunActionsShown + 3
	run, jobs := testkit.HeldRun("big", "saas", "X", n, now)
	require.NoError(t, w.app.Store.CreateRun(context.Background(), &run, jobs))

	detail := w.admin("GET", "/api/v1/runs/big", nil, http.StatusOK).json(t)
	acts := detail["actions"].([]any)
	require.Len(t, acts, api.RunActionsShown, "the first actions are listed")
	require.EqualValues(t, 3, detail["actions_more"], "the rest are counted")
	require.Equal(t, "X00000", acts[0].(map[string]any)["person"], "the first by ID")

	// The rest are there, a page at a time.
	last := int64(acts[len(acts)-1].(map[string]any)["id"].(float64))
	page := w.admin("GET", fmt.Sprintf("/api/v1/actions?run=big&after=%d&limit=10", last), nil, http.StatusOK).json(t)
	require.Len(t, page["items"].([]any), 3)

	// A small run lists every action and counts none more.
	small, one := testkit.HeldRun("small", "saas", "Y", 1, now)
	require.NoError(t, w.app.Store.CreateRun(context.Background(), &small, one))
	got := w.admin("GET", "/api/v1/runs/small", nil, http.StatusOK).json(t)
	require.Len(t, got["actions"].([]any), 1)
	require.NotContains(t, got, "actions_more")
}
