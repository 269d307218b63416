package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// TestAccountDeletedOnTheTargetIsPlannedAgainAtOnce: an update finds the
// account deleted behind accord's back. The action fails visibly, known
// state forgets the account, and the person is planned again at once, so
// policy re-creates the account without waiting for the next scheduled
// run.
func TestAccountDeletedOnTheTargetIsPlannedAgainAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	key := w.keys[api.ScopePersonsWrite]
	r := w.do("POST", "/api/v1/persons", key, map[string]any{"attributes": record(nil)})
	require.Equal(t, http.StatusCreated, r.status, r.text())
	w.waitRun(r.runID())
	u, ok := w.sim.SCIM().UserByName("katherine@example.com")
	require.True(t, ok)
	require.NoError(t, w.sim.SCIM().DeleteUser(u.Str("id")))

	from := w.events.mark()
	r = w.do("PUT", "/api/v1/persons/E7", key, map[string]any{"source": "hr", "attributes": record(map[string]any{"last_name": "Goble"})})
	require.Equal(t, http.StatusOK, r.status, r.text())
	run := w.waitRun(r.runID())
	require.Equal(t, model.RunFailed, run.State, "the update found no account")

	// The follow-up run creates the account again, as policy wants it.
	w.events.waitFor(t, from, func(ev engine.Event) bool {
		return ev.Type == engine.EventAction && ev.Outcome == "succeeded" && ev.Action.Op == model.OpCreate && ev.Action.PersonKey == "E7"
	})
	again, ok := w.sim.SCIM().UserByName("katherine@example.com")
	require.True(t, ok, "re-created")
	require.NotEqual(t, u.Str("id"), again.Str("id"))
	require.Equal(t, "Goble", again.Str("name.familyName"))
	runs, err := w.app.Store.ListRuns(context.Background(), store.RunQuery{})
	require.NoError(t, err)
	triggers := map[string]int{}
	for _, r := range runs {
		triggers[r.Trigger]++
	}
	require.Equal(t, 1, triggers["api:follow-up"], "planned again once: %v", triggers)
}
