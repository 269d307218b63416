package targetsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdminFaultsAPI(t *testing.T) {
	clk := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clk.Now, Token: "tok"})
	add := c.do("POST", "/_sim/faults", `{"kind":"rate_limit","method":"POST","path":"/scim/v2/Users","times":1,"retryAfter":"2s"}`, "Authorization", "")
	require.Equal(t, 201, add.status, "%s", add.raw)
	id := add.str("id")
	require.NotEmpty(t, id)

	var rules []RuleStatus
	list := c.do("GET", "/_sim/faults", nil, "Authorization", "")
	require.NoError(t, json.Unmarshal(list.raw, &rules))
	require.Len(t, rules, 1)
	require.Equal(t, FaultRateLimit, rules[0].Kind)
	require.Equal(t, Duration(2*time.Second), rules[0].RetryAfter)
	require.Equal(t, 1, rules[0].Remaining)

	r := c.do("POST", "/scim/v2/Users", userBody("uma", nil))
	require.Equal(t, 429, r.status)
	require.Equal(t, "2", r.header.Get("Retry-After"))
	c.do("POST", "/scim/v2/Users", userBody("uma", nil))

	var v []Violation
	require.NoError(t, json.Unmarshal(c.do("GET", "/_sim/violations", nil).raw, &v))
	require.Len(t, v, 1)

	stats := c.do("GET", "/_sim/stats", nil)
	require.Equal(t, 200, stats.status)
	require.Equal(t, float64(2), stats.body["requests"])
	require.Equal(t, float64(1), stats.body["violations"])
	require.Equal(t, float64(1), stats.body["users"])
	require.Equal(t, map[string]any{"201": float64(1), "429": float64(1)}, stats.body["byStatus"])
	require.Equal(t, map[string]any{"rate_limit": float64(1)}, stats.body["faults"])

	for _, bad := range []string{`{"kind":"nope"}`, `{"kind":"fail","fraction":2}`, `{"kind":"fail","unknown":1}`, `{"kind":"latency","delay":"soon"}`, `not json`} {
		r := c.do("POST", "/_sim/faults", bad)
		require.Equal(t, 400, r.status, bad)
		require.NotEmpty(t, r.str("error"))
	}
	second := c.do("POST", "/_sim/faults", `{"kind":"down","delay":1.5}`).str("id")
	require.Equal(t, 204, c.do("DELETE", "/_sim/faults/"+second, nil).status)
	require.Equal(t, 404, c.do("DELETE", "/_sim/faults/"+second, nil).status)
	c.do("POST", "/_sim/faults", `{"kind":"down"}`)
	require.Equal(t, 503, c.do("GET", "/scim/v2/Users", nil).status)
	require.Equal(t, 204, c.do("DELETE", "/_sim/faults", nil).status)
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users", nil).status)
	require.Empty(t, s.Faults())
}

func TestAdminRequestsResetAndState(t *testing.T) {
	s, c := startSim(t, Options{})
	c.createUser("vera", nil)
	c.do("GET", "/scim/v2/Users?filter="+`userName%20eq%20%22vera%22`, nil)

	var log []Request
	require.NoError(t, json.Unmarshal(c.do("GET", "/_sim/requests", nil).raw, &log))
	require.Len(t, log, 2, "admin requests are not logged")
	require.Equal(t, "POST", log[0].Method)
	require.Equal(t, `filter=userName%20eq%20%22vera%22`, log[1].RawQuery)
	require.Equal(t, `userName eq "vera"`, log[1].Query().Get("filter"))

	var since []Request
	require.NoError(t, json.Unmarshal(c.do("GET", "/_sim/requests?since="+itoaU(log[0].Seq), nil).raw, &since))
	require.Len(t, since, 1)
	require.Equal(t, log[1].Seq, since[0].Seq)
	require.Equal(t, 400, c.do("GET", "/_sim/requests?since=x", nil).status)

	require.Equal(t, 204, c.do("DELETE", "/_sim/requests", nil).status)
	require.Empty(t, s.Requests())
	require.Equal(t, "[]\n", string(c.do("GET", "/_sim/requests", nil).raw))

	state := c.do("GET", "/_sim/state", nil)
	require.Equal(t, 200, state.status)
	require.Len(t, state.body["users"], 1)

	c.do("POST", "/_sim/faults", `{"kind":"down"}`)
	require.Equal(t, 204, c.do("POST", "/_sim/reset", nil).status)
	require.Empty(t, s.SCIM().Users())
	require.Empty(t, s.Faults())
	require.Empty(t, s.Requests())
	require.Equal(t, uint64(0), s.Stats().Requests)

	load := c.do("POST", "/_sim/state", string(state.raw))
	require.Equal(t, 204, load.status, "%s", load.raw)
	_, ok := s.SCIM().UserByName("vera")
	require.True(t, ok)
	require.Equal(t, 400, c.do("POST", "/_sim/state", `{"users":[{"name":{}}]}`).status)
}

func TestAdminAnswersLoopbackOnly(t *testing.T) {
	s := New(Options{})
	for _, remote := range []string{"192.0.2.10:4000", "[2001:db8::1]:4000"} {
		req := httptest.NewRequest("POST", "/_sim/reset", nil)
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		require.Equal(t, 403, w.Code)
	}
	req := httptest.NewRequest("GET", "/_sim/stats", nil)
	req.RemoteAddr = "[::1]:4000"
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	require.Equal(t, 200, w.Code)
}

func TestHandlerUnderHTTPTestLearnsBaseURL(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := &client{t: t, base: ts.URL, hc: ts.Client()}
	r := c.do("POST", "/scim/v2/Users", userBody("wes", nil))
	require.Equal(t, ts.URL+"/scim/v2/Users/"+r.str("id"), r.header.Get("Location"))
	require.Equal(t, ts.URL, s.URL())
}

const seedDoc = `{
  "users": [
    {"id": "u-alice", "userName": "alice", "name": {"givenName": "Alice"}, "active": true},
    {"userName": "bob", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}}
  ],
  "groups": [
    {"displayName": "all-staff", "members": [{"userName": "alice"}, {"userName": "BOB"}, {"group": "admins"}]},
    {"id": "g-admins", "displayName": "admins", "members": [{"value": "u-alice"}]}
  ]
}`

func TestSeedStateAndResetRestoresIt(t *testing.T) {
	s, c := startSim(t, Options{})
	require.NoError(t, s.LoadState(strings.NewReader(seedDoc)))
	alice := c.do("GET", "/scim/v2/Users/u-alice", nil)
	require.Equal(t, 200, alice.status)
	require.Len(t, alice.body["groups"], 2)
	staff, ok := s.SCIM().GroupByName("all-staff")
	require.True(t, ok)
	bob, _ := s.SCIM().UserByName("bob")
	require.Equal(t, []string{"u-alice", bob.ID, "g-admins"}, s.SCIM().Members(staff.ID))
	require.Equal(t, "Ops", bob.Get(SchemaEnterprise+":department"))

	c.createUser("extra", nil)
	s.Reset()
	require.Len(t, s.SCIM().Users(), 2, "reset goes back to the seed")
	_, ok = s.SCIM().User("u-alice")
	require.True(t, ok)

	// a dump loads back into an empty simulator with the same ids
	dump, err := json.Marshal(s.SCIM().State())
	require.NoError(t, err)
	other := New(Options{})
	require.NoError(t, other.LoadState(bytes.NewReader(dump)))
	require.Equal(t, s.SCIM().Members("g-admins"), other.SCIM().Members("g-admins"))
	require.Len(t, other.SCIM().Groups(), 2)
}

func TestBadSeedNamesWhereAndChangesNothing(t *testing.T) {
	tests := []struct{ doc, want string }{
		{`{"users":[{"userName":"a"},{"userName":"b","active":"yes"}]}`, `users[1]: scim 400 invalidValue: attribute "active"`},
		{`{"users":[{"userName":"a"},{"userName":"A"}]}`, `users[1]: scim 409 uniqueness`},
		{`{"users":[{"userName":"a"}],"groups":[{"displayName":"g","members":[{"userName":"zed"}]}]}`, `groups[0]: members[0]: no user has userName "zed"`},
		{`{"users":[],"groups":[{"displayName":"g","members":[{"value":"missing"}]}]}`, `groups[0]: scim 400 invalidValue`},
		{`{"people":[]}`, `unknown field "people"`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			s := New(Options{})
			_, err := s.SCIM().CreateUser("existing", nil)
			require.NoError(t, err)
			err = s.LoadState(strings.NewReader(tc.doc))
			require.ErrorContains(t, err, tc.want)
			require.Len(t, s.SCIM().Users(), 1)
			require.Empty(t, s.SCIM().Groups())
		})
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "seed.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"users":[{"nope":1}]}`), 0o600))
	err := New(Options{}).LoadStateFile(path)
	require.ErrorContains(t, err, path+": targetsim: seed: users[0]")
}

func TestServePrintsURLAndStopsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.json")
	require.NoError(t, os.WriteFile(path, []byte(seedDoc), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, "127.0.0.1:0", Options{SeedFile: path, Token: "tok"}, pw)
		pw.Close()
	}()
	line := make([]byte, 0, 64)
	buf := make([]byte, 1)
	for {
		_, err := pr.Read(buf)
		require.NoError(t, err)
		if buf[0] == '\n' {
			break
		}
		line = append(line, buf[0])
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base := string(line)
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)
	req, err := http.NewRequest("GET", base+"/scim/v2/Users/u-alice", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	cancel()
	require.NoError(t, <-done)

	err = Serve(context.Background(), "127.0.0.1:0", Options{SeedFile: filepath.Join(t.TempDir(), "missing.json")}, io.Discard)
	require.ErrorContains(t, err, "missing.json")
}

func itoaU(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
