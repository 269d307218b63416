package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// scimSource is a second source, fed by HR over inbound SCIM, with the
// columns of the feed; scimInbound maps SCIM attributes to them.
const scimSource = `  - name: hr-scim
    format: scim
    key: employee_id
    start: start_date
    end: end_date
    columns:
      - {name: employee_id, type: string, required: true}
      - {name: first_name, type: string, required: true}
      - {name: last_name, type: string, required: true, max_length: 40}
      - {name: email, type: email, required: true}
      - {name: department, type: enum, values: [Sales, Engineering, Finance]}
      - {name: employee_type, type: enum, values: [employee, service]}
      - {name: start_date, type: date, required: true}
      - {name: end_date, type: date}
`

const scimInbound = `inbound:
  scim:
    source: hr-scim
    attributes:
      employee_id: externalId
      email: userName
      first_name: name.givenName
      last_name: name.familyName
      department: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department
      employee_type: urn:accord:params:scim:schemas:extension:hr:1.0:User:employeeType
      start_date: urn:accord:params:scim:schemas:extension:hr:1.0:User:startDate
      end_date: urn:accord:params:scim:schemas:extension:hr:1.0:User:endDate
`

const (
	entURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	hrURN  = "urn:accord:params:scim:schemas:extension:hr:1.0:User"
)

func newSCIMWorld(t *testing.T) (*world, string) {
	t.Helper()
	w := newWorld(t, worldOptions{sources: scimSource, extra: scimInbound})
	return w, w.newKey("workday", api.ScopeSCIMWrite)
}

func scimUserBody(id, first, last, dept string) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", entURN, hrURN},
		"externalId": id,
		"userName":   strings.ToLower(first) + "." + strings.ToLower(last) + "@example.com",
		"name":       map[string]any{"givenName": first, "familyName": last},
		"active":     true,
		"emails":     []any{map[string]any{"type": "work", "value": "ignored@example.com", "primary": true}},
		entURN:       map[string]any{"department": dept, "manager": map[string]any{"value": "E1"}},
		hrURN:        map[string]any{"employeeType": "employee", "startDate": "2026-01-01"},
	}
}

func (w *world) scim(method, path, key string, body any, header ...string) response {
	w.t.Helper()
	return w.do(method, "/scim/v2"+path, key, body, append([]string{"Content-Type", "application/scim+json"}, header...)...)
}

func scimErrorOf(t *testing.T, r response) (status, scimType, detail string) {
	t.Helper()
	m := r.json(t)
	require.Equal(t, []any{"urn:ietf:params:scim:api:messages:2.0:Error"}, m["schemas"], r.text())
	require.Contains(t, r.header.Get("Content-Type"), "application/scim+json")
	st, _ := m["scimType"].(string)
	return m["status"].(string), st, m["detail"].(string)
}

func TestSCIMCreateReadFilterAndETags(t *testing.T) {
	t.Parallel()
	w, key := newSCIMWorld(t)

	r := w.scim("POST", "/Users", key, scimUserBody("S100", "Grace", "Hopper", "Engineering"))
	require.Equal(t, http.StatusCreated, r.status, r.text())
	require.Contains(t, r.header.Get("Content-Type"), "application/scim+json")
	u := r.json(t)
	require.Equal(t, "S100", u["id"])
	require.Equal(t, "grace.hopper@example.com", u["userName"])
	require.Equal(t, true, u["active"])
	require.Equal(t, map[string]any{"department": "Engineering"}, u[entURN], "the manager is not mapped: not kept")
	require.NotContains(t, u, "emails", "emails are not mapped: not kept")
	etag := r.header.Get("ETag")
	require.True(t, strings.HasPrefix(etag, `W/"`), etag)
	require.Equal(t, etag, u["meta"].(map[string]any)["version"])
	require.True(t, strings.HasSuffix(r.header.Get("Location"), "/scim/v2/Users/S100"))

	// Stored as a person of the SCIM source, typed, before the answer.
	p, err := w.app.Store.GetPerson(context.Background(), "S100")
	require.NoError(t, err)
	require.Equal(t, "hr-scim", p.Source)
	require.Equal(t, model.MustDate("2026-01-01"), p.Start)
	require.Equal(t, "Engineering", p.Attributes["department"])

	// Planned at once, like any person change: an account on the target.
	require.NotEmpty(t, r.header.Get("X-Accord-Run"))
	run := w.waitRun(strings.TrimPrefix(r.header.Get("X-Accord-Run"), "/api/v1/runs/"))
	require.Equal(t, "apikey:workday", run.Trigger)
	require.NotEmpty(t, w.account("S100").NativeID)

	// Audited under the key's name.
	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{PersonKey: "S100", Kinds: []audit.Kind{audit.KindEvent}})
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	require.Equal(t, "apikey:workday", recs[0].Actor)
	require.Equal(t, "api POST /scim/v2/Users", recs[0].Operation)
	require.Contains(t, recs[0].Message, "person S100 created over SCIM")

	// The same id again is a uniqueness conflict.
	r = w.scim("POST", "/Users", key, scimUserBody("S100", "Grace", "Hopper", "Engineering"))
	require.Equal(t, http.StatusConflict, r.status, r.text())
	_, st, _ := scimErrorOf(t, r)
	require.Equal(t, "uniqueness", st)

	r = w.scim("GET", "/Users/S100", key, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, etag, r.header.Get("ETag"))

	w.scim("POST", "/Users", key, scimUserBody("S101", "Alan", "Turing", "Sales"))
	filters := map[string][]string{
		`userName eq "GRACE.HOPPER@example.com"`:                                           {"S100"}, // userName is not case-exact
		`externalId eq "S101"`:                                                             {"S101"},
		`externalId eq "s101"`:                                                             {}, // externalId is
		`externalId eq "S100" or userName eq "alan.turing@example.com"`:                    {"S100", "S101"},
		`externalId eq "S100" and userName eq "alan.turing@example.com"`:                   {},
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"`: {"S101"},
		`userName sw "grace" and active eq true`:                                           {"S100"},
		`externalId eq "E1"`:                                                               {}, // a person of the file source is no SCIM User
	}
	for f, want := range filters {
		r := w.scim("GET", "/Users?filter="+url.QueryEscape(f), key, nil)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", f, r.text())
		got := []string{}
		for _, res := range r.json(t)["Resources"].([]any) {
			got = append(got, res.(map[string]any)["id"].(string))
		}
		require.ElementsMatch(t, want, got, f)
		require.EqualValues(t, len(want), r.json(t)["totalResults"], f)
	}
	for _, f := range []string{`userName eq`, `userName gt "a"`, `emails[type eq "work" and value eq "x"]`} {
		r = w.scim("GET", "/Users?filter="+url.QueryEscape(f), key, nil)
		require.Equal(t, http.StatusBadRequest, r.status, f)
		_, st, _ = scimErrorOf(t, r)
		require.Equal(t, "invalidFilter", st, f)
	}
	// Paging: startIndex is 1-based, count bounds the page.
	r = w.scim("GET", "/Users?startIndex=2&count=1", key, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	page := r.json(t)
	require.EqualValues(t, 2, page["totalResults"])
	require.EqualValues(t, 2, page["startIndex"])
	require.Len(t, page["Resources"], 1)
	require.Equal(t, "S101", page["Resources"].([]any)[0].(map[string]any)["id"])

	// If-Match: a stale version is refused and changes nothing.
	patch := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "name.familyName", "value": "Hopper-Murray"}}}
	r = w.scim("PATCH", "/Users/S100", key, patch, "If-Match", `W/"stale"`)
	require.Equal(t, http.StatusPreconditionFailed, r.status, r.text())
	scimErrorOf(t, r)
	r = w.scim("PATCH", "/Users/S100", key, patch, "If-Match", etag)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, "Hopper-Murray", r.json(t)["name"].(map[string]any)["familyName"])
	require.NotEqual(t, etag, r.header.Get("ETag"))
	r = w.scim("DELETE", "/Users/S100", key, nil, "If-Match", etag)
	require.Equal(t, http.StatusPreconditionFailed, r.status, "the old version no longer matches")
}

func TestSCIMDeactivatePlansTheLeaver(t *testing.T) {
	t.Parallel()
	w, key := newSCIMWorld(t)
	r := w.scim("POST", "/Users", key, scimUserBody("S200", "Katherine", "Johnson", "Finance"))
	require.Equal(t, http.StatusCreated, r.status, r.text())
	w.waitRun(strings.TrimPrefix(r.header.Get("X-Accord-Run"), "/api/v1/runs/"))
	native := w.account("S200").NativeID
	simUser := func() any { u, _ := w.sim.SCIM().User(native); return u.Get("active") }
	require.Equal(t, true, simUser())

	// As Entra ID sends it: no path, and the boolean as a string.
	r = w.scim("PATCH", "/Users/S200", key, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "value": map[string]any{"active": "False"}}},
	})
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, false, r.json(t)["active"])
	p, err := w.app.Store.GetPerson(context.Background(), "S200")
	require.NoError(t, err)
	require.Equal(t, model.MustDate(testDay), p.End, "deactivation ends the employment today")
	require.Equal(t, model.MustDate(testDay), p.Attributes["end_date"])
	run := w.waitRun(strings.TrimPrefix(r.header.Get("X-Accord-Run"), "/api/v1/runs/"))
	acts, err := w.app.Store.ListActions(context.Background(), store.ActionQuery{RunID: run.ID})
	require.NoError(t, err)
	require.NotEmpty(t, acts)
	require.Equal(t, model.OpDisable, acts[0].Op, "the leaver is disabled")
	require.Equal(t, false, simUser())

	// active: true is a rehire.
	r = w.scim("PATCH", "/Users/S200", key, map[string]any{
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": true}},
	})
	require.Equal(t, http.StatusOK, r.status, r.text())
	p, err = w.app.Store.GetPerson(context.Background(), "S200")
	require.NoError(t, err)
	require.True(t, p.End.IsZero())

	// DELETE: gone from HR, a leaver, and no longer a User.
	r = w.scim("DELETE", "/Users/S200", key, nil)
	require.Equal(t, http.StatusNoContent, r.status, r.text())
	p, err = w.app.Store.GetPerson(context.Background(), "S200")
	require.NoError(t, err)
	require.Equal(t, model.MustDate(testDay), p.End)
	require.Equal(t, model.MustDate(testDay), p.MissingSince)
	r = w.scim("GET", "/Users/S200", key, nil)
	require.Equal(t, http.StatusNotFound, r.status)
}

func TestSCIMPatchPathsAndHygiene(t *testing.T) {
	t.Parallel()
	w, key := newSCIMWorld(t)
	require.Equal(t, http.StatusCreated, w.scim("POST", "/Users", key, scimUserBody("S300", "Mary", "Jackson", "Sales")).status)
	ops := func(o ...map[string]any) map[string]any {
		l := make([]any, len(o))
		for i := range o {
			l[i] = o[i]
		}
		return map[string]any{"Operations": l}
	}
	r := w.scim("PATCH", "/Users/S300", key, ops(
		map[string]any{"op": "replace", "path": entURN + ":department", "value": "Engineering"},
		map[string]any{"op": "add", "value": map[string]any{"name": map[string]any{"givenName": "Mary W."}}},
	))
	require.Equal(t, http.StatusOK, r.status, r.text())
	u := r.json(t)
	require.Equal(t, "Engineering", u[entURN].(map[string]any)["department"])
	require.Equal(t, "Mary W.", u["name"].(map[string]any)["givenName"])
	require.Equal(t, "Jackson", u["name"].(map[string]any)["familyName"], "sub-attributes not named are kept")

	bad := []struct {
		name     string
		body     any
		status   int
		scimType string
		detail   string
	}{
		{"not in the enum", ops(map[string]any{"op": "replace", "path": entURN + ":department", "value": "Marketing"}),
			400, "invalidValue", entURN + ":department (column department of source hr-scim)"},
		{"remove a required column", ops(map[string]any{"op": "remove", "path": "name.familyName"}),
			400, "invalidValue", "name.familyName (column last_name of source hr-scim): required"},
		{"over max_length", ops(map[string]any{"op": "replace", "path": "name.familyName", "value": strings.Repeat("x", 41)}),
			400, "invalidValue", "name.familyName (column last_name of source hr-scim)"},
		{"a wrong type", ops(map[string]any{"op": "replace", "path": "userName", "value": 42}),
			400, "invalidValue", "userName (column email of source hr-scim)"},
		{"an object for a string", ops(map[string]any{"op": "replace", "path": "userName", "value": map[string]any{"x": 1}}),
			400, "invalidValue", "userName: expected a single value, got an object"},
		{"the key", ops(map[string]any{"op": "replace", "path": "externalId", "value": "S999"}),
			400, "mutability", "cannot change"},
		{"an unknown attribute", ops(map[string]any{"op": "replace", "path": "shoeSize", "value": "9"}),
			400, "invalidPath", "shoeSize"},
		{"an unknown op", ops(map[string]any{"op": "move", "path": "userName", "value": "x"}),
			400, "invalidSyntax", "op must be add, replace or remove"},
		{"remove without a path", ops(map[string]any{"op": "remove"}),
			400, "noTarget", "remove needs a path"},
		{"a bidi override", ops(map[string]any{"op": "replace", "path": "name.givenName", "value": "Mary\u202e"}),
			400, "invalidValue", "Operations[0].value"},
		{"a NUL", ops(map[string]any{"op": "replace", "path": "name.givenName", "value": "Ma\x00ry"}),
			400, "invalidValue", "Operations[0].value"},
		{"Operations not a list", `{"Operations": "replace"}`, 400, "invalidSyntax", "Operations"},
		{"deep nesting", `{"Operations": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, 400, "invalidSyntax", "nests deeper"},
		{"oversize", `{"Operations": [{"op": "replace", "path": "title", "value": "` + strings.Repeat("x", 5000) + `"}]}`, 413, "tooLarge", "larger than the limit"},
	}
	before, err := w.app.Store.GetPerson(context.Background(), "S300")
	require.NoError(t, err)
	for _, c := range bad {
		r := w.scim("PATCH", "/Users/S300", key, c.body)
		require.Equal(t, c.status, r.status, "%s: %s", c.name, r.text())
		_, st, detail := scimErrorOf(t, r)
		require.Equal(t, c.scimType, st, "%s: %s", c.name, detail)
		require.Contains(t, detail, c.detail, c.name)
	}
	after, err := w.app.Store.GetPerson(context.Background(), "S300")
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused PATCH changes nothing")

	r = w.scim("POST", "/Users", key, `{"externalId": "S301"}`, "Content-Type", "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, r.status, r.text())
	r = w.scim("POST", "/Users", key, map[string]any{"externalId": "S302", "userName": "x@example.com", "favouriteColour": "red"})
	require.Equal(t, http.StatusBadRequest, r.status, r.text())
	_, st, detail := scimErrorOf(t, r)
	require.Equal(t, "invalidSyntax", st)
	require.Contains(t, detail, "favouriteColour")
	_, err = w.app.Store.GetPerson(context.Background(), "S302")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestSCIMBulkReportsEveryOperation(t *testing.T) {
	t.Parallel()
	w, key := newSCIMWorld(t)
	good1 := scimUserBody("S400", "Dorothy", "Vaughan", "Sales")
	bad := scimUserBody("S401", "Bad", "Record", "Marketing")
	good2 := scimUserBody("S402", "Annie", "Easley", "Finance")
	for _, b := range []map[string]any{good1, bad, good2} {
		delete(b, "emails")
		delete(b, "schemas")
	}
	r := w.scim("POST", "/Bulk", key, map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []any{
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "a", "data": good1},
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "b", "data": bad},
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "c", "data": good2},
			map[string]any{"method": "PATCH", "path": "/Users/bulkId:a", "data": map[string]any{
				"Operations": []any{map[string]any{"op": "replace", "path": "name.givenName", "value": "Dot"}}}},
			map[string]any{"method": "PATCH", "path": "/Users/bulkId:b", "data": map[string]any{
				"Operations": []any{map[string]any{"op": "replace", "path": "name.givenName", "value": "X"}}}},
			map[string]any{"method": "DELETE", "path": "/Users/NOPE"},
		},
	})
	require.Equal(t, http.StatusOK, r.status, r.text())
	results := r.json(t)["Operations"].([]any)
	require.Len(t, results, 6, "every operation is reported")
	var statuses []string
	for _, x := range results {
		statuses = append(statuses, x.(map[string]any)["status"].(string))
	}
	require.Equal(t, []string{"201", "400", "201", "200", "409", "404"}, statuses)
	badRes := results[1].(map[string]any)
	require.Equal(t, "b", badRes["bulkId"])
	require.Contains(t, badRes["response"].(map[string]any)["detail"], "department (column department of source hr-scim)")
	require.True(t, strings.HasSuffix(results[0].(map[string]any)["location"].(string), "/scim/v2/Users/S400"))

	p, err := w.app.Store.GetPerson(context.Background(), "S400")
	require.NoError(t, err)
	require.Equal(t, "Dot", p.Attributes["first_name"], "the PATCH by bulkId reached the User created in the same request")
	_, err = w.app.Store.GetPerson(context.Background(), "S401")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = w.app.Store.GetPerson(context.Background(), "S402")
	require.NoError(t, err)

	// Each operation is audited under the key, bad ones included.
	all := w.audit(store.AuditQuery{})
	joined := strings.Join(all, "\n")
	for i := range 6 {
		require.Contains(t, joined, fmt.Sprintf("Operations[%d]", i))
	}

	// failOnErrors stops after that many errors.
	r = w.scim("POST", "/Bulk", key, map[string]any{
		"failOnErrors": 1,
		"Operations": []any{
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "x", "data": bad},
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "y", "data": scimUserBody("S403", "Not", "Run", "Sales")},
		},
	})
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Len(t, r.json(t)["Operations"].([]any), 1)
	_, err = w.app.Store.GetPerson(context.Background(), "S403")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestSCIMExcludedPersonsAreStoredButNotEnforced(t *testing.T) {
	t.Parallel()
	w, key := newSCIMWorld(t)
	b := scimUserBody("S500", "Svc", "Account", "Sales")
	b[hrURN] = map[string]any{"employeeType": "service", "startDate": "2026-01-01"}
	r := w.scim("POST", "/Users", key, b)
	require.Equal(t, http.StatusCreated, r.status, r.text())
	require.Empty(t, r.header.Get("X-Accord-Run"), "an excluded person gets no run")
	_, err := w.app.Store.GetPerson(context.Background(), "S500")
	require.NoError(t, err)
}

func TestSCIMDiscoveryDescribesTheMapping(t *testing.T) {
	t.Parallel()
	w, _ := newSCIMWorld(t)
	read := w.keys[api.ScopeRead]
	r := w.scim("GET", "/ServiceProviderConfig", read, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	spc := r.json(t)
	require.Equal(t, true, spc["patch"].(map[string]any)["supported"])
	require.Equal(t, true, spc["bulk"].(map[string]any)["supported"])
	require.Equal(t, true, spc["etag"].(map[string]any)["supported"])
	require.Equal(t, false, spc["sort"].(map[string]any)["supported"])

	r = w.scim("GET", "/ResourceTypes", read, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Contains(t, r.text(), `"endpoint":"/Users"`)
	require.Contains(t, r.text(), entURN)

	r = w.scim("GET", "/Schemas", read, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Contains(t, r.text(), "fills column first_name (name.givenName) of source hr-scim")
	require.Contains(t, r.text(), "fills column department")
	require.Contains(t, r.text(), hrURN)

	// A read key may not write.
	r = w.scim("POST", "/Users", read, scimUserBody("S600", "No", "Scope", "Sales"))
	require.Equal(t, http.StatusForbidden, r.status)
	scimErrorOf(t, r)
}

func TestSCIMNotConfiguredAnswers404(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.scim("GET", "/Users", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusNotFound, r.status)
	_, _, detail := scimErrorOf(t, r)
	require.Contains(t, detail, "inbound SCIM is not configured")
}

// A deactivation over SCIM meets the thresholds of any change: with no
// disables allowed, the leaver's run is held for approval and the
// account stays as it is until then.
func TestSCIMDeactivationIsHeldByThresholds(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{disables: "0", sources: scimSource, extra: scimInbound})
	key := w.newKey("workday", api.ScopeSCIMWrite)
	r := w.scim("POST", "/Users", key, scimUserBody("S700", "Held", "Leaver", "Sales"))
	require.Equal(t, http.StatusCreated, r.status, r.text())
	w.waitRun(strings.TrimPrefix(r.header.Get("X-Accord-Run"), "/api/v1/runs/"))
	native := w.account("S700").NativeID

	r = w.scim("PATCH", "/Users/S700", key, map[string]any{
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}})
	require.Equal(t, http.StatusOK, r.status, "stored, whatever planning decides: %s", r.text())
	runID := strings.TrimPrefix(r.header.Get("X-Accord-Run"), "/api/v1/runs/")
	require.NotEmpty(t, runID)
	run, err := w.app.Store.GetRun(context.Background(), runID)
	require.NoError(t, err)
	require.Equal(t, model.RunHeld, run.State)
	require.Equal(t, string(model.RunHeld), r.header.Get("X-Accord-Run-State"), "the client is told")
	u, _ := w.sim.SCIM().User(native)
	require.Equal(t, true, u.Get("active"), "nothing is disabled while the run is held")
	recs := strings.Join(w.audit(store.AuditQuery{PersonKey: "S700"}), "\n")
	require.Contains(t, recs, "is held")
}
