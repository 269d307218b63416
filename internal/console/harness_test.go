package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	_ "github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/console"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"
)

const simToken = "sim-console-test-token"

var testHR = testkit.HR{Columns: testkit.StandardColumns("employee_type"), EmployeeTypes: []string{"employee", "service"}}

// testConfig: one SCIM target on the simulator; the engine polls once an
// hour, so work in a test starts from a console or API call.
var testConfig = "store:\n  path: accord.db\n" + testHR.Source() + `targets:
  - name: saas
    type: scim
    connection:
      url: %[1]s/scim/v2
      auth: {type: bearer, token: "${file:%[2]s}"}
      entitlements_by: displayName
      discovery: %[7]t%[6]s
    account:
      userName: "{{ email }}"
      name.givenName: "{{ first_name }}"
      name.familyName: "{{ last_name }}"
      displayName: "{{ first_name }} {{ last_name }}"
    birthright: [all-staff]
    concurrency: 2
    retry: {max_attempts: 1}
    lifecycle: {leaver: disable}
` + testkit.DepartmentRoles("saas", []string{"crm"}, []string{"github"}) + `  thresholds: {creates: "%[3]s"}
engine:
  poll: 1h
  lease: 3h
api:
  health: {min_attempts: 1}
  rate_limit: {per_second: 1000, burst: 1000}
  console: {idle_timeout: %[4]s, secure_cookie: %[5]t}
`

var seedPersons = []string{
	"E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,",
	"E2,Alan,Turing,alan@example.com,Engineering,employee,2026-01-01,",
	"E3,Grace,Hopper,grace@example.com,Finance,employee,2026-01-01,",
}

type worldOptions struct {
	// creates is the creates threshold (default 1000: nothing is held).
	creates string
	idle    string
	// secureCookie sets api.console.secure_cookie.
	secureCookie bool
	// enforce plans and runs everything at start (through the API).
	enforce bool
	// connection is more connection settings of the target, each
	// "\n      key: value".
	connection string
	// discoverWait, when set, turns the target's discovery on and bounds
	// how long planning waits for it (app.Options.DiscoverWait).
	discoverWait time.Duration
}

// world is a running accord (store, engine, simulator) serving the API
// and the console over real HTTP, with a key per scope.
type world struct {
	t    testing.TB
	dir  string
	sim  *targetsim.Sim
	app  *app.App
	srv  *api.Server
	url  string
	keys map[string]string
	// skew moves the console's clock forward (timeouts).
	skew atomic.Int64
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	if o.creates == "" {
		o.creates = "1000"
	}
	if o.idle == "" {
		o.idle = "30m"
	}
	w := &world{t: t, keys: map[string]string{}}
	clock := testkit.NewClock("2026-03-02")
	now := func() time.Time { return clock.Now().Add(time.Duration(w.skew.Load())) }
	sw := simworld.New(t, simworld.Options{
		Sim:    targetsim.Options{Token: simToken},
		Groups: []string{"all-staff", "crm", "github"},
		Config: func(sw *simworld.World) string {
			return fmt.Sprintf(testConfig, sw.URL, sw.TokenFile, o.creates, o.idle, o.secureCookie, o.connection, o.discoverWait > 0)
		},
		HR: testHR, Persons: seedPersons, App: app.Options{Now: now, DiscoverWait: o.discoverWait}, NoImport: true,
	})
	w.dir, w.sim, w.app = sw.Dir, sw.Sim, sw.App
	a := w.app
	ctx, cancel := context.WithCancel(context.Background())
	eng := a.NewEngine(app.EngineOptions{})
	d := daemon.New(daemon.Options{App: a, Engine: eng, Logger: testkit.QuietLogger()})
	a.ObserveEngine(d.Observe)
	w.srv = api.New(api.Options{App: a, Engine: eng, Daemon: d, Logger: testkit.QuietLogger()})
	a.ObserveEngine(w.srv.Observe)
	c, err := console.New(console.Options{API: w.srv, Sessions: a.Store.(console.Sessions), Config: a.Cfg.API.Console, Now: now,
		Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	w.srv.Mount(c)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = eng.Run(ctx) }()
	go func() { defer wg.Done(); _ = d.Run(ctx) }()
	hs := httptest.NewServer(w.srv.Handler())
	w.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		cancel()
		wg.Wait()
	})
	for _, scope := range api.Scopes {
		w.keys[scope] = w.newKey("key-"+strings.ReplaceAll(scope, ":", "-"), scope)
	}
	_, err = a.Import(context.Background(), "")
	require.NoError(t, err)
	if o.enforce {
		w.enforce()
	}
	return w
}

// hire adds persons to the HR feed and imports it.
func (w *world) hire(rows ...string) {
	w.t.Helper()
	testHR.Write(w.t, w.dir, append(append([]string{}, seedPersons...), rows...)...)
	_, err := w.app.Import(context.Background(), "")
	require.NoError(w.t, err)
}

func (w *world) newKey(name string, scopes ...string) string {
	w.t.Helper()
	key, _, err := api.CreateKey(context.Background(), w.app.Store, name, scopes, time.Time{}, "test", w.app.Now())
	require.NoError(w.t, err)
	return key
}

// api calls the HTTP API with the admin key and decodes the answer.
func (w *world) api(method, path string, v any) int {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, nil)
	require.NoError(w.t, err)
	req.Header.Set("Authorization", "Bearer "+w.keys[api.ScopeAdmin])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(w.t, err)
	if v != nil && resp.StatusCode < 300 {
		require.NoError(w.t, json.Unmarshal(body, v), string(body))
	}
	return resp.StatusCode
}

// enforce plans everything; it returns the run's ID (held or done).
func (w *world) enforce() string {
	w.t.Helper()
	var out struct {
		Run struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"run"`
	}
	st := w.api("POST", "/api/v1/enforce", &out)
	require.Contains(w.t, []int{200, 201, 202}, st)
	if out.Run.State != "held" && out.Run.ID != "" {
		w.waitRun(out.Run.ID, "succeeded", "failed")
	}
	return out.Run.ID
}

// waitRun waits until the run is in one of states, and returns it. It
// fails at once if the run ends in another state; a slow machine (the
// race detector, a shared CI host) gets a minute.
func (w *world) waitRun(id string, states ...string) string {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var d struct {
			Run struct {
				State string `json:"state"`
			} `json:"run"`
		}
		w.api("GET", "/api/v1/runs/"+id, &d)
		state := d.Run.State
		if slices.Contains(states, state) {
			return state
		}
		switch state {
		case "succeeded", "failed", "cancelled":
			w.t.Fatalf("run %s ended %s, not %v", id, state, states)
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("run %s is still %s after a minute, not %v", id, state, states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// auditOf returns the audit records of operation op.
func (w *world) auditOf(op string) []string {
	w.t.Helper()
	var page struct {
		Items []struct {
			Operation string `json:"operation"`
			Actor     string `json:"actor"`
			Outcome   string `json:"outcome"`
			Message   string `json:"message"`
		} `json:"items"`
	}
	w.api("GET", "/api/v1/audit?kind=event&limit=1000", &page)
	var out []string
	for _, r := range page.Items {
		if strings.Contains(r.Operation, op) {
			out = append(out, r.Actor+" "+r.Outcome+" "+r.Operation)
		}
	}
	return out
}

// client is a browser without JavaScript: a cookie jar, no redirects
// followed, so each answer can be checked.
type client struct {
	t    testing.TB
	w    *world
	http *http.Client
}

func (w *world) client() *client {
	jar, err := cookiejar.New(nil)
	require.NoError(w.t, err)
	return &client{t: w.t, w: w, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, form url.Values, header ...string) page {
	c.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.w.url+path, rd)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return page{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) get(path string) page { return c.do("GET", path, nil) }

// signIn signs in with key and returns the session's CSRF token.
func (c *client) signIn(key string) string {
	c.t.Helper()
	p := c.do("POST", "/signin", url.Values{"key": {key}})
	require.Equal(c.t, http.StatusSeeOther, p.status, p.body)
	return c.csrf()
}

// csrf reads the CSRF token from a page's sign-out form.
func (c *client) csrf() string {
	c.t.Helper()
	p := c.get("/runs")
	require.Equal(c.t, http.StatusOK, p.status, p.body)
	const mark = `name="csrf" value="`
	i := strings.Index(p.body, mark)
	require.GreaterOrEqual(c.t, i, 0, "no CSRF token on the page")
	rest := p.body[i+len(mark):]
	return rest[:strings.IndexByte(rest, '"')]
}
