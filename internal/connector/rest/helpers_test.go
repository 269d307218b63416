package rest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/rest"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/yamlx"
)

// mapping is the account mapping of the test target.
var mapping = []string{"username", "email", "firstname"}

const (
	simUser     = "svc-accord"
	simPassword = "pw-Lw7-secret-5Qz"
)

// jumpcloud is a JumpCloud-style target against the simulator: a
// session login, users, and per-group membership calls. %BASE% is the
// simulator's REST base URL, %AUTH% the auth block.
const jumpcloud = `
url: "%BASE%"
auth: %AUTH%
headers: {X-Org-Id: org-1}
response:
  active: {path: $.suspended, equals: false}
  entitlements: $.memberOf[*]
operations:
  create:
    url: /users
    success: [201]
    body: '{"username": {{ account.username }}, "email": {{ account.email }}, "firstname": {{ account.firstname }}}'
  get: {url: "/users/{{ native_id }}"}
  find: {url: "/users?username={{ account.username }}", response: {items: "$.results[*]"}, match: [username]}
  update: {method: PUT, url: "/users/{{ native_id }}", body: "{{ changes }}"}
  enable: {method: PUT, url: "/users/{{ native_id }}", body: '{"suspended": false}'}
  disable: {method: PUT, url: "/users/{{ native_id }}", body: '{"suspended": true}'}
  delete: {method: DELETE, url: "/users/{{ native_id }}"}
  grant:
    url: "/usergroups/{{ entitlement }}/members"
    body: '{"op": "add", "type": "user", "id": {{ native_id }}}'
  revoke: {method: DELETE, url: "/usergroups/{{ entitlement }}/members/{{ native_id }}"}
  list_accounts:
    url: "/users?limit={{ limit }}&skip={{ offset }}"
    response: {items: "$.results[*]", total: $.totalCount}
    paging: {style: offset, size: 2}
  list_entitlements:
    url: "/usergroups?limit={{ limit }}"
    response: {items: "$.results[*]"}
    paging: {style: link, size: 2}
`

// secretRef stores value in a file of the test's own and returns a
// reference to it (not an environment variable: tests run in parallel).
func secretRef(t *testing.T, value string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(p, []byte(value), 0o600))
	return "${file:" + p + "}"
}

// sessionAuth is the auth block of a session login against the simulator.
func sessionAuth(t *testing.T) string {
	t.Helper()
	return `{type: session, username: ` + simUser + `, password: "` + secretRef(t, simPassword) + `",
    login: {url: /session, body: '{"username": {{ username }}, "password": {{ password }}}'},
    logout: {url: /session}}`
}

// startSim serves a simulator whose REST surface accepts o.
func startSim(t *testing.T, o targetsim.RESTOptions) (*targetsim.Sim, string) {
	t.Helper()
	sim := targetsim.New(targetsim.Options{})
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.REST().Configure(o)
	return sim, base + "/rest/v1"
}

func sessionOptions() targetsim.RESTOptions {
	return targetsim.RESTOptions{Session: true, Username: simUser, Password: simPassword}
}

// settings fills the placeholders of a YAML template.
func settings(tmpl, base, auth string) string {
	return strings.NewReplacer("%BASE%", base, "%AUTH%", auth).Replace(tmpl)
}

// openYAML checks settings as `accord config check` does and opens the
// connector through the registry.
func openYAML(t *testing.T, src string, attrs []string) *rest.Conn {
	t.Helper()
	node, err := yamlx.Parse([]byte(src))
	require.NoError(t, err)
	f, ok := connector.Lookup("rest")
	require.True(t, ok)
	require.Empty(t, f.Check(node, connector.CheckEnv{Target: "jc", AccountAttributes: attrs}))
	c, err := connector.Open(context.Background(), "rest", connector.Spec{Target: "jc", Settings: node, AccountAttributes: attrs})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.(*rest.Conn)
}

// problems checks settings and returns the problems as strings.
func problems(t *testing.T, src string, attrs []string) []string {
	t.Helper()
	node, err := yamlx.Parse([]byte(src))
	require.NoError(t, err)
	f, _ := connector.Lookup("rest")
	var out []string
	for _, p := range f.Check(node, connector.CheckEnv{Target: "jc", AccountAttributes: attrs}) {
		out = append(out, p.String())
	}
	return out
}

// jcSim starts a session-auth simulator with groups and opens the
// JumpCloud-style connector against it.
func jcSim(t *testing.T, groups ...string) (*targetsim.Sim, *rest.Conn) {
	t.Helper()
	sim, base := startSim(t, sessionOptions())
	for _, g := range groups {
		_, err := sim.REST().AddGroup(g, "")
		require.NoError(t, err)
	}
	return sim, openYAML(t, settings(jumpcloud, base, sessionAuth(t)), mapping)
}

func person(name string) model.Attributes {
	return model.Attributes{"username": name, "email": name + "@example.com", "firstname": strings.ToUpper(name[:1]) + name[1:]}
}

func create(t *testing.T, ctx context.Context, c *rest.Conn, name string) connector.AccountRef {
	t.Helper()
	a, err := c.Create(ctx, connector.CreateRequest{PersonKey: "P-" + name, Attributes: person(name)})
	require.NoError(t, err)
	return connector.AccountRef{NativeID: a.NativeID, Link: a.Link, PersonKey: "P-" + name, Attributes: person(name)}
}

// callCtx is a context whose requests are audited into an audit log.
func callCtx() (context.Context, *testkit.AuditLog) {
	rec := &testkit.AuditLog{}
	return audit.WithCall(context.Background(), audit.Call{RunID: "run-7", ActionID: 3, Target: "jc", Sink: rec}), rec
}

// calls returns the REST calls with this method whose raw path starts
// with prefix (relative to /rest/v1).
func calls(sim *targetsim.Sim, method, prefix string) []targetsim.RESTCall {
	var out []targetsim.RESTCall
	for _, c := range sim.REST().Calls() {
		if (method == "" || c.Method == method) && strings.HasPrefix(c.RawPath, "/rest/v1"+prefix) {
			out = append(out, c)
		}
	}
	return out
}
