package daemon

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGoneFollowUpIsOncePerSchedule(t *testing.T) {
	f := newFollowUp()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	every := 15 * time.Minute
	require.True(t, f.goneOnce("E1", t0, every))
	require.False(t, f.goneOnce("E1", t0.Add(time.Minute), every), "a target that keeps losing the account gets no run per engine cycle")
	require.True(t, f.goneOnce("E2", t0.Add(time.Minute), every), "per person")
	require.True(t, f.goneOnce("E1", t0.Add(every), every), "again after a schedule's time")
	require.True(t, f.goneOnce("E3", t0.Add(3*every), every))
	require.Len(t, f.gone, 1, "spent entries are dropped")
}
