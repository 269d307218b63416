package console_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/model"
)

// A run larger than an answer about a run lists (a held initial load is
// millions of actions): the page and the approval say the run's whole
// count, not the count of the actions listed, and say what the summary
// table counted.
func TestLargeRunPageCountsEveryAction(t *testing.T) {
	w := newWorld(t, worldOptions{})
	now := w.app.Now()
	const n = api.RunActionsShown + 7
	run := model.Run{ID: "big", Trigger: "test", Scope: "test big", State: model.RunHeld, CreatedAt: now, UpdatedAt: now,
		Breaches: []model.Breach{{Scope: "overall", Op: model.OpDisable, Limit: "10", Max: 10, Planned: n}}}
	jobs := make([]model.Job, n)
	for i := range jobs {
		key := fmt.Sprintf("X%05d", i)
		jobs[i] = model.Job{RunID: run.ID, PersonKey: key, Target: "saas", State: model.JobPending, Actions: []model.Action{{
			RunID: run.ID, Seq: 1, PersonKey: key, Target: "saas", Op: model.OpDisable, Reason: "test",
			State: model.ActionPending, CreatedAt: now, UpdatedAt: now,
		}}}
	}
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
