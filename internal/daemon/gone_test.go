package daemon_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// TestAccountDeletedOnTheTargetIsPlannedAgainAtOnce: an update finds the
// account deleted behind accord's back. The action fails visibly, known
// state forgets the account, and the daemon plans the person again at
// once, so policy re-creates the account without waiting for the next
// scheduled run.
func TestAccountDeletedOnTheTargetIsPlannedAgainAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	u, ok := w.sim.SCIM().UserByName("ada@example.com")
	require.True(t, ok)
	require.NoError(t, w.sim.SCIM().DeleteUser(u.Str("id")))

	w.writeFeed("E1,Ada,Byron,ada@example.com,Sales,2026-01-01,", seedPersons[1])
	_, err := w.app.Import(context.Background(), "")
	require.NoError(t, err)
	run := w.waitRun(w.enforce("E1"))
	require.Equal(t, model.RunFailed, run.State, "the update found no account")

	// The follow-up run creates the account again, as policy wants it.
	var followUps []model.Run
	w.until("a follow-up run to succeed", func() bool {
		runs, err := w.app.Store.ListRuns(context.Background(), store.RunQuery{})
		require.NoError(t, err)
		followUps = followUps[:0]
		for _, r := range runs {
			if r.Trigger == "api:follow-up" {
				followUps = append(followUps, r)
			}
		}
		return len(followUps) > 0 && followUps[0].State.Final()
	})
	require.Len(t, followUps, 1, "planned again once")
	require.Equal(t, model.RunSucceeded, followUps[0].State)
	again, ok := w.sim.SCIM().UserByName("ada@example.com")
	require.True(t, ok, "re-created")
	require.NotEqual(t, u.Str("id"), again.Str("id"))
	require.Equal(t, "Byron", again.Str("name.familyName"))
}
