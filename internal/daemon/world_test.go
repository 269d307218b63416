package daemon_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	_ "github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"
	"github.com/accord-iam/accord/internal/wait"
)

const simToken = "sim-daemon-test-token"

var testHR = testkit.HR{}

// testConfig: one SCIM target on the simulator. The engine polls once an
// hour, so that work is started by a wake-up (the test's or the
// daemon's), never by a poll; the health monitor checks every %[3]s.
var testConfig = "store:\n  path: accord.db\n" + testHR.Source() + `targets:
  - name: saas
    type: scim
    connection:
      url: %[1]s/scim/v2
      auth: {type: bearer, token: "${file:%[2]s}"}
      entitlements_by: displayName
      discovery: false
    account:
      userName: "{{ email }}"
      name.givenName: "{{ first_name }}"
      name.familyName: "{{ last_name }}"
      displayName: "{{ first_name }} {{ last_name }}"
    birthright: [all-staff]
    concurrency: 2
` + testkit.DepartmentRoles("saas", []string{"crm"}, []string{"github"}) + `  thresholds: {creates: "1000", disables: "100%%"}
engine:
  poll: 1h
  lease: 3h
api:
  health: {min_attempts: 1, interval: %[3]s}
`

const testDay = "2026-03-02"

var seedPersons = []string{
	"E1,Ada,Lovelace,ada@example.com,Sales,2026-01-01,",
	"E2,Alan,Turing,alan@example.com,Engineering,2026-01-01,",
}

type worldOptions struct {
	// healthEvery is api.health.interval (default 1h: the monitor stays
	// out of the way).
	healthEvery string
	// simSleep replaces the simulator's wait for injected latency.
	simSleep func(ctx context.Context, d time.Duration) error
}

// world is the daemon of a running accord: store, engine, simulator and
// the daemon beside the engine, with no API.
type world struct {
	t      testing.TB
	dir    string
	sim    *targetsim.Sim
	alerts *testkit.Alerts
	clock  *testkit.Clock
	app    *app.App
	eng    *engine.Engine
	d      *daemon.Daemon
	// stop ends the daemon's Run (the engine keeps going).
	stop    context.CancelFunc
	stopped chan struct{}
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	if o.healthEvery == "" {
		o.healthEvery = "1h"
	}
	w := &world{t: t, clock: testkit.NewClock(testDay)}
	sw := simworld.New(t, simworld.Options{
		Sim:    targetsim.Options{Token: simToken, Sleep: o.simSleep},
		Groups: []string{"all-staff", "crm", "github"},
		Config: func(sw *simworld.World) string {
			return fmt.Sprintf(testConfig, sw.URL, sw.TokenFile, o.healthEvery)
		},
		HR: testHR, Persons: seedPersons, App: app.Options{Now: w.clock.Now},
	})
	w.dir, w.sim, w.alerts, w.app = sw.Dir, sw.Sim, sw.Alerts, sw.App
	a := w.app
	w.eng = a.NewEngine(app.EngineOptions{})
	w.d = daemon.New(daemon.Options{App: a, Engine: w.eng, Logger: testkit.QuietLogger()})
	a.ObserveEngine(w.d.Observe)

	ctx, cancel := context.WithCancel(context.Background())
	dctx, stop := context.WithCancel(ctx)
	w.stop, w.stopped = stop, make(chan struct{})
	engDone := make(chan struct{})
	go func() { defer close(engDone); _ = w.eng.Run(ctx) }()
	go func() { defer close(w.stopped); _ = w.d.Run(dctx) }()
	t.Cleanup(func() {
		cancel()
		<-w.stopped
		<-engDone
	})

	w.waitRun(w.enforce(""))
	return w
}

// writeFeed replaces the HR feed with rows (without the header).
func (w *world) writeFeed(rows ...string) {
	w.t.Helper()
	testHR.Write(w.t, w.dir, rows...)
}

// enforce plans one person (all when empty), wakes the engine and
// returns the run's ID.
func (w *world) enforce(person string) string {
	w.t.Helper()
	run, _, err := w.app.Enforce(context.Background(), app.Filter{Person: person}, "test")
	require.NoError(w.t, err)
	require.NotNil(w.t, run, "nothing planned for %q", person)
	w.eng.Wake()
	return run.ID
}

// until looks at cond every few milliseconds until it holds. The
// deadline only guards against a hang: under -race beside other
// packages on two cores, a run has been seen to take 50 s.
func (w *world) until(what string, cond func() bool) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for !cond() {
		if wait.For(ctx, 5*time.Millisecond) != nil {
			w.t.Fatalf("still waiting after 2m: %s", what)
		}
	}
}

// waitRun waits for a run to finish and returns it.
func (w *world) waitRun(id string) model.Run {
	w.t.Helper()
	var r model.Run
	w.until("run "+id+" to finish", func() bool {
		var err error
		r, err = w.app.Store.GetRun(context.Background(), id)
		require.NoError(w.t, err)
		return r.State.Final()
	})
	return r
}
