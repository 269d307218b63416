package api_test

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/targetsim"
)

// write is a request that changes the target, in a comparable form.
type write struct {
	Method, Path string
	// Ops are "op path" of a SCIM PATCH, sorted; for members, the path
	// and the member IDs.
	Ops []string
}

func writes(reqs []targetsim.Request) []write {
	out := []write{}
	for _, r := range reqs {
		w := write{Method: r.Method, Path: r.Path}
		var body struct {
			Operations []struct {
				Op    string `json:"op"`
				Path  string `json:"path"`
				Value any    `json:"value"`
			}
		}
		if r.Method == http.MethodPatch && r.DecodeBody(&body) == nil {
			for _, op := range body.Operations {
				desc := op.Op + " " + op.Path
				if members, ok := op.Value.([]any); ok && op.Path == "members" {
					for _, m := range members {
						desc += " " + m.(map[string]any)["value"].(string)
					}
				}
				w.Ops = append(w.Ops, desc)
			}
			sort.Strings(w.Ops)
		}
		out = append(out, w)
	}
	return out
}

// onlyReads checks that the requests other than writes are reads of
// users and group look-ups by name.
func onlyReads(t testing.TB, reqs []targetsim.Request) {
	t.Helper()
	for _, r := range reqs {
		if r.Method != http.MethodGet {
			continue
		}
		ok := strings.HasPrefix(r.Path, "/scim/v2/Users/") || (r.Path == "/scim/v2/Groups" && strings.Contains(r.RawQuery, "filter="))
		require.True(t, ok, "unexpected read %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
}

// act sends a targeted action with the actions:write key, waits for the
// run it creates, and returns the answer and what reached the target.
func (w *world) act(path string, body any, status int) (response, []write) {
	w.t.Helper()
	mark := w.simMark()
	r := w.do("POST", path, w.keys[api.ScopeActionsWrite], body)
	require.Equal(w.t, status, r.status, r.text())
	if id := r.runID(); id != "" && status == http.StatusCreated {
		w.waitRun(id)
	}
	reqs := w.sim.RequestsSince(mark)
	onlyReads(w.t, reqs)
	return r, writes(w.writesSince(mark))
}

func (w *world) userPath(person string) string {
	return "/scim/v2/Users/" + w.account(person).NativeID
}

func (w *world) groupPath(name string) string { return "/scim/v2/Groups/" + w.groupID(name) }

func TestReenforceGrantsOrRevokesExactlyOneEntitlement(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	e1 := w.account("E1").NativeID

	// Someone removed E1 from crm on the target by hand: accord still
	// believes E1 is a member. Re-enforcing puts it back, and does nothing else.
	require.NoError(t, w.sim.SCIM().RemoveMember(w.groupID("crm"), e1))
	r, got := w.act("/api/v1/persons/E1/entitlements/saas/crm/reenforce", nil, http.StatusCreated)
	require.Equal(t, []write{{Method: "PATCH", Path: w.groupPath("crm"), Ops: []string{"add members " + e1}}}, got)
	body := r.json(t)
	require.Equal(t, "/api/v1/runs/"+r.runID(), r.header.Get("Location"))
	require.Equal(t, "/api/v1/runs/"+r.runID(), body["run"].(map[string]any)["link"])
	acts := body["actions"].([]any)
	require.Len(t, acts, 1)
	require.Equal(t, "grant", acts[0].(map[string]any)["op"])
	require.Contains(t, acts[0].(map[string]any)["reason"], "granted by sales")
	require.True(t, w.isMember(w.groupID("crm"), e1))

	// An entitlement policy does not grant is revoked, even if accord
	// believes it is not held.
	require.NoError(t, w.sim.SCIM().AddMember(w.groupID("vip-lounge"), e1))
	_, got = w.act("/api/v1/persons/E1/entitlements/saas/vip-lounge/reenforce", nil, http.StatusCreated)
	require.Len(t, got, 1)
	require.Equal(t, "PATCH", got[0].Method)
	require.Equal(t, w.groupPath("vip-lounge"), got[0].Path)
	require.False(t, w.isMember(w.groupID("vip-lounge"), e1))
}

func TestUpdateAccountPushesEveryMappedAttribute(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	mapped := []string{
		"replace displayName", "replace name.familyName", "replace name.givenName",
		"replace urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "replace userName",
	}
	_, got := w.act("/api/v1/persons/E2/accounts/saas/update", nil, http.StatusCreated)
	require.Equal(t, []write{{Method: "PATCH", Path: w.userPath("E2"), Ops: mapped}}, got)

	// A whole target: one update per account, none for the excluded
	// person who still has an account (excluded after it was made).
	w.admin("PUT", "/api/v1/persons/E3", map[string]any{"attributes": map[string]any{
		"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "department": "Finance",
		"employee_type": "service", "start_date": "2026-01-01"}}, http.StatusOK)
	r, got := w.act("/api/v1/targets/saas/accounts/update", nil, http.StatusCreated)
	want := []write{}
	for _, p := range []string{"E1", "E2"} {
		want = append(want, write{Method: "PATCH", Path: w.userPath(p), Ops: mapped})
	}
	sortWrites(got)
	sortWrites(want)
	require.Equal(t, want, got)
	ex := r.json(t)["excluded"].([]any)
	require.Equal(t, "E3", ex[0].(map[string]any)["person"])
	require.Contains(t, ex[0].(map[string]any)["reason"], "policy.exclusions.when")
}

func sortWrites(ws []write) {
	slices.SortFunc(ws, func(a, b write) int { return strings.Compare(a.Method+a.Path, b.Method+b.Path) })
}

func TestExcludedPersonIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	mark := w.simMark()
	for _, path := range []string{
		"/api/v1/persons/E9999/entitlements/saas/crm/reenforce",
		"/api/v1/persons/E9999/entitlements/saas/crm/unmanage",
		"/api/v1/persons/E9999/entitlements/saas/crm/manage",
		"/api/v1/persons/E9999/accounts/saas/update",
	} {
		r := w.do("POST", path, w.keys[api.ScopeActionsWrite], nil)
		require.Equal(t, http.StatusConflict, r.status, path)
		e := r.json(t)["error"].(map[string]any)
		require.Equal(t, api.CodeExcluded, e["code"], path)
		require.Contains(t, e["message"], "listed in policy.exclusions.persons")
		require.Equal(t, "listed in policy.exclusions.persons", e["details"].(map[string]any)["reason"])
	}
	r := w.do("POST", "/api/v1/enforce", w.keys[api.ScopeActionsWrite], map[string]string{"person": "E9999"})
	require.Equal(t, http.StatusConflict, r.status)
	require.Empty(t, w.sim.RequestsSince(mark), "nothing reached the target")
}

func TestUnmanagedEntitlementSurvivesEnforcement(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	e1 := w.account("E1").NativeID
	r, got := w.act("/api/v1/persons/E1/entitlements/saas/crm/unmanage", map[string]string{"note": "kept by hand, ticket 42"}, http.StatusOK)
	require.Empty(t, got)
	require.Nil(t, r.json(t)["run"])

	// E1 moves to Engineering: sales-drive goes, crm stays.
	mark := w.simMark()
	r = w.admin("PUT", "/api/v1/persons/E1", map[string]any{"attributes": map[string]any{
		"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "department": "Engineering",
		"employee_type": "employee", "start_date": "2026-01-01"}}, http.StatusOK)
	w.waitRun(r.runID())
	got = writes(w.writesSince(mark))
	require.NotContains(t, got, write{Method: "PATCH", Path: w.groupPath("crm"), Ops: []string{"remove members[value eq \"" + e1 + "\"]"}})
	for _, g := range got {
		require.NotEqual(t, w.groupPath("crm"), g.Path, "nothing touches the unmanaged entitlement")
	}
	require.True(t, w.isMember(w.groupID("crm"), e1))
	require.False(t, w.isMember(w.groupID("sales-drive"), e1))
	require.True(t, w.isMember(w.groupID("github"), e1))

	// A full enforcement leaves it alone too, and so does the plan.
	plan := w.admin("GET", "/api/v1/plan?person=E1", nil, http.StatusOK).json(t)
	require.Empty(t, plan["actions"])
	w.enforceAll()
	require.True(t, w.isMember(w.groupID("crm"), e1))

	// The person's view says so.
	view := w.admin("GET", "/api/v1/persons/E1", nil, http.StatusOK).json(t)
	ts := view["targets"].([]any)[0].(map[string]any)
	um := ts["unmanaged"].([]any)
	require.Len(t, um, 1)
	require.Equal(t, "crm", um[0].(map[string]any)["entitlement"])
	require.Equal(t, "kept by hand, ticket 42", um[0].(map[string]any)["note"])
	require.Equal(t, "apikey:key-actions-write", um[0].(map[string]any)["actor"])
	require.Contains(t, ts["account"].(map[string]any)["entitlements"], map[string]any{"entitlement": "crm", "unmanaged": true})

	// Managing it again revokes it at once: Engineering has no crm.
	_, got = w.act("/api/v1/persons/E1/entitlements/saas/crm/manage", nil, http.StatusCreated)
	require.Len(t, got, 1)
	require.Equal(t, w.groupPath("crm"), got[0].Path)
	require.False(t, w.isMember(w.groupID("crm"), e1))

	r = w.do("POST", "/api/v1/persons/E1/entitlements/saas/crm/manage", w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusNotFound, r.status, "it is managed already")
}

func TestRetryFailedAction(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Status: http.StatusForbidden, Method: "PATCH",
		Path: w.groupPath("crm"), Times: 1})
	require.NoError(t, err)
	require.NoError(t, w.sim.SCIM().RemoveMember(w.groupID("crm"), w.account("E1").NativeID))
	r := w.admin("POST", "/api/v1/persons/E1/entitlements/saas/crm/reenforce", nil, http.StatusCreated)
	run := w.waitRun(r.runID())
	require.Equal(t, "failed", string(run.State))

	failed := w.admin("GET", "/api/v1/actions?state=failed&person=E1&error_kind=forbidden", nil, http.StatusOK).json(t)
	items := failed["items"].([]any)
	require.Len(t, items, 1)
	id := items[0].(map[string]any)["id"].(float64)

	path := "/api/v1/actions/" + itoa(int64(id)) + "/retry"
	mark := w.simMark()
	r = w.do("POST", path, w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, run.ID, r.runID())
	w.waitRun(run.ID)
	require.Equal(t, []write{{Method: "PATCH", Path: w.groupPath("crm"), Ops: []string{"add members " + w.account("E1").NativeID}}},
		writes(w.writesSince(mark)))

	r = w.do("POST", path, w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusConflict, r.status, "only failed actions can be retried: %s", r.text())
}

func itoa(n int64) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}

func (w *world) isMember(groupID, userID string) bool {
	return slices.Contains(w.sim.SCIM().Members(groupID), userID)
}

// TestTargetedActionOverAThresholdIsHeld: with a revoke limit of 0, a
// re-enforce that revokes answers 202 with the run held, and reaches the
// target only once approved.
func TestTargetedActionOverAThresholdIsHeld(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{revokes: "0"})
	e1 := w.account("E1").NativeID
	require.NoError(t, w.sim.SCIM().AddMember(w.groupID("vip-lounge"), e1))
	r, got := w.act("/api/v1/persons/E1/entitlements/saas/vip-lounge/reenforce", nil, http.StatusAccepted)
	require.Empty(t, got)
	body := r.json(t)
	require.Equal(t, "held", body["run"].(map[string]any)["state"])
	require.Contains(t, body["message"], "overall revokes (accounts): 1 planned, limit 0")
	require.Equal(t, "/api/v1/runs/"+r.runID(), r.header.Get("Location"))

	mark := w.simMark()
	w.admin("POST", "/api/v1/runs/"+r.runID()+"/approve", nil, http.StatusOK)
	w.waitRun(r.runID())
	got = writes(w.writesSince(mark))
	require.Len(t, got, 1)
	require.Equal(t, w.groupPath("vip-lounge"), got[0].Path)
	require.False(t, w.isMember(w.groupID("vip-lounge"), e1))
}
