package recon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/scimtest"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"

	_ "github.com/accord-iam/accord/internal/connector/scim"
)

const employeeNumber = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"

// worldHR is the feed of the world.
var worldHR = testkit.HR{Columns: testkit.StandardColumns("title")}

// worldConfig: a SCIM target with small pages (so that a handful of
// accounts makes several pages), correlation by employee number then
// e-mail, and the drift policy of the test.
var worldConfig = "\nstore: {path: accord.db}\n" + worldHR.Source() + worldTargets +
	testkit.DepartmentRoles("saas", []string{"crm"}, []string{"github"}) + worldPolicy

const worldTargets = `targets:
  - name: saas
    type: scim
    scope: department != "Finance"
    connection:
      url: %s
      auth: {type: bearer, token: "${file:%s}"}
      entitlements_by: displayName
      page_size: 3
%s
    account:
      userName: "{{ email }}"
      name.givenName: "{{ first_name }}"
      name.familyName: "{{ last_name }}"
      title: "{{ title }}"
      ` + employeeNumber + `: "{{ key }}"
    birthright: [all-staff]
    retry: {base: 10ms, max: 40ms, max_attempts: 2}
%s
    reconcile:
      correlate:
        - {account: "` + employeeNumber + `", person: key}
        - {account: userName, person: email, ignore_case: true}
      drift: {%s}
`

// worldPolicy is the policy after its roles, and what follows.
const worldPolicy = `  thresholds: {disables: "100%%", deletes: "100%%"}
engine: {poll: 20ms, lease: 2s}
`

var groups = []string{"all-staff", "crm", "github"}

// world is accord against one SCIM target, with hands to change the
// target behind accord's back.
type world struct {
	t     *testing.T
	dir   string
	app   *app.App
	scim  *hands
	sim   *targetsim.Sim // nil against the real server
	alert *testkit.Alerts
}

type worldOpts struct {
	real   bool
	drift  string // the drift policy, as YAML flow mapping content
	quirks string // extra connection settings, indented
	target string // extra target settings, indented
	// behave makes the simulator act like a particular server; with
	// discover, accord reads the simulator's discovery endpoints.
	behave   targetsim.Behaviours
	discover bool
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), alert: &testkit.Alerts{}}
	var base, token string
	extra := o.quirks
	if o.real {
		base, token = scimtest.StartReal(t)
		extra += "\n      quirks: {filter_no_escapes: true}"
	} else {
		token = "sim-token"
		var u string
		w.sim, u = simworld.StartSim(t, targetsim.Options{Token: token, SCIM: o.behave})
		base = u + "/scim/v2"
		if !o.discover {
			extra += "\n      discovery: false"
		}
	}
	w.scim = &hands{t: t, base: base, token: token}
	for _, g := range groups {
		w.scim.createGroup(g)
	}
	tokFile := testkit.WriteFile(t, w.dir, "token", token)
	testkit.WriteFile(t, w.dir, "accord.yaml", fmt.Sprintf(worldConfig, base, tokFile, extra, o.target, o.drift))
	worldHR.Write(t, w.dir)
	w.open()
	return w
}

// open opens the world's app, as a fresh process does: its connectors
// have discovered nothing yet.
func (w *world) open() {
	w.t.Helper()
	w.app = testkit.OpenApp(w.t, w.dir, app.Options{})
	w.app.Notifier = w.alert
}

// env is what the CLI builds from an app.
func (w *world) env() *recon.Env {
	return &recon.Env{
		Store: w.app.Store, Config: w.app.Cfg, Policy: w.app.Policy, Conns: w.app.Conns, Now: w.app.Now,
		Log: w.app.Log, Notifier: w.app.Notifier, Owner: "test",
		Planner: func(ctx context.Context, target string) (*plan.Planner, error) {
			p, _, err := w.app.Planner(ctx, app.Filter{Target: target})
			return p, err
		},
	}
}

func (w *world) feed(rows ...string) {
	w.t.Helper()
	worldHR.Write(w.t, w.dir, rows...)
	_, err := w.app.Import(context.Background(), "")
	require.NoError(w.t, err)
}

// enforce plans and executes a run to its end.
func (w *world) enforce() *model.Run {
	w.t.Helper()
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "test")
	require.NoError(w.t, err)
	if run != nil {
		require.NotEqual(w.t, model.RunHeld, run.State, run.Note)
		w.drain()
	}
	return run
}

func (w *world) reconcile(opts recon.Options) *recon.Result {
	w.t.Helper()
	res, err := recon.Reconcile(context.Background(), w.env(), "saas", opts)
	require.NoError(w.t, err)
	return res
}

// drain runs an engine until no run is executable.
func (w *world) drain() {
	w.t.Helper()
	testkit.Drain(w.t, w.app, nil, 20*time.Second)
}

func (w *world) drift(q store.DriftQuery) []store.Drift {
	w.t.Helper()
	var out []store.Drift
	require.NoError(w.t, w.app.Store.EachDrift(context.Background(), q, func(d store.Drift) error {
		out = append(out, d)
		return nil
	}))
	return out
}

func (w *world) known(person string) model.Account {
	w.t.Helper()
	a, err := w.app.Store.GetAccount(context.Background(), "saas", person)
	require.NoError(w.t, err)
	return a
}

// hands change the target as a person would, over its SCIM API, so the
// same test runs against the simulator and the real server.
type hands struct {
	t           *testing.T
	base, token string
}

func (h *hands) do(method, path string, body any) map[string]any {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(h.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	require.NoError(h.t, err)
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	require.Less(h.t, resp.StatusCode, 300, "%s %s: %s", method, path, data)
	out := map[string]any{}
	if len(data) > 0 {
		require.NoError(h.t, json.Unmarshal(data, &out))
	}
	return out
}

func (h *hands) createGroup(name string) string {
	r := h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name})
	return r["id"].(string)
}

func (h *hands) find(kind, attr, value string) map[string]any {
	h.t.Helper()
	r := h.do("GET", "/"+kind+"?filter="+url.QueryEscape(attr+` eq "`+value+`"`), nil)
	res, _ := r["Resources"].([]any)
	for _, x := range res {
		m := x.(map[string]any)
		if strings.EqualFold(fmt.Sprint(m[attr]), value) {
			return m
		}
	}
	return nil
}

func (h *hands) userID(userName string) string {
	h.t.Helper()
	u := h.find("Users", "userName", userName)
	require.NotNil(h.t, u, "no user %s on the target", userName)
	return u["id"].(string)
}

func (h *hands) user(userName string) map[string]any {
	h.t.Helper()
	return h.do("GET", "/Users/"+h.userID(userName), nil)
}

func (h *hands) createUser(userName string, active bool, extra map[string]any) string {
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName, "active": active}
	for k, v := range extra {
		body[k] = v
	}
	return h.do("POST", "/Users", body)["id"].(string)
}

func patchOp(op, path string, value any) map[string]any {
	o := map[string]any{"op": op, "path": path}
	if value != nil {
		o["value"] = value
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []any{o}}
}

func (h *hands) setUser(userName, path string, value any) {
	h.do("PATCH", "/Users/"+h.userID(userName), patchOp("replace", path, value))
}

func (h *hands) addMember(group, userName string) {
	g := h.find("Groups", "displayName", group)
	h.do("PATCH", "/Groups/"+g["id"].(string), patchOp("add", "members", []any{map[string]any{"value": h.userID(userName)}}))
}

func (h *hands) removeMember(group, userName string) {
	g := h.find("Groups", "displayName", group)
	h.do("PATCH", "/Groups/"+g["id"].(string), patchOp("remove", `members[value eq "`+h.userID(userName)+`"]`, nil))
}

func (h *hands) deleteUser(userName string) {
	h.do("DELETE", "/Users/"+h.userID(userName), nil)
}

// groupsOf returns the display names of the groups userName is in.
func (h *hands) groupsOf(userName string) []string {
	h.t.Helper()
	id := h.userID(userName)
	var out []string
	for _, g := range groups {
		grp := h.find("Groups", "displayName", g)
		members, _ := grp["members"].([]any)
		for _, m := range members {
			if m.(map[string]any)["value"] == id {
				out = append(out, g)
			}
		}
	}
	return out
}
