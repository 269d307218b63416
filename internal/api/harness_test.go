package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	_ "github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"
)

const simToken = "sim-api-test-token"

// testConfig: one SCIM target on the simulator. The engine polls once an
// hour, so that any work done in a test was started by a wake-up (an API
// call), never by a poll.
var testConfig = "store:\n  path: accord.db\n" + testHR.Source() + "%[9]s" + testTargets +
	testkit.DepartmentRoles("saas", []string{"crm", "sales-drive"}, []string{"github", "jira"}) + testPolicy

// testHR is the feed of every world.
var testHR = testkit.HR{Columns: testkit.StandardColumns("employee_type"), EmployeeTypes: []string{"employee", "service"}}

const testTargets = `targets:
  - name: saas
    type: scim
    connection:
      url: %[1]s/scim/v2
      auth: {type: bearer, token: "${file:%[2]s}"}
      entitlements_by: displayName
      discovery: %[11]t%[10]s
    account:
      userName: "{{ email }}"
      name.givenName: "{{ first_name }}"
      name.familyName: "{{ last_name }}"
      displayName: "{{ first_name }} {{ last_name }}"
      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department: "{{ department }}"
    birthright: [all-staff]
    concurrency: 2
    lifecycle: {leaver: disable}
%[8]s
`

// testPolicy is the policy after its roles, and what follows.
const testPolicy = `  exclusions:
    persons: [E9999]
    when: employee_type == "service"
  thresholds: {creates: "1000", disables: "%[3]s", revokes: "%[7]s"}
engine:
  poll: 1h
  lease: 3h
api:
  max_body_bytes: 4096
  rate_limit: {per_second: %[4]s, burst: %[5]d}
  health: {min_attempts: 1}
%[6]s`

// seedPersons are in the feed of every world: E1..E3 get accounts, E9999
// is excluded and never touched.
var seedPersons = []string{
	"E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,",
	"E2,Alan,Turing,alan@example.com,Engineering,employee,2026-01-01,",
	"E3,Grace,Hopper,grace@example.com,Finance,employee,2026-01-01,",
	"E9999,Root,Service,root@example.com,Finance,employee,2026-01-01,",
}

type worldOptions struct {
	disables  string // the run-wide disable threshold (default 100%)
	revokes   string // the run-wide revoke threshold (default 100%)
	ratePerS  string
	rateBurst int
	extra     string // more config, appended
	sources   string // more sources, after hr
	reconcile string // the target's reconcile section, indented under it
	persons   []string
	// simSleep replaces the simulator's wait for injected latency, so a
	// test can hold a request at the target for as long as it needs.
	simSleep func(ctx context.Context, d time.Duration) error
	// dir holds the world (config, feed, store); default a temporary one.
	dir string
	// connection is more connection settings of the target, each
	// "\n      key: value".
	connection string
	// discoverWait, when set, turns the target's discovery on and bounds
	// how long planning waits for it (app.Options.DiscoverWait).
	discoverWait time.Duration
	// unplanned: the world's persons are imported, not enforced, so
	// nothing has planned (nor discovered) before the test.
	unplanned bool
}

// world is a running accord: store, engine, simulator, and the API over
// real HTTP, with an API key per scope.
type world struct {
	t      testing.TB
	dir    string
	sim    *targetsim.Sim
	app    *app.App
	srv    *api.Server
	url    string
	events *eventLog
	keys   map[string]string
	// wrongKey has a real key's ID and a made-up secret; revokedKey was
	// valid until revoked.
	wrongKey, revokedKey string
}

const testDay = "2026-03-02"

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	if o.disables == "" {
		o.disables = "100%"
	}
	if o.revokes == "" {
		o.revokes = "100%"
	}
	if o.ratePerS == "" {
		o.ratePerS, o.rateBurst = "10000", 10000
	}
	if o.persons == nil {
		o.persons = seedPersons
	}
	sw := simworld.New(t, simworld.Options{
		Sim:    targetsim.Options{Token: simToken, Sleep: o.simSleep},
		Groups: []string{"all-staff", "crm", "sales-drive", "github", "jira", "vip-lounge"},
		Config: func(sw *simworld.World) string {
			return fmt.Sprintf(testConfig, sw.URL, sw.TokenFile, o.disables, o.ratePerS, o.rateBurst, o.extra, o.revokes, o.reconcile, o.sources, o.connection, o.discoverWait > 0)
		},
		HR: testHR, Persons: o.persons, Dir: o.dir,
		App:      app.Options{Now: testkit.NewClock(testDay).Now, DiscoverWait: o.discoverWait},
		NoImport: true,
	})
	a := sw.App
	w := &world{t: t, dir: sw.Dir, sim: sw.Sim, app: a, events: &eventLog{changed: make(chan struct{})}, keys: map[string]string{}}

	ctx, cancel := context.WithCancel(context.Background())
	eng := a.NewEngine(app.EngineOptions{OnEvent: w.events.add})
	d := daemon.New(daemon.Options{App: a, Engine: eng, Logger: testkit.QuietLogger()})
	a.ObserveEngine(d.Observe)
	w.srv = api.New(api.Options{App: a, Engine: eng, Daemon: d, Logger: testkit.QuietLogger()})
	a.ObserveEngine(w.srv.Observe)
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
	w.revokedKey = w.newKey("revoked", api.ScopeAdmin)
	_, err := api.RevokeKey(context.Background(), a.Store, "revoked", "test", a.Now())
	require.NoError(t, err)
	good := w.keys[api.ScopeAdmin]
	w.wrongKey = good[:len(good)-8] + "AAAAAAAA"

	_, err = a.Import(context.Background(), "")
	require.NoError(t, err)
	if !o.unplanned {
		w.enforceAll()
	}
	return w
}

func (w *world) newKey(name string, scopes ...string) string {
	w.t.Helper()
	key, _, err := api.CreateKey(context.Background(), w.app.Store, name, scopes, time.Time{}, "test", w.app.Now())
	require.NoError(w.t, err)
	return key
}

// enforceAll plans everything over the API and waits for the run.
func (w *world) enforceAll() {
	w.t.Helper()
	r := w.do("POST", "/api/v1/enforce", w.keys[api.ScopeAdmin], nil)
	if r.status == http.StatusOK {
		return
	}
	require.Equal(w.t, http.StatusCreated, r.status, r.text())
	w.waitRun(r.runID())
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) text() string { return string(r.body) }

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (r response) runID() string {
	var v struct {
		Run *struct {
			ID string `json:"id"`
		} `json:"run"`
	}
	if json.Unmarshal(r.body, &v) != nil || v.Run == nil {
		return ""
	}
	return v.Run.ID
}

// do sends a request. body is sent as is when it is a string or []byte,
// as JSON otherwise; key "" sends no Authorization.
func (w *world) do(method, path, key string, body any, header ...string) response {
	w.t.Helper()
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	case []byte:
		sent = b
	default:
		data, err := json.Marshal(b)
		require.NoError(w.t, err)
		sent = data
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(sent)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	require.NoError(w.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(w.t, err)
	checkContract(w.t, req, sent, resp.StatusCode, resp.Header, data)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// admin sends a request with the admin key and requires the status.
func (w *world) admin(method, path string, body any, status int) response {
	w.t.Helper()
	r := w.do(method, path, w.keys[api.ScopeAdmin], body)
	require.Equal(w.t, status, r.status, "%s %s: %s", method, path, r.text())
	return r
}

// waitRun waits, on engine events, for a run to finish and returns it.
func (w *world) waitRun(id string) model.Run {
	w.t.Helper()
	require.NotEmpty(w.t, id)
	for from := 0; ; {
		r, err := w.app.Store.GetRun(context.Background(), id)
		require.NoError(w.t, err)
		if r.State.Final() {
			return r
		}
		from = w.events.waitFor(w.t, from, func(ev engine.Event) bool { return ev.Type == engine.EventRunDone })
	}
}

// simMark is the simulator's request log position.
func (w *world) simMark() uint64 {
	last, ok := w.sim.LastRequest()
	if !ok {
		return 0
	}
	return last.Seq
}

// writesSince lists the requests since mark that change something on
// the target, as "METHOD path body-summary"; reads (group look-ups,
// read-backs) are left out.
func (w *world) writesSince(mark uint64) []targetsim.Request {
	var out []targetsim.Request
	for _, r := range w.sim.RequestsSince(mark) {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func (w *world) account(person string) model.Account {
	w.t.Helper()
	a, err := w.app.Store.GetAccount(context.Background(), "saas", person)
	require.NoError(w.t, err)
	return a
}

func (w *world) groupID(name string) string {
	w.t.Helper()
	g, ok := w.sim.SCIM().GroupByName(name)
	require.True(w.t, ok, name)
	return g.Str("id")
}

func (w *world) audit(q store.AuditQuery) []string {
	w.t.Helper()
	recs, err := w.app.Store.ListAudit(context.Background(), q)
	require.NoError(w.t, err)
	var out []string
	for _, r := range recs {
		b, _ := json.Marshal(r)
		out = append(out, string(b))
	}
	return out
}

// hold keeps a request at the simulator (one with an injected latency)
// until released, so that a test can act while it is in flight.
type hold struct {
	arrived chan struct{}
	release chan struct{}
}

func newHold() *hold { return &hold{arrived: make(chan struct{}, 1), release: make(chan struct{})} }

// sleep is the simulator's wait for injected latency (worldOptions.simSleep).
func (h *hold) sleep(ctx context.Context, _ time.Duration) error {
	h.arrived <- struct{}{}
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// eventLog keeps every engine event and lets tests wait for one.
type eventLog struct {
	mu      sync.Mutex
	evs     []engine.Event
	changed chan struct{}
}

func (l *eventLog) add(ev engine.Event) {
	// The engine reuses what the pointers point to: keep copies.
	if ev.Action != nil {
		a := *ev.Action
		ev.Action = &a
	}
	if ev.Run != nil {
		r := *ev.Run
		ev.Run = &r
	}
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// mark is the number of events so far.
func (l *eventLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.evs)
}

func (l *eventLog) since(from int) []engine.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]engine.Event(nil), l.evs[from:]...)
}

// waitFor waits for an event at index >= from matching pred and returns
// the index after it. The deadline only guards against a hang.
func (l *eventLog) waitFor(t testing.TB, from int, pred func(engine.Event) bool) int {
	t.Helper()
	// Generous: the package's tests run in parallel under -race beside
	// other packages on two cores, where a run has been seen to take 50 s.
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for i := from; i < len(l.evs); i++ {
			if pred(l.evs[i]) {
				l.mu.Unlock()
				return i + 1
			}
		}
		from = len(l.evs)
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no such engine event after 2m; events so far: %d", from)
		}
	}
}
