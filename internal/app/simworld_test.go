package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	_ "github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"
)

// simHR is the feed of the simulated worlds.
var simHR = testkit.HR{Columns: testkit.StandardColumns("title")}

// simConfig provisions the simulator; its URL and the concurrency are
// left to fill in.
var simConfig = "\nstore:\n  path: accord.db\n" + simHR.Source() + simTargets +
	testkit.DepartmentRoles("saas", []string{"crm", "sales-drive"}, []string{"github", "jira"}) + simPolicy

const simTargets = `targets:
  - name: saas
    type: scim
    connection:
      url: %s/scim/v2
      auth: {type: bearer, token: "${env:CHAOS_SIM_TOKEN}"}
      entitlements_by: displayName
    account:
      userName: "{{ email }}"
      displayName: "{{ first_name }} {{ last_name }}"
      title: "{{ title }}"
      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber: "{{ key }}"
    birthright: [all-staff]
    concurrency: %d
    retry: {max_attempts: 12, base: 20ms, max: 300ms}
    failure: {open_after: 10, probe_after: 100ms, probe_max: 400ms, auth_probe: 200ms}
`

// simPolicy is the policy after its roles, and what follows.
const simPolicy = `  thresholds: {creates: "100000"}
engine:
  poll: 20ms
  lease: 5s
`

var chaosDepts = []string{"Sales", "Engineering", "Finance"}

// simWorld is an accord installation provisioning a simulated SCIM target.
type simWorld struct {
	t      testing.TB
	dir    string
	sim    *targetsim.Sim
	app    *app.App
	alerts *testkit.Alerts
}

func newSimWorld(t testing.TB, persons, concurrency int, opts targetsim.Options) *simWorld {
	t.Helper()
	return newSimWorldWith(t, persons, concurrency, opts, nil)
}

// newSimWorldWith is newSimWorld with the config text passed through edit.
func newSimWorldWith(t testing.TB, persons, concurrency int, opts targetsim.Options, edit func(cfg string) string) *simWorld {
	t.Helper()
	return newSimWorldApp(t, persons, concurrency, opts, edit, app.Options{})
}

// newSimWorldApp is newSimWorldWith with options for the app.
func newSimWorldApp(t testing.TB, persons, concurrency int, opts targetsim.Options, edit func(cfg string) string, ao app.Options) *simWorld {
	t.Helper()
	t.Setenv("CHAOS_SIM_TOKEN", "chaos-token-1234")
	opts.Token = "chaos-token-1234"
	sw := simworld.New(t, simworld.Options{
		Sim:    opts,
		Groups: []string{"all-staff", "crm", "sales-drive", "github", "jira"},
		Config: func(sw *simworld.World) string {
			cfg := fmt.Sprintf(simConfig, sw.URL, concurrency)
			if edit != nil {
				cfg = edit(cfg)
			}
			return cfg
		},
		HR: simHR, Persons: simPersons(persons, nil),
		App: ao,
	})
	return &simWorld{t: t, dir: sw.Dir, sim: sw.Sim, app: sw.App, alerts: sw.Alerts}
}

// simPersons are the feed's rows of persons 0..persons-1; edit may change
// a row's fields.
func simPersons(persons int, edit func(i int, row []string)) []string {
	rows := make([]string, persons)
	for i := range rows {
		row := []string{fmt.Sprintf("E%05d", i), "First", fmt.Sprintf("Last%d", i), fmt.Sprintf("p%d@example.com", i),
			chaosDepts[i%3], "Engineer", "2026-01-01", ""}
		if edit != nil {
			edit(i, row)
		}
		rows[i] = strings.Join(row, ",")
	}
	return rows
}

// writeFeed writes persons rows; edit may change a row's fields.
func (w *simWorld) writeFeed(persons int, edit func(i int, row []string)) {
	w.t.Helper()
	simHR.Write(w.t, w.dir, simPersons(persons, edit)...)
}

// runUntilDone executes everything executable, calling observe on each
// engine event (from engine goroutines).
func (w *simWorld) runUntilDone(observe func(engine.Event)) {
	w.t.Helper()
	testkit.Drain(w.t, w.app, observe, 120*time.Second)
}

// checkTarget asserts the simulator holds exactly the desired state for
// persons 0..n-1 (all active, attributes and memberships as policy says).
func (w *simWorld) checkTarget(n int) {
	w.t.Helper()
	users := w.sim.SCIM().Users()
	require.Len(w.t, users, n, "one account per person, no duplicate")
	byID := map[string]targetsim.Resource{}
	for _, u := range users {
		byID[u.ID] = u
	}
	members := map[string]map[string]bool{}
	for _, g := range w.sim.SCIM().Groups() {
		m := map[string]bool{}
		for _, id := range w.sim.SCIM().Members(g.ID) {
			m[byID[id].Str("userName")] = true
		}
		members[g.Str("displayName")] = m
	}
	seen := map[string]bool{}
	for _, u := range users {
		seen[u.Str("userName")] = true
	}
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("p%d@example.com", i)
		require.True(w.t, seen[email], email)
		u, ok := w.sim.SCIM().UserByName(email)
		require.True(w.t, ok)
		require.Equal(w.t, true, u.Get("active"), email)
		require.Equal(w.t, fmt.Sprintf("First Last%d", i), u.Str("displayName"))
		want := map[string]bool{"all-staff": true}
		switch chaosDepts[i%3] {
		case "Sales":
			want["crm"], want["sales-drive"] = true, true
		case "Engineering":
			want["github"], want["jira"] = true, true
		}
		for g, m := range members {
			require.Equal(w.t, want[g], m[email], "%s in %s", email, g)
		}
	}
}

// TestValidationErrorFailsOnlyThatPerson: a 400 for one person's attribute
// parks that person's action as failed, with the target's message and the
// attribute, skips only their later actions, and lets everyone else through.
func TestValidationErrorFailsOnlyThatPerson(t *testing.T) {
	w := newSimWorld(t, 30, 4, targetsim.Options{})
	// The target refuses person 7's title.
	w.writeFeed(30, func(i int, row []string) {
		if i == 7 {
			row[5] = "Engineer 7"
		}
	})
	_, err := w.app.Import(context.Background(), "")
	require.NoError(t, err)
	_, err = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "POST", Path: "/scim/v2/Users", Status: 400,
		Body:  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"Attribute 'title' is not valid"}`,
		Times: 1, Pattern: "", Header: nil})
	require.NoError(t, err)
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "test")
	require.NoError(t, err)
	w.runUntilDone(nil)
	acts, err := w.app.Store.ListActions(context.Background(), store.ActionQuery{RunID: run.ID, States: []model.ActionState{model.ActionFailed, model.ActionSkipped}})
	require.NoError(t, err)
	require.Len(t, acts, 2, "the failed create and its skipped grant")
	require.Equal(t, model.ActionFailed, acts[0].State)
	require.Equal(t, "validation", acts[0].Error.Kind)
	require.Equal(t, 400, acts[0].Error.Status)
	require.Equal(t, "title", acts[0].Error.Attribute)
	require.Contains(t, acts[0].Error.Message, "not valid")
	require.Equal(t, 1, acts[0].Attempts, "not retried")
	require.Equal(t, model.ActionSkipped, acts[1].State)
	require.Equal(t, acts[0].PersonKey, acts[1].PersonKey)
	require.Len(t, w.sim.SCIM().Users(), 29, "everyone else is provisioned")
	require.Equal(t, 1, len(w.alerts.Of(notify.ActionFailed)))
}

// TestAuthFailurePausesTheTarget: credentials refused even after a
// refresh pause the target's queue and alert once; when the target
// accepts them again, the queue resumes by itself and nothing is lost.
func TestAuthFailurePausesTheTarget(t *testing.T) {
	w := newSimWorld(t, 20, 4, targetsim.Options{})
	// Plan first: planning reads the target's schema, and the refusals
	// are for the engine.
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "test")
	require.NoError(t, err)
	_, err = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Status: 401, Times: 3})
	require.NoError(t, err)
	w.runUntilDone(nil)
	r, err := w.app.Store.GetRun(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, r.State, "counts %v", r.Counts)
	w.checkTarget(20)
	require.Equal(t, 1, len(w.alerts.Of(notify.TargetAuthFailed)))
	require.Equal(t, 1, len(w.alerts.Of(notify.TargetBack)))
}

// TestPlanRefusesValuesTheTargetSchemaRejects: a mapped value of the wrong
// type for the target's declared schema is caught at plan time, with the
// person, target, attribute and reason, and nothing is sent for them.
func TestPlanRefusesValuesTheTargetSchemaRejects(t *testing.T) {
	w := newSimWorld(t, 3, 2, targetsim.Options{})
	cfgPath := filepath.Join(w.dir, "accord.yaml")
	cfg, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	// nickName is a string in the target's schema; map a boolean into it.
	cfg = []byte(strings.Replace(string(cfg), `      title: "{{ title }}"`, "      title: \"{{ title }}\"\n      nickName: {value: '{{ department == \"Sales\" }}', type: bool}", 1))
	require.NoError(t, os.WriteFile(cfgPath, cfg, 0o600))
	a, err := app.Open(context.Background(), cfgPath, app.Options{Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	defer a.Close(context.Background())
	before := len(w.sim.Requests())
	pv, err := a.Plan(context.Background(), app.Filter{}, false)
	require.NoError(t, err)
	require.Empty(t, pv.Result.Jobs)
	require.Len(t, pv.Result.Problems, 3)
	require.Equal(t, "person E00000 on saas: account.nickName: the target declares a string, the mapping gives a boolean", pv.Result.Problems[0].Error())
	for _, r := range w.sim.Requests()[before:] {
		require.Equal(t, "GET", r.Method, "only discovery reads: %s %s", r.Method, r.Path)
	}
}

// TestPlanRefusesAnEmptyUserName: a user name that renders empty fails
// that person at plan time with a clear message, even where the target
// publishes no schema to say userName is required; nothing is sent for
// them, and the others are planned.
func TestPlanRefusesAnEmptyUserName(t *testing.T) {
	w := newSimWorldWith(t, 3, 2, targetsim.Options{}, func(cfg string) string {
		cfg = strings.Replace(cfg, "      entitlements_by: displayName\n", "      entitlements_by: displayName\n      discovery: false\n", 1)
		return strings.Replace(cfg, `userName: "{{ email }}"`, `userName: '{{ department == "Finance" ? "" : email }}'`, 1)
	})
	pv, err := w.app.Plan(context.Background(), app.Filter{}, false)
	require.NoError(t, err)
	require.Len(t, pv.Result.Problems, 1)
	require.Equal(t, "person E00002 on saas: account.userName: the target identifies accounts by it, and the mapping gives an empty value; nothing is sent for this person",
		pv.Result.Problems[0].Error())
	var planned []string
	for _, j := range pv.Result.Jobs {
		planned = append(planned, j.PersonKey)
	}
	require.ElementsMatch(t, []string{"E00000", "E00001"}, planned)
}
