package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/targetsim"
)

// Tests against the target simulator: what exactly goes over the wire,
// and faults a real server cannot be asked to produce.

const simToken = "sim-token-Zq8-secret"

func startSim(t *testing.T, opts targetsim.Options) (*targetsim.Sim, target) {
	t.Helper()
	opts.Token = simToken
	sim := targetsim.New(opts)
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, target{url: base + "/scim/v2", token: simToken}
}

// simConn opens a connector on a fresh simulator and forgets the
// discovery requests, so tests see only what their own calls sent.
func simConn(t *testing.T, opts targetsim.Options, edit func(*scim.Settings)) (*targetsim.Sim, *scim.Conn) {
	t.Helper()
	sim, tg := startSim(t, opts)
	c := open(t, tg, edit)
	_, err := c.Schema(context.Background())
	require.NoError(t, err)
	sim.ResetLog()
	return sim, c
}

func only(t *testing.T, sim *targetsim.Sim) targetsim.Request {
	t.Helper()
	reqs := sim.Requests()
	require.Len(t, reqs, 1, "%+v", reqs)
	return reqs[0]
}

func jsonOf(t *testing.T, body string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	return v
}

func TestSimCreateSendsTheResource(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, nil)
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "run-1", ActionID: 12, Sink: audit.Discard})
	attrs := person("ann")
	attrs[`phoneNumbers[type eq "mobile"].value`] = "+1 555"
	attrs["displayName"] = "" // no value: not sent
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
	require.NoError(t, err)

	r := only(t, sim)
	require.Equal(t, "POST", r.Method)
	require.Equal(t, "/scim/v2/Users", r.Path)
	require.Equal(t, "application/scim+json", r.Header.Get("Content-Type"))
	require.Equal(t, "Bearer "+simToken, r.Header.Get("Authorization"))
	require.Equal(t, "run-1/12", r.Header.Get("X-Correlation-ID"))
	require.Equal(t, jsonOf(t, `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName": "ann",
		"externalId": "ext-ann",
		"active": true,
		"name": {"givenName": "Ann", "familyName": "Example"},
		"emails": [{"type": "work", "value": "ann@example.com"}],
		"phoneNumbers": [{"type": "mobile", "value": "+1 555"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "1001"}
	}`), jsonOf(t, r.Body))

	u, ok := sim.SCIM().User(a.NativeID)
	require.True(t, ok)
	require.Equal(t, "1001", u.Str(enterpriseEmployeeNumber))
}

func TestSimUpdateSendsOnlyChanges(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, nil)
	ctx := context.Background()
	a := create(t, c, person("ann"))
	sim.ResetLog()

	require.NoError(t, c.Update(ctx, ref(a), model.Attributes{
		"name.givenName":               "Annie",
		`emails[type eq "work"].value`: "annie@example.com",
		enterpriseEmployeeNumber:       "2002",
		"displayName":                  nil,
	}))
	r := only(t, sim)
	require.Equal(t, "PATCH", r.Method)
	require.Equal(t, "/scim/v2/Users/"+a.NativeID, r.Path)
	require.Equal(t, jsonOf(t, `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [
			{"op": "remove", "path": "displayName"},
			{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "annie@example.com"},
			{"op": "replace", "path": "name.givenName", "value": "Annie"},
			{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "2002"}
		]}`), jsonOf(t, r.Body))

	got, err := c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.Equal(t, "annie@example.com", got.Attributes[`emails[type eq "work"].value`])
	require.Equal(t, "2002", got.Attributes[enterpriseEmployeeNumber])
	require.NotContains(t, got.Attributes, "displayName")
	require.Equal(t, "Example", got.Attributes["name.familyName"])

	sim.ResetLog()
	require.NoError(t, c.Update(ctx, ref(a), nil))
	require.Empty(t, sim.Requests(), "nothing to change, nothing sent")
}

// RFC 7644 §3.5.2.3: a replace through a value filter that matches no
// element is noTarget (SCIMMY answers so; the simulator is lenient, so
// the answer is injected here). The connector reads the User and adds
// the element whole.
func TestSimUpdateAddsMissingElementAfterNoTarget(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, nil)
	ctx := context.Background()
	a := create(t, c, person("ann"))
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "PATCH", Times: 1, Status: 400,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"noTarget","detail":"no match"}`})
	require.NoError(t, err)
	sim.ResetLog()
	require.NoError(t, c.Update(ctx, ref(a), model.Attributes{
		`phoneNumbers[type eq "mobile"].value`: "+1 555",
		`emails[type eq "work"].value`:         "new@example.com",
		`emails[type eq "home"].value`:         nil,
	}))
	reqs := sim.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, []string{"PATCH", "GET", "PATCH"}, []string{reqs[0].Method, reqs[1].Method, reqs[2].Method})
	require.Equal(t, jsonOf(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"remove","path":"emails[type eq \"home\"]"},
		{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@example.com"},
		{"op":"replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555"}]}`), jsonOf(t, reqs[0].Body))
	require.Equal(t, jsonOf(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@example.com"},
		{"op":"add","path":"phoneNumbers","value":[{"type":"mobile","value":"+1 555"}]}]}`), jsonOf(t, reqs[2].Body))
	got, err := c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.Equal(t, "+1 555", got.Attributes[`phoneNumbers[type eq "mobile"].value`])
	require.Equal(t, "new@example.com", got.Attributes[`emails[type eq "work"].value`])
}

func TestSimEnableDisable(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{PatchNoContent: true}, nil)
	ctx := context.Background()
	a := create(t, c, person("ann"))
	for _, active := range []bool{false, true} {
		sim.ResetLog()
		if active {
			require.NoError(t, c.Enable(ctx, ref(a)))
		} else {
			require.NoError(t, c.Disable(ctx, ref(a)))
		}
		r := only(t, sim)
		require.Equal(t, http.StatusNoContent, r.Status)
		require.Equal(t, jsonOf(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":`+map[bool]string{true: "true", false: "false"}[active]+`}]}`), jsonOf(t, r.Body))
		u, _ := sim.SCIM().User(a.NativeID)
		require.Equal(t, active, u.Get("active"))
	}
}

func TestSimGrantRevokeRequests(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) { s.EntitlementBy = "displayName" })
	ctx := context.Background()
	g1, err := sim.SCIM().CreateGroup("Sales")
	require.NoError(t, err)
	g2, err := sim.SCIM().CreateGroup(`R&D "Labs"`)
	require.NoError(t, err)
	a := create(t, c, person("ann"))
	sim.ResetLog()

	require.NoError(t, c.Grant(ctx, ref(a), []string{"Sales", `R&D "Labs"`}))
	patches := sim.RequestsTo("PATCH", "/scim/v2/Groups/")
	require.Len(t, patches, 2, "one PATCH per group")
	require.Equal(t, "/scim/v2/Groups/"+g1.ID, patches[0].Path)
	require.Equal(t, jsonOf(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+a.NativeID+`"}]}]}`), jsonOf(t, patches[0].Body))
	lookups := sim.RequestsTo("GET", "/scim/v2/Groups")
	require.Len(t, lookups, 2)
	require.Equal(t, `displayName eq "R&D \"Labs\""`, lookups[1].Query().Get("filter"))
	require.Equal(t, []string{a.NativeID}, sim.SCIM().Members(g2.ID))

	sim.ResetLog()
	require.NoError(t, c.Revoke(ctx, ref(a), []string{`R&D "Labs"`}))
	r := only(t, sim) // the name is cached now
	require.Equal(t, "/scim/v2/Groups/"+g2.ID, r.Path)
	require.Equal(t, jsonOf(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+a.NativeID+`\"]"}]}`), jsonOf(t, r.Body))
	require.Empty(t, sim.SCIM().Members(g2.ID))

	got, err := c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.Equal(t, []string{"Sales"}, got.Entitlements)
}

func TestSimRemoveMemberByValueQuirk(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) { s.Quirks.RemoveMemberByValue = true })
	g, err := sim.SCIM().CreateGroup("Sales")
	require.NoError(t, err)
	a := create(t, c, person("ann"))
	require.NoError(t, c.Grant(context.Background(), ref(a), []string{g.ID}))
	sim.ResetLog()
	require.NoError(t, c.Revoke(context.Background(), ref(a), []string{g.ID}))
	r := only(t, sim)
	require.Equal(t, jsonOf(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members","value":[{"value":"`+a.NativeID+`"}]}]}`), jsonOf(t, r.Body))
	require.Empty(t, sim.SCIM().Members(g.ID))
}

func TestSimFindEscapesHostileValues(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, nil)
	ctx := context.Background()
	for _, n := range hostile {
		a := create(t, c, person(n))
		sim.ResetLog()
		got, err := c.Find(ctx, model.Attributes{"userName": n})
		require.NoError(t, err, n)
		require.Equal(t, a.NativeID, got.NativeID, n)
		r := only(t, sim)
		require.Equal(t, "/scim/v2/Users", r.Path)
		require.Equal(t, "userName eq "+mustJSON(t, n), r.Query().Get("filter"), "sent as a JSON string, without loose search")
	}
}

// mustJSON is s as a JSON string, as a filter carries it.
func mustJSON(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(s))
	return strings.TrimSpace(b.String())
}

func TestSimFindConflictWhenSeveralMatch(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) { s.UserFilter = "externalId" })
	for _, n := range []string{"a", "b"} {
		_, err := sim.SCIM().CreateUser(n, map[string]any{"externalId": "same"})
		require.NoError(t, err)
	}
	_, err := c.Find(context.Background(), model.Attributes{"externalId": "same"})
	requireKind(t, connector.Conflict, err)
}

func TestSimPagingWhenTargetCapsThePage(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{MaxResults: 2}, func(s *scim.Settings) { s.PageSize = 5 })
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		_, err := sim.SCIM().CreateUser(n, nil)
		require.NoError(t, err)
	}
	var names []string
	var cursors []string
	for cursor, first := "", true; first || cursor != ""; first = false {
		p, err := c.ListAccounts(context.Background(), cursor)
		require.NoError(t, err)
		for _, a := range p.Items {
			names = append(names, a.Attributes["userName"].(string))
		}
		cursor = p.Next
		cursors = append(cursors, cursor)
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, names)
	require.Equal(t, []string{"3", "5", ""}, cursors)
	for _, r := range sim.RequestsTo("GET", "/scim/v2/Users") {
		require.Equal(t, "5", r.Query().Get("count"))
	}
}

func TestSimDiscoveryOnce(t *testing.T) {
	t.Parallel()
	sim, tg := startSim(t, targetsim.Options{})
	c := open(t, tg, nil)
	ctx := context.Background()
	a := create(t, c, person("ann"))
	_, err := c.Get(ctx, ref(a))
	require.NoError(t, err)
	for _, p := range []string{"/scim/v2/ServiceProviderConfig", "/scim/v2/Schemas", "/scim/v2/ResourceTypes"} {
		require.Len(t, sim.RequestsTo("GET", p), 1, p)
	}
	s, err := c.Schema(ctx)
	require.NoError(t, err)
	require.True(t, s.ConfigOffered)
	def, ok := s.Lookup("userName")
	require.True(t, ok)
	require.True(t, def.Required)
}

func TestSimFaultsBecomeKinds(t *testing.T) {
	t.Parallel()
	scimErr := func(status, typ, detail string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"` + status + `","scimType":"` + typ + `","detail":"` + detail + `"}`
	}
	cases := []struct {
		name   string
		rule   targetsim.Rule
		kind   connector.Kind
		status int
		wait   time.Duration
		attr   string
	}{
		{"rate limited", targetsim.Rule{Kind: targetsim.FaultRateLimit, RetryAfter: targetsim.Duration(7 * time.Second)}, connector.RateLimited, 429, 7 * time.Second, ""},
		{"unavailable with retry-after", targetsim.Rule{Kind: targetsim.FaultFail, Status: 503, RetryAfter: targetsim.Duration(30 * time.Second)}, connector.Unavailable, 503, 30 * time.Second, ""},
		{"server error", targetsim.Rule{Kind: targetsim.FaultFail, Status: 500}, connector.Unavailable, 500, 0, ""},
		{"down and refusing", targetsim.Rule{Kind: targetsim.FaultDown, Refuse: true}, connector.Unavailable, 0, 0, ""},
		{"dropped", targetsim.Rule{Kind: targetsim.FaultDrop}, connector.Unavailable, 0, 0, ""},
		{"too slow", targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(time.Minute)}, connector.Timeout, 0, 0, ""},
		{"unauthorized", targetsim.Rule{Kind: targetsim.FaultFail, Status: 401}, connector.Auth, 401, 0, ""},
		{"forbidden", targetsim.Rule{Kind: targetsim.FaultFail, Status: 403}, connector.Forbidden, 403, 0, ""},
		{"precondition failed", targetsim.Rule{Kind: targetsim.FaultFail, Status: 412}, connector.Conflict, 412, 0, ""},
		{"uniqueness", targetsim.Rule{Kind: targetsim.FaultFail, Status: 409, Body: scimErr("409", "uniqueness", "userName taken")}, connector.Conflict, 409, 0, ""},
		{"invalid value", targetsim.Rule{Kind: targetsim.FaultFail, Status: 400, Body: scimErr("400", "invalidValue", "name.givenName must be a string")}, connector.Validation, 400, 0, "name.givenName"},
		{"invalid path", targetsim.Rule{Kind: targetsim.FaultFail, Status: 400, Body: scimErr("400", "invalidPath", "bad path emails")}, connector.Validation, 400, 0, `emails[type eq "work"].value`},
		{"not found", targetsim.Rule{Kind: targetsim.FaultFail, Status: 404}, connector.NotFound, 404, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) { s.Timeout = 300 * time.Millisecond })
			a := create(t, c, person("ann"))
			tc.rule.Method = "PATCH"
			tc.rule.Times = 1
			_, err := sim.AddFault(tc.rule)
			require.NoError(t, err)
			err = c.Update(context.Background(), ref(a), model.Attributes{"name.givenName": "X", `emails[type eq "work"].value`: "x@example.com"})
			e := requireKind(t, tc.kind, err)
			require.Equal(t, tc.status, e.Status)
			require.Equal(t, tc.wait, e.RetryAfter)
			require.Equal(t, tc.attr, e.Attribute)
			require.NotContains(t, err.Error(), simToken)
		})
	}
}

func TestSimPutIsConditional(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) { off := false; s.Patch = &off })
	ctx := context.Background()
	a := create(t, c, person("ann"))
	require.NoError(t, c.Grant(ctx, ref(a), []string{mustGroup(t, sim, "Sales")}))
	sim.ResetLog()
	require.NoError(t, c.Update(ctx, ref(a), model.Attributes{"name.givenName": "Annie"}))
	reqs := sim.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "GET", reqs[0].Method)
	put := reqs[1]
	require.Equal(t, "PUT", put.Method)
	u, _ := sim.SCIM().User(a.NativeID)
	require.NotEmpty(t, put.Header.Get("If-Match"))
	require.NotEqual(t, u.Version, put.Header.Get("If-Match"), "the version moved on with the write")
	var body map[string]any
	require.NoError(t, put.DecodeBody(&body))
	require.NotContains(t, body, "meta")
	require.NotContains(t, body, "groups")
	require.Equal(t, "Annie", u.Str("name.givenName"))
	require.Equal(t, "Example", u.Str("name.familyName"))

	// Someone changed the User between our read and our write.
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "PUT", Status: 412, Times: 1})
	require.NoError(t, err)
	requireKind(t, connector.Conflict, c.Disable(ctx, ref(a)))
}

func mustGroup(t *testing.T, sim *targetsim.Sim, name string) string {
	t.Helper()
	g, err := sim.SCIM().CreateGroup(name)
	require.NoError(t, err)
	return g.ID
}

func TestSimDiscoveryToleratesMissingEndpoints(t *testing.T) {
	t.Parallel()
	sim, tg := startSim(t, targetsim.Options{})
	for _, p := range []string{"/scim/v2/Schemas", "/scim/v2/ResourceTypes"} {
		_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "GET", Path: p, Status: 404})
		require.NoError(t, err)
	}
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "GET", Path: "/scim/v2/ServiceProviderConfig", Status: 503, Times: 1})
	require.NoError(t, err)
	c := open(t, tg, nil)
	ctx := context.Background()

	_, err = c.Schema(ctx)
	requireKind(t, connector.Unavailable, err)

	s, err := c.Schema(ctx)
	require.NoError(t, err, "discovery is tried again after an outage")
	require.True(t, s.ConfigOffered)
	require.False(t, s.SchemasOffered)
	require.False(t, s.ResourceTypesOffered)
	require.Equal(t, "/Users", s.UserEndpoint)
	create(t, c, person("ann"))
}

func TestIDsAreEscapedInPaths(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var uris []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	off := false
	c, err := scim.New(scim.Settings{URL: srv.URL + "/scim/v2/", Discovery: &off}, mapping)
	require.NoError(t, err)
	_, err = c.Get(context.Background(), connector.AccountRef{NativeID: `a/b "c" d?e#f%g ü`})
	requireKind(t, connector.NotFound, err)
	require.Equal(t, []string{"/scim/v2/Users/a%2Fb%20%22c%22%20d%3Fe%23f%25g%20%C3%BC"}, uris)
}

// Discovery is single-flight: many jobs starting at once send one
// discovery, and when it fails they share the failure instead of each
// sending its own (issue 12: 300 concurrent GET /ServiceProviderConfig).
func TestSimDiscoveryIsSingleFlight(t *testing.T) {
	t.Parallel()
	sim, tg := startSim(t, targetsim.Options{})
	spc := "/scim/v2/ServiceProviderConfig"
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Method: "GET", Path: spc, Times: 1,
		RetryAfter: targetsim.Duration(time.Second), Delay: targetsim.Duration(100 * time.Millisecond)})
	require.NoError(t, err)
	c := open(t, tg, nil)
	p := pace.New("sim", pace.Settings{PerSecond: 50}, pace.Options{})
	ctx := p.With(context.Background())

	const callers = 32
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { _, errs[i] = c.Schema(ctx) })
	}
	wg.Wait()
	require.Len(t, sim.RequestsTo("GET", spc), 1, "one discovery for all callers")
	for _, err := range errs {
		requireKind(t, connector.RateLimited, err)
	}
	require.False(t, p.Status().PausedUntil.IsZero(), "the 429 holds every request to the target, discovery included")

	// Until the Retry-After has passed nobody discovers again, even a
	// caller without the pacing in its context; after it, once.
	_, err = c.Schema(context.Background())
	retry := requireKind(t, connector.RateLimited, err)
	require.Positive(t, retry.RetryAfter)
	require.Len(t, sim.RequestsTo("GET", spc), 1)
	time.Sleep(retry.RetryAfter) // what the target asked for

	schemas := make([]*scim.Schema, callers)
	for i := range callers {
		wg.Go(func() {
			var err error
			schemas[i], err = c.Schema(ctx)
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Same(t, schemas[0], schemas[i], "every caller shares the one discovery")
	}
	reqs := sim.RequestsTo("GET", spc)
	require.Len(t, reqs, 2, "discovery again once, after the failure")
	require.False(t, reqs[1].Time.Before(reqs[0].Time.Add(time.Second)), "the second discovery waited for the Retry-After")
}

// A gate's refusal (the engine's: its lease is not surely held) reaches
// the caller as itself, through the HTTP client and the connector's
// error kinds, and nothing is sent.
func TestSimGateRefusalIsKeptAndNothingIsSent(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, nil)
	refused := errors.New("not mine to send")
	ctx := connector.WithGate(context.Background(), func(context.Context) error { return refused })
	before := len(sim.Requests())
	_, err := c.Create(ctx, connector.CreateRequest{PersonKey: "E1", Attributes: model.Attributes{"userName": "e1@example.com"}})
	require.ErrorIs(t, err, refused)
	err = c.Grant(ctx, connector.AccountRef{PersonKey: "E1", NativeID: "x"}, []string{"g"})
	require.ErrorIs(t, err, refused)
	require.Len(t, sim.Requests(), before, "nothing reached the target")
}
