package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
)

// TestFeedDropUnderScheduleHoldsOneRunAndAlertsOnce drives the daemon's
// schedule (import, then enforce) twelve times, a minute of 5 s cycles,
// after HR's feed lost 60% of its persons: one held run and one alert, not
// one per cycle. A different plan then supersedes it, alerts once more,
// and the superseded run cannot be approved.
func TestFeedDropUnderScheduleHoldsOneRunAndAlertsOnce(t *testing.T) {
	w := newWorld(t, "10%")
	var rows []string
	for i := range 20 {
		rows = append(rows, fmt.Sprintf("E%d,P,N%d,p%d@example.com,Sales,employee,2026-01-01,", i, i, i))
	}
	w.feed(rows...)
	w.enforce()
	require.Len(t, w.target.Accounts(), 20)

	var mu sync.Mutex
	var alerts []notify.Event
	w.app.Notifier = notify.Func(func(_ context.Context, ev notify.Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Kind == notify.RunHeld {
			alerts = append(alerts, ev)
		}
	})
	cycle := func(feed []string) *model.Run {
		t.Helper()
		w.feed(feed...)
		run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "serve:schedule")
		require.NoError(t, err)
		require.NotNil(t, run)
		require.Equal(t, model.RunHeld, run.State)
		return run
	}
	first := cycle(rows[:8]) // 12 of 20 leave: 60%
	for range 11 {
		require.Equal(t, first.ID, cycle(rows[:8]).ID, "the same plan answers with the open held run")
	}
	runs, err := w.app.Store.ListRuns(context.Background(), store.RunQuery{States: []model.RunState{model.RunHeld, model.RunCancelled}})
	require.NoError(t, err)
	require.Len(t, runs, 1, "one held run, no stale copies")
	require.Len(t, alerts, 1, "one alert")
	require.Equal(t, first.ID, alerts[0].RunID)

	second := cycle(rows[:4]) // a different plan: 16 leave
	require.NotEqual(t, first.ID, second.ID)
	require.Len(t, alerts, 2)
	old, err := w.app.Store.GetRun(context.Background(), first.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunCancelled, old.State)
	err = w.app.Approve(context.Background(), first.ID, "ann")
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorContains(t, err, "superseded by "+second.ID)
	held, err := w.app.Store.ListRuns(context.Background(), store.RunQuery{States: []model.RunState{model.RunHeld}})
	require.NoError(t, err)
	require.Len(t, held, 1, "one open held run per scope")
}
