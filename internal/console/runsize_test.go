package console_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

// A run larger than an answer about a run lists (a held initial load is
// millions of actions): the page and the approval say the run's whole
// count, not the count of the actions listed, and say what the summary
// table counted.
func TestLargeRunPageCountsEveryAction(t *testing.T) {
	w := newWorld(t, worldOptions{})
	now := w.app.Now()
	const n = api.RunActionsShown + 7
	run, jobs := testkit.HeldRun("big", "saas", "X", n, now)
	run.Breaches = []model.Breach{{Scope: "overall", Op: model.OpDisable, Limit: "10", Max: 10, Planned: n}}
	require.NoError(t, w.app.Store.CreateRun(context.Background(), &run, jobs))

	c := w.client()
	c.signIn(w.keys[api.ScopeAdmin])
	p := c.get("/runs/big")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, fmt.Sprintf(`<th id="run-total">%d</th>`, n))
	require.Contains(t, p.body, fmt.Sprintf("this table counts the first %d by ID", api.RunActionsShown))
	p = c.get("/runs/big/approve")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, fmt.Sprintf("Yes, approve %d actions", n), "the approver is told the whole run")
}
