package daemon_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/targetsim"
)

// failCreate has the simulator refuse the next account creation as
// invalid: an action that fails for good, not retried.
func (w *world) failCreate() {
	w.t.Helper()
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Status: http.StatusBadRequest, Method: "POST",
		Pattern: "/scim/v2/Users", Times: 1})
	require.NoError(w.t, err)
}

// TestIncidentIsAlertedOncePerEntry: the daemon's monitor alerts when a
// target enters incident, not again while it stays there however often
// health is judged, and again when it enters anew.
func TestIncidentIsAlertedOncePerEntry(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{healthEvery: "20ms"})
	incidents := func() int { return len(w.alerts.Of(notify.TargetIncident)) }
	hv, err := w.d.Health(context.Background())
	require.NoError(t, err)
	require.Equal(t, daemon.StatusHealthy, hv.Status, "%+v", hv)
	require.Zero(t, incidents())

	// One failure among a handful of attempts: under 95%.
	w.failCreate()
	w.writeFeed(append(seedPersons, "E3,Grace,Hopper,grace@example.com,Finance,2026-01-01,")...)
	_, err = w.app.Import(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, model.RunFailed, w.waitRun(w.enforce("E3")).State)

	// The monitor finds it on its own.
	w.until("an incident alert", func() bool { return incidents() > 0 })
	ev := w.alerts.Of(notify.TargetIncident)[0]
	require.Equal(t, "saas", ev.Target)
	require.Contains(t, ev.Message, "target saas is in incident")
	for range 3 {
		hv, err = w.d.Health(context.Background())
		require.NoError(t, err)
		require.Equal(t, daemon.StatusIncident, hv.Targets[0].Status)
		require.Equal(t, 1, hv.Targets[0].LastHour.Failed)
	}
	require.Equal(t, 1, incidents(), "one alert per incident")

	// Two days on, nothing to judge by: healthy. A new failure is a new
	// incident.
	w.clock.Set("2026-03-04")
	hv, err = w.d.Health(context.Background())
	require.NoError(t, err)
	require.Equal(t, daemon.StatusHealthy, hv.Targets[0].Status, hv.Targets[0].Reason)
	w.failCreate()
	w.writeFeed(append(seedPersons, "E3,Grace,Hopper,grace@example.com,Finance,2026-01-01,",
		"E4,Edsger,Dijkstra,edsger@example.com,Finance,2026-01-01,")...)
	_, err = w.app.Import(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, model.RunFailed, w.waitRun(w.enforce("E4")).State)
	w.until("a second incident alert", func() bool { return incidents() > 1 })
	_, err = w.d.Health(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, incidents())
}

// TestHealthWithoutDaemonAlertsNobody: the API without a daemon judges
// health by the same rules and sends no alert.
func TestHealthWithoutDaemonAlertsNobody(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	w.failCreate()
	w.writeFeed(append(seedPersons, "E3,Grace,Hopper,grace@example.com,Finance,2026-01-01,")...)
	_, err := w.app.Import(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, model.RunFailed, w.waitRun(w.enforce("E3")).State)

	hv, err := daemon.CheckHealth(context.Background(), w.app, w.app.Cfg.API.WithDefaults().Health, nil)
	require.NoError(t, err)
	require.Equal(t, daemon.StatusIncident, hv.Status)
	require.Equal(t, "closed", hv.Targets[0].Circuit, "no engine given: circuits show as closed")
	require.Empty(t, w.alerts.Of(notify.TargetIncident))
}
