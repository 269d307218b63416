package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
)

// TestQuotaHeadersPaceTheTarget: a target that announces its quota in
// every answer, and refuses with a 429 naming only the reset, is never
// sent a request it announced it would refuse. One request at a time,
// accord holds as soon as an answer says the window is spent, so no 429
// comes back at all. With several in flight, only requests already on
// their way when the window ran out can be refused.
func TestQuotaHeadersPaceTheTarget(t *testing.T) {
	const persons, limit = 12, 20
	for _, c := range []struct {
		name        string
		style       targetsim.QuotaStyle
		concurrency int
		grace       time.Duration
	}{
		{"one at a time, Unix reset", targetsim.QuotaXRateLimit, 1, 0},
		{"four in flight, RateLimit field", targetsim.QuotaRateLimitField, 4, 250 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newSimWorld(t, persons, c.concurrency, targetsim.Options{InFlightGrace: c.grace,
				Quota: &targetsim.Quota{Limit: limit, Window: time.Second, Style: c.style}})
			run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "test")
			require.NoError(t, err)
			w.runUntilDone(nil)
			r, err := w.app.Store.GetRun(context.Background(), run.ID)
			require.NoError(t, err)
			require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)
			w.checkTarget(persons)

			st := w.sim.Stats()
			require.Empty(t, w.sim.Violations(), "no request after the target said the window was spent")
			windows := int(st.Requests)/limit + 1
			require.Greater(t, windows, 2, "the run spans several windows")
			refused := int(st.ByStatus[429])
			if c.concurrency == 1 {
				require.Zero(t, refused, "accord held before the target had to refuse")
			} else {
				require.LessOrEqual(t, refused, (c.concurrency-1)*windows, "only requests in flight are refused")
			}
			t.Logf("%d requests over %d windows, %d refused", st.Requests, windows, refused)
		})
	}
}
