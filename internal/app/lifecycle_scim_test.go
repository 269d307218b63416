package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/scimtest"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// lifecycleHR is the feed of the lifecycle: two departments, with titles.
var lifecycleHR = testkit.HR{Columns: testkit.StandardColumns("title"), Departments: []string{"Sales", "Engineering"}}

// lifecycleConfig provisions a SCIM server; its URL and quirks are left
// to fill in.
var lifecycleConfig = "\nstore:\n  path: accord.db\n" + lifecycleHR.Source() + lifecycleTargets +
	testkit.DepartmentRoles("scim", []string{"crm"}, []string{"github"}) + lifecyclePolicy

const lifecycleTargets = `targets:
  - name: scim
    type: scim
    connection:
      url: %s
      auth: {type: bearer, token: "${env:LIFECYCLE_SCIM_TOKEN}"}
      entitlements_by: displayName
      user_filter: userName
%s
    account:
      userName: "{{ email }}"
      displayName: "{{ first_name }} {{ last_name }}"
      name.givenName: "{{ first_name }}"
      name.familyName: "{{ last_name }}"
      title: "{{ title }}"
      emails[type eq "work"].value: "{{ email }}"
    birthright: [all-staff]
    lifecycle: {provision_days_before: 7, leaver: disable}
    retry: {max_attempts: 3, base: 10ms, max: 50ms}
`

// lifecyclePolicy is the policy after its roles, and what follows.
const lifecyclePolicy = `  thresholds: {disables: "100%%"}
engine:
  poll: 20ms
  lease: 5s
`

// scimServer is a SCIM service the lifecycle runs against, read back over
// plain HTTP so that the checks do not trust the connector under test.
type scimServer struct {
	url, token string
	quirks     string
}

func (s scimServer) do(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	var rd bytes.Buffer
	if body != nil {
		require.NoError(t, json.NewEncoder(&rd).Encode(body))
	}
	req, err := http.NewRequest(method, s.url+path, &rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, "%s %s", method, path)
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func (s scimServer) one(t *testing.T, resource, attr, value string) map[string]any {
	t.Helper()
	res := s.do(t, "GET", "/"+resource+"?filter="+url.QueryEscape(fmt.Sprintf("%s eq %q", attr, value)), nil)
	items, _ := res["Resources"].([]any)
	require.Len(t, items, 1, "%s %s", resource, value)
	return items[0].(map[string]any)
}

func (s scimServer) users(t *testing.T) int {
	t.Helper()
	return int(s.do(t, "GET", "/Users?count=100", nil)["totalResults"].(float64))
}

// groupsOf lists the groups whose members include the user with userName.
func (s scimServer) groupsOf(t *testing.T, userName string) []string {
	t.Helper()
	id := s.one(t, "Users", "userName", userName)["id"]
	var out []string
	for _, g := range []string{"all-staff", "crm", "github"} {
		members, _ := s.one(t, "Groups", "displayName", g)["members"].([]any)
		for _, m := range members {
			if m.(map[string]any)["value"] == id {
				out = append(out, g)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestLifecycleOverSCIM runs joiner, mover, leaver and rehire through the
// SCIM connector against the simulator and against a real third-party
// SCIM server (SCIMMY), and reads the outcome back over HTTP.
func TestLifecycleOverSCIM(t *testing.T) {
	servers := map[string]func(t *testing.T) scimServer{
		"simulator": func(t *testing.T) scimServer {
			sim := targetsim.New(targetsim.Options{Token: "lifecycle-token-1234"})
			base, err := sim.Start("127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			return scimServer{url: base + "/scim/v2", token: "lifecycle-token-1234"}
		},
		"scimmy": func(t *testing.T) scimServer {
			base, token := scimtest.StartReal(t)
			return scimServer{url: base, token: token, quirks: "      quirks: {filter_no_escapes: true}"}
		},
	}
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			t.Setenv("LIFECYCLE_SCIM_TOKEN", srv.token)
			for _, g := range []string{"all-staff", "crm", "github"} {
				srv.do(t, "POST", "/Groups", map[string]any{
					"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": g})
			}
			runLifecycle(t, srv)
		})
	}
}

// lifecycleFeed returns a function that writes the HR feed's rows to
// dir, imports them, enforces, and waits until the run has succeeded.
func lifecycleFeed(t *testing.T, a *app.App, dir string) func(rows ...string) {
	return func(rows ...string) {
		t.Helper()
		data := lifecycleHR.Header() + strings.Join(rows, "\n") + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(data), 0o600))
		_, err := a.Import(context.Background(), "")
		require.NoError(t, err)
		run, _, err := a.Enforce(context.Background(), app.Filter{}, "test")
		require.NoError(t, err)
		if run != nil {
			require.NotEqual(t, model.RunHeld, run.State)
			testkit.Drain(t, a, nil, 120*time.Second)
			r, err := a.Store.GetRun(context.Background(), run.ID)
			require.NoError(t, err)
			require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)
		}
	}
}

func runLifecycle(t *testing.T, srv scimServer) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), fmt.Appendf(nil, lifecycleConfig, srv.url, srv.quirks), 0o600))
	clock := testkit.NewClock("2026-03-02")
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Now: clock.Now, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	defer a.Close(context.Background())
	feed := lifecycleFeed(t, a, dir)

	// Joiners.
	feed("E1,Ada,Lovelace,ada@example.com,Sales,Account Executive,2026-03-01,",
		"E2,Alan,Turing,alan@example.com,Engineering,Engineer,2026-03-01,2026-03-10")
	ada := srv.one(t, "Users", "userName", "ada@example.com")
	require.Equal(t, true, ada["active"])
	require.Equal(t, "Account Executive", ada["title"])
	require.Equal(t, []string{"all-staff", "crm"}, srv.groupsOf(t, "ada@example.com"))
	require.Equal(t, []string{"all-staff", "github"}, srv.groupsOf(t, "alan@example.com"))
	alanID := srv.one(t, "Users", "userName", "alan@example.com")["id"]

	// A mover: new department and title, in place.
	feed("E1,Ada,Lovelace,ada@example.com,Engineering,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.com,Engineering,Engineer,2026-03-01,2026-03-10")
	moved := srv.one(t, "Users", "userName", "ada@example.com")
	require.Equal(t, ada["id"], moved["id"], "updated in place")
	require.Equal(t, "Engineer", moved["title"])
	require.Equal(t, []string{"all-staff", "github"}, srv.groupsOf(t, "ada@example.com"))

	// A leaver, on the end date.
	clock.Set("2026-03-10")
	feed("E1,Ada,Lovelace,ada@example.com,Engineering,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.com,Engineering,Engineer,2026-03-01,2026-03-10")
	require.Equal(t, false, srv.one(t, "Users", "userName", "alan@example.com")["active"])
	require.Empty(t, srv.groupsOf(t, "alan@example.com"))

	// A rehire: a new start date five days ahead (provisioned seven days
	// before), the same account enabled again.
	clock.Set("2026-03-20")
	feed("E1,Ada,Lovelace,ada@example.com,Engineering,Engineer,2026-03-01,",
		"E2,Alan,Turing,alan@example.com,Sales,Account Executive,2026-03-25,")
	alan := srv.one(t, "Users", "userName", "alan@example.com")
	require.Equal(t, alanID, alan["id"], "the same account, not a new one")
	require.Equal(t, true, alan["active"])
	require.Equal(t, []string{"all-staff", "crm"}, srv.groupsOf(t, "alan@example.com"))
	require.Equal(t, 2, srv.users(t), "no duplicate account")
}
