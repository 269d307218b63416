package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// TestWaitStallsWhileTheTargetRefusesCredentials: with a token the target
// refuses, 'enforce --wait' returns with exit code 4 naming the target and
// the target's own words, instead of waiting forever; the actions stay
// pending, and a retry makes one due now.
func TestWaitStallsWhileTheTargetRefusesCredentials(t *testing.T) {
	w := newE2E(t, 6, 2)
	code, out := accordEnv(t, w.dir, []string{"ACCORD_SIM_TOKEN=a-wrong-token"}, "enforce", "--import", "--wait", "-c", "accord.yaml")
	require.Equal(t, exitStalled, code, out)
	require.Contains(t, out, "stalled: the remaining actions cannot move")
	require.Contains(t, out, "target saas: paused: credentials refused")
	require.Contains(t, out, "401", "the target's answer")
	require.NotContains(t, out, "a-wrong-token")

	code, out = accord(t, w.dir, "actions", "list", "--state", "pending", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	id := firstActionID(t, out)
	code, out = accord(t, w.dir, "actions", "retry", id, "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "it is due now")
}

// TestUnsetSecretFailsConfigCheckAndStallsWait: a token from a variable
// that is not set fails 'config check' with its key path (unless
// --syntax-only), and 'enforce --wait' returns with exit code 4 naming the
// target and the variable, without sending anything.
func TestUnsetSecretFailsConfigCheckAndStallsWait(t *testing.T) {
	w := newE2EWith(t, 4, 2, targetsim.Options{}, func(cfg string) string {
		return strings.Replace(cfg, "${env:ACCORD_SIM_TOKEN}", "${env:ACCORD_TEST_NEVER_SET}", 1)
	})
	cfg, err := os.ReadFile(filepath.Join(w.dir, "accord.yaml"))
	require.NoError(t, err)
	line := 1 + strings.Count(string(cfg[:strings.Index(string(cfg), "ACCORD_TEST_NEVER_SET")]), "\n")
	code, out := accord(t, w.dir, "config", "check", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, fmt.Sprintf("targets[0].connection.auth.token (line %d): secret ${env:ACCORD_TEST_NEVER_SET}: environment variable ACCORD_TEST_NEVER_SET is not set", line))
	code, out = accord(t, w.dir, "config", "check", "--syntax-only", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)

	code, out = accord(t, w.dir, "enforce", "--import", "--wait", "-c", "accord.yaml")
	require.Equal(t, exitStalled, code, out)
	require.Contains(t, out, "target saas: paused:")
	require.Contains(t, out, "environment variable ACCORD_TEST_NEVER_SET is not set")
	require.Empty(t, w.sim.Requests(), "nothing was sent without credentials")
}

// TestFullDiskFailsImportAndStallsWait: on a full disk an import does not
// report success (its audit record cannot be written), and 'enforce
// --wait' returns with exit code 4 naming a full disk.
func TestFullDiskFailsImportAndStallsWait(t *testing.T) {
	w := newE2E(t, 4, 2)
	disk := testkit.Tmpfs(t, 16<<20)
	storeOn(t, w, filepath.Join(disk, "accord.db"))
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	code, out = accord(t, w.dir, "enforce", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "queued")

	testkit.FillDisk(t, disk)
	code, out = accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "disk full")
	require.NotContains(t, out, "imported hr")

	code, out = accord(t, w.dir, "enforce", "--wait", "-c", "accord.yaml")
	require.Equal(t, exitStalled, code, out)
	require.Contains(t, out, "disk full")
	require.Empty(t, w.sim.Requests(), "nothing was sent that could not be recorded")
}

// TestReadOnlyStoreIsNamedAndStallsWait: a store on a read-only mount is
// named as such with its path; an import fails and 'enforce --wait'
// returns with exit code 4.
func TestReadOnlyStoreIsNamedAndStallsWait(t *testing.T) {
	w := newE2E(t, 4, 2)
	disk := testkit.Tmpfs(t, 16<<20)
	db := filepath.Join(disk, "accord.db")
	storeOn(t, w, db)
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	testkit.RemountReadOnly(t, disk)

	code, out = accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "database file is read-only: "+db)
	require.NotContains(t, out, "imported hr")

	code, out = accord(t, w.dir, "enforce", "--wait", "-c", "accord.yaml")
	require.Equal(t, exitStalled, code, out)
	require.Contains(t, out, "database file is read-only: "+db)
}

// storeOn points the world's config at a store file elsewhere.
func storeOn(t *testing.T, w *e2eWorld, path string) {
	t.Helper()
	p := filepath.Join(w.dir, "accord.yaml")
	cfg, err := os.ReadFile(p)
	require.NoError(t, err)
	cfg = []byte(strings.Replace(string(cfg), "store:\n  path: accord.db\n", "store:\n  path: "+path+"\n", 1))
	require.NoError(t, os.WriteFile(p, cfg, 0o600))
}

// firstActionID is the ID of the first action of an 'actions list --json'.
func firstActionID(t *testing.T, out string) string {
	t.Helper()
	var acts []struct {
		ID int64 `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &acts), out)
	require.NotEmpty(t, acts, out)
	return strconv.FormatInt(acts[0].ID, 10)
}

// fixedStatus is an engine's view of its targets, fixed by the test.
type fixedStatus []engine.TargetStatus

func (f *fixedStatus) Status() []engine.TargetStatus { return *f }

// TestStalledDecides: with unfinished actions, the work can move while
// their target is closed or probing, and cannot while it is paused or
// open, or half open with no request for as long (its probe is not
// answering, or none runs), or once the store refuses writes (disk
// filled while waiting).
func TestStalledDecides(t *testing.T) {
	w := newE2E(t, 3, 1)
	disk := testkit.Tmpfs(t, 16<<20)
	storeOn(t, w, filepath.Join(disk, "accord.db"))
	ctx := t.Context()
	a, err := app.Open(ctx, filepath.Join(w.dir, "accord.yaml"), app.Options{Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	defer a.Close(context.WithoutCancel(ctx))
	_, err = a.Import(ctx, "")
	require.NoError(t, err)
	run, _, err := a.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	require.NotNil(t, run)

	status := fixedStatus{{Name: "saas"}}
	watch := newStallWatch(a, &status)
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	watch.now = func() time.Time { return clock }
	open := "10 consecutive failures, last: 503"
	quiet := "target saas: circuit half open and no request for 1m0s: "
	for i, tc := range []struct {
		circuit, reason string
		after           time.Duration // on the watch's clock, since the last step
		// for a half-open circuit: requests in flight, the probe's job,
		// a request started or ended now, a pause the target asked for
		inFlight int
		probe    int64
		request  bool
		paused   time.Duration
		want     string
	}{
		{circuit: engine.CircuitClosed},
		{circuit: engine.CircuitPaused, reason: "credentials refused: 401 bad token", want: "target saas: paused: credentials refused: 401 bad token (6 actions wait)"},
		{circuit: engine.CircuitOpen, reason: open}, // down for a moment: ridden out
		{circuit: engine.CircuitHalfOpen, after: 30 * time.Second},
		{circuit: engine.CircuitOpen, reason: open, after: 29 * time.Second},
		{circuit: engine.CircuitOpen, reason: open, after: time.Second, want: "target saas: circuit open for 1m0s: " + open + " (6 actions wait)"},
		{circuit: engine.CircuitClosed},
		{circuit: engine.CircuitOpen, reason: open, after: time.Second}, // closed in between: a new outage

		// Half open: a probe request in flight moves, however slow.
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, inFlight: 1, request: true},
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, inFlight: 1, after: 5 * time.Minute},
		// Its answer came now; quiet since, but not yet for long.
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, request: true},
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, after: 59 * time.Second},
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, after: time.Second,
			want: quiet + "its probe (job 42) sends nothing, and nothing else is sent until the probe is answered (it opened after: " + open + ") (6 actions wait)"},
		// A request between two looks counts though none was seen in flight.
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, after: 30 * time.Second, request: true},
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, after: 59 * time.Second},
		// The target asked to wait: waiting for it is no stall.
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, after: time.Second, paused: time.Hour},
		{circuit: engine.CircuitHalfOpen, reason: open, probe: 42, after: 30 * time.Minute, paused: time.Hour},
		// No probe at all (the CI hang): stalled once quiet for as long.
		{circuit: engine.CircuitHalfOpen, reason: open},
		{circuit: engine.CircuitHalfOpen, reason: open, after: time.Minute,
			want: quiet + "no probe is running, and nothing else is sent while it is half open (it opened after: " + open + ") (6 actions wait)"},
	} {
		clock = clock.Add(tc.after)
		st := &status[0]
		st.Circuit, st.Reason, st.InFlight, st.ProbeJob, st.PausedUntil = tc.circuit, tc.reason, tc.inFlight, tc.probe, time.Time{}
		if tc.request {
			st.LastRequest = clock
		}
		if tc.paused > 0 {
			st.PausedUntil = clock.Add(tc.paused)
		}
		why, err := watch.stalled(ctx)
		require.NoError(t, err)
		if tc.want == "" {
			require.Empty(t, why, "step %d: %s", i, tc.circuit)
		} else {
			require.Equal(t, []string{tc.want}, why, "step %d: %s", i, tc.circuit)
		}
	}

	testkit.FillDisk(t, disk)
	status[0].Circuit = engine.CircuitClosed
	why, err := watch.stalled(ctx)
	require.NoError(t, err)
	require.Len(t, why, 1)
	require.Contains(t, why[0], "the store cannot be written: disk full")
}
