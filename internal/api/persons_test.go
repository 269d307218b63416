package api_test

import (
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
)

func record(overrides map[string]any) map[string]any {
	r := map[string]any{
		"employee_id": "E7", "first_name": "Katherine", "last_name": "Johnson", "email": "katherine@example.com",
		"department": "Engineering", "employee_type": "employee", "start_date": "2026-02-01",
	}
	for k, v := range overrides {
		if v == nil {
			delete(r, k)
		} else {
			r[k] = v
		}
	}
	return r
}

func TestCreatePersonProvisionsAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	key := w.keys[api.ScopePersonsWrite]
	r := w.do("POST", "/api/v1/persons", key, map[string]any{"attributes": record(nil)})
	require.Equal(t, http.StatusCreated, r.status, r.text())
	require.Equal(t, "/api/v1/persons/E7", r.header.Get("Location"))
	body := r.json(t)
	require.Equal(t, "E7", body["person"].(map[string]any)["key"])
	require.Equal(t, "hr", body["person"].(map[string]any)["source"], "the only source")
	require.Contains(t, body["warnings"].([]any)[0], "imported from a file")
	var ops []string
	for _, a := range body["actions"].([]any) {
		ops = append(ops, a.(map[string]any)["op"].(string)+" "+strings.Join(strs(a.(map[string]any)["entitlements"]), ","))
	}
	require.Equal(t, []string{"create_account ", "grant all-staff,github,jira"}, ops)
	w.waitRun(r.runID())
	u, ok := w.sim.SCIM().UserByName("katherine@example.com")
	require.True(t, ok)
	require.True(t, w.isMember(w.groupID("jira"), u.Str("id")))

	r = w.do("POST", "/api/v1/persons", key, map[string]any{"attributes": record(nil)})
	require.Equal(t, http.StatusConflict, r.status, "the key is taken")

	// PUT replaces the record; the key in the path need not be repeated.
	r = w.do("PUT", "/api/v1/persons/E7", key, map[string]any{"source": "hr", "attributes": record(map[string]any{"employee_id": nil, "last_name": "Goble"})})
	require.Equal(t, http.StatusOK, r.status, r.text())
	w.waitRun(r.runID())
	u, _ = w.sim.SCIM().UserByName("katherine@example.com")
	require.Equal(t, "Goble", u.Str("name.familyName"))
}

func TestPersonRecordsAreValidatedAgainstTheSchema(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	key := w.keys[api.ScopePersonsWrite]
	mark := w.simMark()
	r := w.do("POST", "/api/v1/persons", key, map[string]any{"attributes": record(map[string]any{
		"email": "not-an-email", "department": "Marketing", "first_name": nil, "start_date": 20260101, "badge": "x",
	})})
	require.Equal(t, http.StatusBadRequest, r.status, r.text())
	e := r.json(t)["error"].(map[string]any)
	require.Equal(t, api.CodeValidation, e["code"])
	fields := map[string]string{}
	for _, f := range e["details"].(map[string]any)["fields"].([]any) {
		m := f.(map[string]any)
		fields[m["field"].(string)] = m["reason"].(string)
	}
	require.Len(t, fields, 5, "every problem at once: %v", fields)
	for _, f := range []string{"attributes.email", "attributes.department", "attributes.first_name", "attributes.start_date", "attributes.badge"} {
		require.Contains(t, fields, f)
		require.Contains(t, e["message"], f)
	}
	require.Contains(t, fields["attributes.badge"], "not declared")

	cases := []struct {
		name, path, method, body, want string
	}{
		{"key differs from path", "/api/v1/persons/E1", "PUT", `{"attributes": {"employee_id": "E2", "first_name": "A", "last_name": "B", "email": "a@example.com", "start_date": "2026-01-01"}}`, "a key cannot change over the API"},
		{"unknown source", "/api/v1/persons", "POST", `{"source": "payroll", "attributes": {}}`, `no source named "payroll"`},
		{"bidi override in the path's key", "/api/v1/persons/E%E2%80%AE1/end-employment", "POST", `{}`, "path parameter key contains an invisible bidirectional-text character, U+202E (right-to-left override), at character 2"},
		{"NUL in a record's key", "/api/v1/persons", "POST", `{"attributes": {"employee_id": "E\u00007", "first_name": "A", "last_name": "B", "email": "a@example.com", "start_date": "2026-01-01"}}`, "attributes.employee_id: contains a control character, U+0000 (NUL), at character 2"},
		{"no attributes", "/api/v1/persons", "POST", `{"source": "hr"}`, "attributes: required"},
		{"end before start", "/api/v1/persons/E1/end-employment", "POST", `{"date": "2025-12-31"}`, "before the start of employment (2026-01-01)"},
		{"end not a date", "/api/v1/persons/E1/end-employment", "POST", `{"date": "31/12/2026"}`, "not a date in the form YYYY-MM-DD"},
	}
	for _, c := range cases {
		r := w.do(c.method, c.path, key, c.body)
		require.Equal(t, http.StatusBadRequest, r.status, c.name)
		require.Contains(t, r.json(t)["error"].(map[string]any)["message"], c.want, c.name)
	}
	require.Equal(t, http.StatusNotFound, w.do("PUT", "/api/v1/persons/E404", key, map[string]any{"attributes": record(nil)}).status)
	require.Empty(t, w.sim.RequestsSince(mark), "bad input changes nothing")
	_, err := w.app.Store.GetPerson(t.Context(), "E7")
	require.Error(t, err)
}

// TestBadRequestBodies sends broken JSON to every route that takes a body.
func TestBadRequestBodies(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	big := `{"note": "` + strings.Repeat("x", 5000) + `"}`
	cases := []struct {
		name, body, want string
		status           int
	}{
		{"malformed", `{"note": "x",}`, "malformed JSON at line 1, column 14", 400},
		{"truncated", `{"note": "x"`, "malformed JSON", 400},
		{"unknown field", `{"note": "x", "colour": "red"}`, `unknown field "colour"`, 400},
		{"wrong type", `{"note": 42}`, `field "note": expected a string, got number`, 400},
		{"not an object", `["x"]`, "expected a JSON object, got array", 400},
		{"trailing data", `{"note": "x"} {"note": "y"}`, "unexpected data after the JSON object", 400},
		{"oversize", big, "the request body is larger than the limit of 4096 bytes (api.max_body_bytes)", 413},
		{"NUL in a string", `{"note": "a\u0000b"}`, "note: contains a control character, U+0000 (NUL), at character 2", 400},
		{"bidi override in a string", "{\"note\": \"ok \u202e\"}", "note: contains an invisible bidirectional-text character, U+202E (right-to-left override), at character 4", 400},
	}
	for _, c := range cases {
		r := w.do("POST", "/api/v1/persons/E1/entitlements/saas/crm/unmanage", w.keys[api.ScopeActionsWrite], c.body)
		require.Equal(t, c.status, r.status, "%s: %s", c.name, r.text())
		e := r.json(t)["error"].(map[string]any)
		code := map[int]string{400: api.CodeBadRequest, 413: api.CodeTooLarge}[c.status]
		if strings.HasPrefix(c.name, "NUL") || strings.HasPrefix(c.name, "bidi") {
			code = api.CodeValidation
		}
		require.Equal(t, code, e["code"], c.name)
		require.Contains(t, e["message"], c.want, c.name)
	}
	um, err := w.app.Store.ListUnmanaged(t.Context(), "E1")
	require.NoError(t, err)
	require.Empty(t, um, "no bad request changed anything")

	// Every route that takes a body is as strict.
	for _, rt := range w.srv.Routes() {
		if !rt.Mutates() || rt.SCIM {
			continue // SCIM bodies: TestSCIMPatchPathsAndHygiene, with inbound SCIM configured
		}
		r := w.do(rt.Method, concrete(rt.Path), w.keys[api.ScopeAdmin], `{"no_such_field": true}`)
		require.Equal(t, http.StatusBadRequest, r.status, "%s %s: %s", rt.Method, rt.Path, r.text())
		r = w.do(rt.Method, concrete(rt.Path), w.keys[api.ScopeAdmin], `{`)
		require.Equal(t, http.StatusBadRequest, r.status, "%s %s: %s", rt.Method, rt.Path, r.text())
	}

	r := w.do("POST", "/api/v1/enforce", w.keys[api.ScopeAdmin], nil, "Content-Type", "text/plain")
	require.Equal(t, http.StatusOK, r.status, "no body, no type to check")
	req := w.do("POST", "/api/v1/enforce", w.keys[api.ScopeAdmin], "person=E1", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusUnsupportedMediaType, req.status)

	r = w.do("GET", "/api/v1/actions?state=broken&limit=0&colour=red", w.keys[api.ScopeRead], nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.json(t)["error"].(map[string]any)["message"], "unknown query parameter colour")
	r = w.do("GET", "/api/v1/actions?state=broken&limit=0", w.keys[api.ScopeRead], nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	msg := r.json(t)["error"].(map[string]any)["message"].(string)
	require.Contains(t, msg, `state: "broken" is not one of`)
	require.Contains(t, msg, "limit: expected a whole number from 1 to 1000")
}

// TestLeaverIsDisabledWithinOneEngineCycle ends an employment over the
// API and counts engine cycles (leases), not seconds, until the target
// confirms the disable. The engine polls once an hour here: only the
// wake-up of the API call can have started it.
func TestLeaverIsDisabledWithinOneEngineCycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	user := w.userPath("E2")
	from := w.events.mark()
	mark := w.simMark()
	r := w.do("POST", "/api/v1/persons/E2/end-employment", w.keys[api.ScopePersonsWrite], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, "2026-03-02", r.json(t)["person"].(map[string]any)["end"], "today by default")

	done := w.events.waitFor(t, from, func(ev engine.Event) bool {
		return ev.Type == engine.EventAction && ev.Action.PersonKey == "E2" && ev.Action.Op == model.OpDisable && ev.Outcome == "succeeded"
	})
	leases := 0
	for _, ev := range w.events.since(from)[:done-from] {
		if ev.Type == engine.EventLeased {
			leases++
		}
	}
	require.Equal(t, 1, leases, "the disable ran in the first engine cycle after the call")
	got := writes(w.writesSince(mark))
	require.NotEmpty(t, got)
	require.Equal(t, write{Method: "PATCH", Path: user, Ops: []string{"replace active"}}, got[0], "the disable is the first request")
	u, _ := w.sim.SCIM().User(w.account("E2").NativeID)
	require.Equal(t, false, u.Get("active"))
	w.waitRun(r.runID())
	require.Equal(t, model.AccountDisabled, w.account("E2").State)
}

// TestHeldRunExecutesOnlyAfterApproval: with a disable limit of 0, a
// leaver's run is held; it reaches the target only once approved.
func TestHeldRunExecutesOnlyAfterApproval(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{disables: "0"})
	mark := w.simMark()
	r := w.do("POST", "/api/v1/persons/E1/end-employment", w.keys[api.ScopePersonsWrite], map[string]string{"date": "2026-03-01"})
	require.Equal(t, http.StatusAccepted, r.status, r.text())
	body := r.json(t)
	run := body["run"].(map[string]any)
	require.Equal(t, "held", run["state"])
	require.Contains(t, body["message"], "overall disables: 1 planned, limit 0")
	require.NotEmpty(t, body["breaches"])
	id := r.runID()

	// Other work the engine is woken for leaves the held run alone: from
	// the held run's creation until the other run is done, the target
	// sees the other run's writes and nothing for E1.
	w.waitRun(w.admin("POST", "/api/v1/persons/E2/accounts/saas/update", nil, http.StatusCreated).runID())
	e1 := w.userPath("E1")
	e1ID := path.Base(e1)
	window := writes(w.writesSince(mark))
	var e2Written bool
	for _, wr := range window {
		e2Written = e2Written || wr.Path == w.userPath("E2")
		require.NotEqual(t, e1, wr.Path, "a held run does not execute")
		for _, op := range wr.Ops {
			require.NotContains(t, op, e1ID, "a held run does not execute")
		}
	}
	require.True(t, e2Written, "the engine ran in the window: %v", window)
	require.Equal(t, "held", w.admin("GET", "/api/v1/runs/"+id, nil, http.StatusOK).json(t)["run"].(map[string]any)["state"])
	mark = w.simMark()

	r = w.do("POST", "/api/v1/runs/"+id+"/approve", w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusForbidden, r.status, "approving takes runs:approve")
	r = w.do("POST", "/api/v1/runs/"+id+"/approve", w.keys[api.ScopeRunsApprove], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Contains(t, r.json(t)["run"].(map[string]any)["note"], "approved by apikey:key-runs-approve")
	done := w.waitRun(id)
	require.Equal(t, model.RunSucceeded, done.State)
	got := writes(w.writesSince(mark))
	require.Equal(t, write{Method: "PATCH", Path: w.userPath("E1"), Ops: []string{"replace active"}}, got[0])

	r = w.do("POST", "/api/v1/runs/"+id+"/approve", w.keys[api.ScopeRunsApprove], nil)
	require.Equal(t, http.StatusConflict, r.status, "approving twice: %s", r.text())
	r = w.do("POST", "/api/v1/runs/run-none/cancel", w.keys[api.ScopeRunsApprove], nil)
	require.Equal(t, http.StatusNotFound, r.status)
}

func TestHeldRunCanBeCancelled(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{disables: "0"})
	mark := w.simMark()
	r := w.do("POST", "/api/v1/enforce", w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusOK, r.status, "nothing to do yet: %s", r.text())
	r = w.admin("POST", "/api/v1/persons/E3/end-employment", nil, http.StatusAccepted)
	id := r.runID()
	r = w.do("POST", "/api/v1/runs/"+id+"/cancel", w.keys[api.ScopeRunsApprove], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, "cancelled", r.json(t)["run"].(map[string]any)["state"])
	require.Empty(t, w.writesSince(mark))
	acts := w.admin("GET", "/api/v1/actions?run="+id, nil, http.StatusOK).json(t)["items"].([]any)
	for _, a := range acts {
		require.Equal(t, "cancelled", a.(map[string]any)["state"])
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
