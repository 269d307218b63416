package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"
)

const pullE2EConfig = `store: {path: accord.db}
sources:
  - name: hr
    format: http
    key: id
    columns:
      - {name: id, type: string}
      - {name: email, type: email, required: true}
    http:
      url: %s/hr/v1/employees
      records: $.employees[*]
      fields: {email: $.work.email}
      paging: {style: cursor, size: 4, cursor: $.next_cursor}
      query: {style: cursor}
      if_none_match: true
      auth: {type: api_key, header: X-HR-Key, key: "${env:HR_E2E_KEY}"}
targets:
  - name: saas
    type: scim
    connection: {url: %s/scim/v2}
    account: {userName: "{{ email }}"}
`

// accord import pulls an HR API as it reads a file: the summary says how
// it was read, an unchanged feed is a 304, and a failing page exits 1
// with nothing imported.
func TestImportPullsAnHRAPI(t *testing.T) {
	sim, base := simworld.StartSim(t, targetsim.Options{})
	sim.HR().SetOptions(targetsim.HROptions{APIKey: "e2e-key-0451", APIKeyHeader: "X-HR-Key"})
	for i := 0; i < 10; i++ {
		sim.HR().Put(map[string]any{"id": fmt.Sprintf("E%02d", i), "work": map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}})
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), fmt.Appendf(nil, pullE2EConfig, base, base), 0o600))
	env := []string{"HR_E2E_KEY=e2e-key-0451"}

	code, out := accordEnv(t, dir, env, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "imported hr: 10 persons (10 added, 0 updated, 0 unchanged, 0 newly missing, 0 back, 0 re-keyed) [full pull, 3 pages]")

	code, out = accordEnv(t, dir, env, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "imported hr: 0 persons (0 added, 0 updated, 0 unchanged, 0 newly missing, 0 back, 0 re-keyed) [not modified pull, 1 pages]")

	sim.HR().Remove("E03")
	sim.HR().FailPage(2, http.StatusBadGateway)
	code, out = accordEnv(t, dir, env, "import", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "source hr: pull failed at page 2, nothing imported")
	require.Contains(t, out, "502")
	require.NotContains(t, out, "e2e-key-0451")

	code, out = accordEnv(t, dir, env, "plan", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `E03  saas  create_account  userName="p3@example.com"  (joiner)`, "the failed pull left E03 in place")
	require.Contains(t, out, "saas: 10 creates")
}

// The pull examples pass `accord config check` as a user runs it, with
// their secrets set.
func TestPullExamplesConfigCheck(t *testing.T) {
	env := []string{"BAMBOOHR_API_KEY=k", "SCIM_TOKEN=t", "WORKDAY_ISU_PASSWORD=p"}
	for _, ex := range []string{"bamboohr", "workday"} {
		path, err := filepath.Abs(filepath.Join("..", "..", "examples", ex, "accord.yaml"))
		require.NoError(t, err)
		code, out := accordEnv(t, t.TempDir(), env, "config", "check", "-c", path)
		require.Equal(t, 0, code, "%s: %s", ex, out)
	}
}

// accord serve pulls the HR API on the source's schedule: a joiner HR
// adds while it runs gets an account without anyone running import.
func TestServePullsOnSchedule(t *testing.T) {
	sim, base := simworld.StartSim(t, targetsim.Options{})
	sim.HR().SetOptions(targetsim.HROptions{APIKey: "e2e-key-0451", APIKeyHeader: "X-HR-Key"})
	sim.HR().Put(map[string]any{"id": "E00", "work": map[string]any{"email": "p0@example.com"}})
	dir := t.TempDir()
	cfg := strings.Replace(fmt.Sprintf(pullE2EConfig, base, base), "    key: id\n", "    key: id\n    schedule: 300ms\n", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(cfg), 0o600))

	cmd := accordCmd(t, dir, "serve", "-c", "accord.yaml")
	cmd.Env = append(cmd.Env, "HR_E2E_KEY=e2e-key-0451")
	var out testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "timed out waiting for %s; output:\n%s", what, out.String())
		}
	}
	eventually("the first pull's account", func() bool { _, ok := sim.SCIM().UserByName("p0@example.com"); return ok })
	sim.HR().Put(map[string]any{"id": "E01", "work": map[string]any{"email": "p1@example.com"}})
	eventually("the joiner's account, from a scheduled pull", func() bool { _, ok := sim.SCIM().UserByName("p1@example.com"); return ok })
	require.NotContains(t, out.String(), "e2e-key-0451")
}
