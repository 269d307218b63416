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
// open, or once the store refuses writes (disk filled while waiting).
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
	for _, tc := range []struct {
		circuit, reason string
		after           time.Duration // on the watch's clock, since the last step
		want            string
	}{
		{engine.CircuitClosed, "", 0, ""},
		{engine.CircuitPaused, "credentials refused: 401 bad token", 0, "target saas: paused: credentials refused: 401 bad token (6 actions wait)"},
		{engine.CircuitOpen, open, 0, ""}, // down for a moment: ridden out
		{engine.CircuitHalfOpen, "", 30 * time.Second, ""},
		{engine.CircuitOpen, open, 29 * time.Second, ""},
		{engine.CircuitOpen, open, time.Second, "target saas: circuit open for 1m0s: " + open + " (6 actions wait)"},
		{engine.CircuitClosed, "", 0, ""},
		{engine.CircuitOpen, open, time.Second, ""}, // closed in between: a new outage
	} {
		clock = clock.Add(tc.after)
		status[0].Circuit, status[0].Reason = tc.circuit, tc.reason
		why, err := watch.stalled(ctx)
		require.NoError(t, err)
		if tc.want == "" {
			require.Empty(t, why, tc.circuit)
		} else {
			require.Equal(t, []string{tc.want}, why, tc.circuit)
		}
	}

	testkit.FillDisk(t, disk)
	status[0].Circuit = engine.CircuitClosed
	why, err := watch.stalled(ctx)
	require.NoError(t, err)
	require.Len(t, why, 1)
	require.Contains(t, why[0], "the store cannot be written: disk full")
}
