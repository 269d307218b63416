package recon_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/recon"
)

// TestConvergeLeavesBusyPairsAlone: drift of a person whose account has
// unfinished work in an executable run is reported but not fixed while
// that run is open (two runs never race on one account), and is fixed by
// the reconciliation after it is done.
func TestConvergeLeavesBusyPairsAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, worldOpts{drift: convergeMost})
	w.feed(staff[:2]...)
	w.enforce()
	w.scim.setUser("bob@example.com", "title", "Boss")
	live := model.Run{ID: "live", State: model.RunPending}
	require.NoError(t, w.app.Store.CreateRun(ctx, &live, []model.Job{{PersonKey: "E2", Target: "saas",
		Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}}}))

	res := w.reconcile(recon.Options{})
	require.Equal(t, map[string]int{config.DriftAttribute: 1}, classes(res))
	require.Nil(t, res.Run, "the only fix is for a busy pair")

	require.NoError(t, w.app.Store.SetRunState(ctx, "live", []model.RunState{model.RunPending}, model.RunCancelled, "test", w.app.Now()))
	res = w.reconcile(recon.Options{})
	require.Equal(t, map[string]int{config.DriftAttribute: 1}, classes(res))
	require.NotNil(t, res.Run, "free again: the fix is planned")
}
