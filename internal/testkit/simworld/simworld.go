// Package simworld sets up the world most end-to-end tests of accord run
// in: a target simulator on a free local port, a directory with a config
// and an HR feed, and accord opened on it (SQLite) with its alerts kept.
//
// It sits above internal/testkit because it needs the simulator, which
// shares testkit's layer. Like testkit, only tests may import it.
package simworld

import (
	"context"
	"testing"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// StartSim starts a simulator with opts on a free local port, closed when
// the test ends, with groups created on its SCIM API. It returns the
// simulator and its base URL (no path).
func StartSim(tb testing.TB, opts targetsim.Options, groups ...string) (*targetsim.Sim, string) {
	tb.Helper()
	sim := targetsim.New(opts)
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("start the simulator: %v", err)
	}
	tb.Cleanup(func() { _ = sim.Close() })
	for _, g := range groups {
		if _, err := sim.SCIM().CreateGroup(g); err != nil {
			tb.Fatalf("create group %s on the simulator: %v", g, err)
		}
	}
	return sim, base
}

// Options are what differs between worlds.
type Options struct {
	// Sim configures the simulator. Its Token, when set, is also written
	// to the world's TokenFile, for a config's "${file:...}".
	Sim targetsim.Options
	// Groups are created on the simulator's SCIM API before accord opens.
	Groups []string
	// Config is the text of accord.yaml, given the world so far (its
	// directory, simulator URL and token file).
	Config func(w *World) string
	// HR is the feed's format, and Persons its rows (CSV lines).
	HR      testkit.HR
	Persons []string
	// Dir holds the world (config, feed, store); default a temporary one.
	Dir string
	// App are the options accord opens with (a quiet logger by default).
	App app.Options
	// NoImport leaves the feed unimported; by default the world imports
	// it once accord is open.
	NoImport bool
}

// World is accord provisioning a simulated target.
type World struct {
	Dir string
	Sim *targetsim.Sim
	// URL is the simulator's base URL (add /scim/v2 or /rest/v1).
	URL string
	// TokenFile holds Options.Sim.Token ("" when there is none).
	TokenFile string
	App       *app.App
	// Alerts are the alerts accord sent; the app's own notifier (its log,
	// a configured webhook) receives them too.
	Alerts *testkit.Alerts
	hr     testkit.HR
}

// New sets a world up: the simulator, the directory with its config and
// feed, and accord open on it, closed when the test ends.
func New(tb testing.TB, o Options) *World {
	tb.Helper()
	w := &World{Dir: o.Dir, Alerts: &testkit.Alerts{}, hr: o.HR}
	if w.Dir == "" {
		w.Dir = tb.TempDir()
	}
	w.Sim, w.URL = StartSim(tb, o.Sim, o.Groups...)
	if o.Sim.Token != "" {
		w.TokenFile = testkit.WriteFile(tb, w.Dir, "sim-token", o.Sim.Token)
	}
	testkit.WriteFile(tb, w.Dir, "accord.yaml", o.Config(w))
	w.WriteFeed(tb, o.Persons...)
	w.App = testkit.OpenApp(tb, w.Dir, o.App)
	w.App.Notifier = notify.Multi{w.App.Notifier, w.Alerts}
	if !o.NoImport {
		w.Import(tb)
	}
	return w
}

// WriteFeed replaces the HR feed with rows (CSV lines, without the header).
func (w *World) WriteFeed(tb testing.TB, rows ...string) {
	tb.Helper()
	w.hr.Write(tb, w.Dir, rows...)
}

// Import imports every source.
func (w *World) Import(tb testing.TB) {
	tb.Helper()
	if _, err := w.App.Import(context.Background(), ""); err != nil {
		tb.Fatalf("import: %v", err)
	}
}
