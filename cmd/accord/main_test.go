package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"
)

// The test binary doubles as the accord binary: run with ACCORD_BE_MAIN=1
// it is accord, so end-to-end tests can start, kill and restart real
// processes without a separate build step.
func TestMain(m *testing.M) {
	if os.Getenv("ACCORD_BE_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// accordCmd prepares the accord process with args.
func accordCmd(t testing.TB, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(accordBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ACCORD_BE_MAIN=1", "ACCORD_SIM_TOKEN=sim-secret-token")
	return cmd
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// accordBinary is the program the end-to-end tests run. It is this test
// binary, except under the race detector: the tests that kill and restart
// accord, or push thousands of actions through it, are about processes
// and targets, and the race detector makes the embedded SQLite engine
// (transpiled C, every memory access instrumented) ten times slower. Races
// are the business of the in-process tests; these get a normal build, the
// static one that ships.
func accordBinary(t testing.TB) string {
	t.Helper()
	if !raceEnabled {
		return os.Args[0]
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "accord-e2e-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "accord")
		// Built as it ships: static, without cgo (the Dockerfile's build),
		// which TestStaticBuild checks, sharing this build's compiled packages.
		build := exec.Command("go", "build", "-o", binPath, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("build accord for end-to-end tests: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// accord runs accord to completion and returns its exit code and output.
func accord(t testing.TB, dir string, args ...string) (int, string) {
	t.Helper()
	return accordEnv(t, dir, nil, args...)
}

// accordEnv is accord with more environment (later values win).
func accordEnv(t testing.TB, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := accordCmd(t, dir, args...)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, out.String()
}

// eventually polls cond until it holds: across processes there is no
// event to wait on. The deadline only guards against a hang.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
	}
}

// e2eHR is the feed of the end-to-end worlds: names, a department,
// start and end dates.
var e2eHR = testkit.HR{}

// e2eConfig provisions the simulator; its URL and the concurrency are
// left to fill in.
var e2eConfig = "store:\n  path: accord.db\n" + e2eHR.Source() + e2eTargets +
	testkit.DepartmentRoles("saas", []string{"crm", "sales-drive"}, []string{"github", "jira"}) + e2ePolicy

const e2eTargets = `targets:
  - name: saas
    type: scim
    connection:
      url: %s/scim/v2
      auth: {type: bearer, token: "${env:ACCORD_SIM_TOKEN}"}
      entitlements_by: displayName
      discovery: false
    account:
      userName: "{{ email }}"
      name.givenName: "{{ first_name }}"
      name.familyName: "{{ last_name }}"
      displayName: "{{ first_name }} {{ last_name }}"
      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber: "{{ key }}"
      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department: "{{ department }}"
    birthright: [all-staff]
    concurrency: %d
    lifecycle: {leaver: disable_then_delete, delete_after_days: 30}
`

// e2ePolicy is the policy after its roles, and what follows.
const e2ePolicy = `  thresholds: {creates: "100000"}
engine:
  poll: 50ms
  lease: 3s
`

var departments = []string{"Sales", "Engineering", "Finance"}

// e2eWorld is a directory with a config, an HR file, and a simulator.
type e2eWorld struct {
	dir string
	sim *targetsim.Sim
}

func newE2E(t *testing.T, persons, concurrency int) *e2eWorld {
	t.Helper()
	return newE2EWith(t, persons, concurrency, targetsim.Options{}, nil)
}

// newE2EWith is newE2E with simulator options and an edit of the config
// text (to add sections).
func newE2EWith(t testing.TB, persons, concurrency int, opts targetsim.Options, edit func(string) string) *e2eWorld {
	t.Helper()
	opts.Token = "sim-secret-token"
	sim, base := simworld.StartSim(t, opts, "all-staff", "crm", "sales-drive", "github", "jira")
	dir := t.TempDir()
	cfg := fmt.Sprintf(e2eConfig, base, concurrency)
	if edit != nil {
		cfg = edit(cfg)
	}
	testkit.WriteFile(t, dir, "accord.yaml", cfg)
	rows := make([]string, persons)
	for i := range rows {
		rows[i] = fmt.Sprintf("E%04d,First%d,Last%d,p%d@example.com,%s,2026-01-01,", i, i, i, i, departments[i%3])
	}
	e2eHR.Write(t, dir, rows...)
	return &e2eWorld{dir: dir, sim: sim}
}

func TestConfigCheckReportsEveryProblemWithPathAndLine(t *testing.T) {
	dir := t.TempDir()
	cfg := strings.Replace(e2eConfig, `userName: "{{ email }}"`, `userName: "{{ mail }}"`, 1)
	cfg = strings.Replace(cfg, "concurrency: %d", "concurrency: many", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), fmt.Appendf(nil, cfg, "http://127.0.0.1:1"), 0o600))
	code, out := accord(t, dir, "config", "check", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, `targets[0].account.userName (line 27): unknown person attribute "mail"`)
	require.Contains(t, out, `targets[0].concurrency (line 34): expected a whole number, got "many"`)
	require.NotContains(t, out, "sim-secret-token")
}

func TestUsageErrorsExitTwo(t *testing.T) {
	code, _ := accord(t, t.TempDir(), "enforce", "--no-such-flag")
	require.Equal(t, 2, code)
	code, _ = accord(t, t.TempDir(), "actions", "retry", "not-a-number", "-c", "missing.yaml")
	require.Equal(t, 2, code)
}

func TestBadFeedExitsOneAndImportsNothing(t *testing.T) {
	w := newE2E(t, 3, 2)
	bad := e2eHR.Header() +
		"E1,A,B,a@example.com,Sales,2026-01-01,\n" +
		"E2,A,B,not-an-email,Sales,2026-01-01,\n" +
		"E3,A,B,c@example.com,Marketing,2026-01-01,\n" +
		"E4,A,B,d@example.com,Sales,2026-13-01,\n"
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "hr.csv"), []byte(bad), 0o600))
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "3 bad rows, file rejected, nothing imported")
	for _, row := range []string{"row 3", "row 4", "row 5"} {
		require.Contains(t, out, row)
	}
	code, out = accord(t, w.dir, "plan", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "nothing to do")
}

// TestQuickstart runs the README's first command, both days, as a user
// would, and checks the story it tells.
func TestQuickstart(t *testing.T) {
	t.Setenv(quickstartTokenEnv, "qs-known-token-123")
	dir := t.TempDir()
	code, out := accord(t, dir, "quickstart")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "imported hr: 38 persons (38 added")
	require.Contains(t, out, "excluded: E0999")
	require.Contains(t, out, "succeeded: 34 created, 0 updated, 0 enabled, 87 granted, 0 revoked, 0 disabled, 0 deleted, 0 failed")
	require.Contains(t, out, "the target now has 34 accounts (34 active)")
	// Not a terminal: progress comes as plain lines, never a bar's
	// control characters.
	require.Contains(t, out, "progress: 68/68 actions done")
	require.NotContains(t, out, "\r")
	// The editor finds the config's schema beside it.
	written, err := os.ReadFile(filepath.Join(dir, "accord-quickstart", "accord.yaml"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(written), "# yaml-language-server: $schema=accord.schema.json\n"))
	require.FileExists(t, filepath.Join(dir, "accord-quickstart", "accord.schema.json"))

	code, out = accord(t, dir, "quickstart", "--day", "2")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "0 added, 2 updated, 36 unchanged")
	require.Contains(t, out, "succeeded: 0 created, 1 updated, 0 enabled, 2 granted, 3 revoked, 1 disabled, 0 deleted, 0 failed")
	require.Contains(t, out, "the target now has 34 accounts (33 active)")

	// Afterwards, with no simulator and no token, the what-if still works
	// and says there is nothing left to do.
	code, out = accord(t, dir, "plan", "-c", "accord-quickstart/accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "nothing to do")
	code, out = accord(t, dir, "audit", "-c", "accord-quickstart/accord.yaml", "--person", "E0003", "--kind", "exchange")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "PATCH")
	code, out = accord(t, dir, "audit", "-c", "accord-quickstart/accord.yaml", "--json")
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "qs-known-token-123")
	require.Contains(t, out, `"Authorization":"[REDACTED]"`)
}

// TestServeStopsWhenTheAPICannotListen: a daemon whose API cannot start
// exits with an error instead of running without it.
func TestServeStopsWhenTheAPICannotListen(t *testing.T) {
	w := newE2E(t, 1, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cfgPath := filepath.Join(w.dir, "accord.yaml")
	cfg, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	cfg = append(cfg, []byte("api:\n  listen: "+ln.Addr().String()+"\n")...)
	require.NoError(t, os.WriteFile(cfgPath, cfg, 0o600))
	code, out := accord(t, w.dir, "serve", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "api.listen")
}

// TestPlanJSONAndHeldExitCode: the what-if as JSON for one person (with
// the desired state and why), and a run over a threshold exits 3 with
// the threshold, limit and planned count, executing nothing.
func TestPlanJSONAndHeldExitCode(t *testing.T) {
	w := newE2E(t, 30, 4)
	code, out := accord(t, w.dir, "enforce", "--import", "--wait", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)

	code, out = accord(t, w.dir, "plan", "--person", "E0001", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	// JSON lines: the actions (none), then the summary.
	var pv struct {
		Type    string `json:"type"`
		Actions int    `json:"actions"`
		Desired []struct {
			Target string `json:"target"`
			Desire string `json:"desire"`
			Reason string `json:"reason"`
		} `json:"desired"`
		Held bool `json:"held"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &pv), out)
	require.Equal(t, "summary", pv.Type)
	require.Zero(t, pv.Actions, "in accord already")
	require.Len(t, pv.Desired, 1)
	require.Equal(t, "enabled", pv.Desired[0].Desire)
	require.False(t, pv.Held)

	// HR sends an empty file: everyone would be a leaver.
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "hr.csv"), []byte("employee_id,first_name,last_name,email,department,start_date,end_date\n"), 0o600))
	before := len(w.sim.Requests())
	code, out = accord(t, w.dir, "enforce", "--import", "--wait", "-c", "accord.yaml")
	require.Equal(t, 3, code, out)
	require.Contains(t, out, "is HELD: overall disables: 30 planned, limit 10% (= 3)")
	require.Len(t, w.sim.Requests(), before, "nothing executed")

	// The held run shown: its first actions, and how many more (a held
	// initial load is millions; listing them all never ended).
	m := regexp.MustCompile(`run (run-[0-9a-f-]+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	code, out = accord(t, w.dir, "runs", "show", m[1], "--limit", "5", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "more actions: 'accord actions list --run "+m[1]+" --limit 0' lists them all")
	var shown struct {
		Actions     []json.RawMessage `json:"actions"`
		ActionsMore int               `json:"actions_more"`
	}
	code, out = accord(t, w.dir, "runs", "show", m[1], "--limit", "5", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.NoError(t, json.Unmarshal([]byte(out), &shown), out)
	require.Len(t, shown.Actions, 5)
	require.GreaterOrEqual(t, shown.ActionsMore, 25, "30 disables at least, 5 shown")
	more := shown.ActionsMore
	code, out = accord(t, w.dir, "runs", "show", m[1], "--limit", "0", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.NoError(t, json.Unmarshal([]byte(out), &shown), out)
	require.Len(t, shown.Actions, 5+more, "--limit 0 lists every action")
}
