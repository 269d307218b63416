// Package enginetest runs the REST connector under the real engine:
// import, plan, execute, against the simulator's session-login API. It
// is a package of its own so that the connector's tests do not depend on
// the engine's.
package enginetest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"

	_ "github.com/accord-iam/accord/internal/connector/rest"
)

// hr is a feed of the fewest columns: the test is about the target.
var hr = testkit.HR{Columns: []string{"employee_id", "email", "start_date"}}

var config = "\nstore: {path: accord.db}\n" + hr.Source() + targets

const targets = `targets:
  - name: jc
    type: rest
    connection:
      url: "%s"
      auth: {type: session, username: svc, password: "${file:%s}",
             login: {url: /session, body: '{"username": {{ username }}, "password": {{ password }}}'},
             logout: {url: /session}}
      response: {entitlements: "$.memberOf[*]", active: {path: $.suspended, equals: false}}
      operations:
        create: {url: /users, body: '{"username": {{ account.username }}}'}
        get: {url: "/users/{{ native_id }}"}
        find: {url: "/users?username={{ account.username }}", response: {items: "$.results[*]"}, match: [username]}
        disable: {method: PUT, url: "/users/{{ native_id }}", body: '{"suspended": true}'}
        grant: {url: "/usergroups/{{ entitlement }}/members", body: '{"op": "add", "type": "user", "id": {{ native_id }}}'}
        revoke: {method: DELETE, url: "/usergroups/{{ entitlement }}/members/{{ native_id }}"}
    account:
      username: "{{ email }}"
    birthright: [%s]
    concurrency: 4
engine: {poll: 20ms, lease: 2s}
`

func TestEngineGrantsNineGroupsInOneSession(t *testing.T) {
	sim, base := simworld.StartSim(t, targetsim.Options{})
	sim.REST().Configure(targetsim.RESTOptions{Session: true, Username: "svc", Password: "pw-Engine-9x"})
	groups := make([]string, 9)
	for i := range groups {
		groups[i] = fmt.Sprintf("grp-%d", i+1)
		_, err := sim.REST().AddGroup(groups[i], "")
		require.NoError(t, err)
	}
	// An account that exists already: create answers 409, the engine finds and links it.
	existing, err := sim.REST().AddUser(map[string]any{"username": "p3@example.com"})
	require.NoError(t, err)

	dir := t.TempDir()
	pw := testkit.WriteFile(t, dir, "pw", "pw-Engine-9x")
	testkit.WriteFile(t, dir, "accord.yaml", fmt.Sprintf(config, base+"/rest/v1", pw, strings.Join(groups, ", ")))
	hr.Write(t, dir, "P1,p1@example.com,2026-01-01", "P2,p2@example.com,2026-01-01", "P3,p3@example.com,2026-01-01")

	now := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
	ctx := context.Background()
	a := testkit.OpenApp(t, dir, app.Options{Now: now})
	_, err = a.Import(ctx, "")
	require.NoError(t, err)
	run, _, err := a.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	require.NotNil(t, run)
	testkit.Drain(t, a, nil, 60*time.Second)
	got, err := a.Store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, got.State)

	for _, p := range []string{"p1", "p2", "p3"} {
		u, ok := sim.REST().UserByName(p + "@example.com")
		require.True(t, ok, p)
		require.Equal(t, groups, u.Groups, p)
		for _, g := range groups {
			var n int
			for _, c := range sim.REST().Calls() {
				if c.Method == "POST" && c.RawPath == "/rest/v1/usergroups/"+g+"/members" {
					n++
				}
			}
			require.Equal(t, 3, n, "one grant per person to %s", g)
		}
	}
	u, _ := sim.REST().UserByName("p3@example.com")
	require.Equal(t, existing, u.ID, "linked, not duplicated")
	require.Len(t, sim.REST().Users(), 3)
	for _, r := range sim.RequestsTo("", "/rest/v1/usergroups/") {
		require.Equal(t, http.StatusNoContent, r.Status, "no 409: %s %s", r.Method, r.Path)
	}
	require.Equal(t, 1, sim.REST().Logins(), "concurrent workers shared one session")
}
