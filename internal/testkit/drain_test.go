package testkit

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
)

// TestDrainProgress: a drain progresses when an action becomes final or a
// run finishes, not when actions only move between pending and running
// (a target that fails every attempt must still count as a hang).
func TestDrainProgress(t *testing.T) {
	run := func(c map[model.ActionState]int) model.Run { return model.Run{Counts: c} }
	before := progressOf([]model.Run{run(map[model.ActionState]int{model.ActionPending: 5, model.ActionSucceeded: 2}), run(nil)})
	require.Equal(t, before, progressOf([]model.Run{run(map[model.ActionState]int{model.ActionPending: 4, model.ActionRunning: 1, model.ActionSucceeded: 2}), run(nil)}))
	require.NotEqual(t, before, progressOf([]model.Run{run(map[model.ActionState]int{model.ActionPending: 4, model.ActionSucceeded: 2, model.ActionFailed: 1}), run(nil)}))
	require.NotEqual(t, before, progressOf([]model.Run{run(map[model.ActionState]int{model.ActionPending: 5, model.ActionSucceeded: 2})}))
}
