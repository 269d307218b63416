package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// The person page shows the HR record, desired against known per
// target, each entitlement with the roles that grant it (linked to the
// rule), and the timeline with correlation IDs.
func TestPersonPage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{enforce: true})
	c := w.client()
	c.signIn(w.keys[api.ScopeRead])
	p := c.get("/persons/E1")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, "Lovelace", "the HR record")
	require.Contains(t, p.body, `id="ent-saas-crm"`)
	require.Contains(t, p.body, `href="/roles/sales?entitlement=crm&amp;person=E1&amp;target=saas"`, "crm links to the rule that grants it")
	require.Contains(t, p.body, `href="/roles/%28birthright%29?entitlement=all-staff`, "birthright too")
	require.Contains(t, p.body, "create_account", "the timeline")
	require.Regexp(t, `<code>run-[0-9a-f-]+/[0-9]+</code>`, p.body, "with correlation IDs")
	require.NotContains(t, p.body, simToken, "secrets never shown")
	require.NotContains(t, p.body, "Re-enforce…", "a read key gets no buttons")
	require.NotContains(t, p.body, "End employment…")

	r := c.get("/roles/sales?target=saas&entitlement=crm&person=E1")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, `department == &#34;Sales&#34;`, "the rule")
	require.Contains(t, r.body, `class="followed"`)
	require.Equal(t, http.StatusNotFound, c.get("/roles/nobody").status)
	require.Equal(t, http.StatusNotFound, c.get("/persons/E404").status)

	a := w.client()
	a.signIn(w.keys[api.ScopeAdmin])
	p = a.get("/persons/E1")
	require.Contains(t, p.body, "Re-enforce…")
	require.Contains(t, p.body, "End employment…")
}

// Re-enforce shows the what-if (the API's dry run) and changes nothing
// until confirmed; the confirmation runs the API's route as the key.
func TestPersonReenforceWhatIfThenConfirm(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{enforce: true})
	// The target lost E1's crm membership behind accord's back.
	u, ok := w.sim.SCIM().UserByName("ada@example.com")
	require.True(t, ok)
	g, ok := w.sim.SCIM().GroupByName("crm")
	require.True(t, ok)
	require.NoError(t, w.sim.SCIM().RemoveMember(g.Str("id"), u.Str("id")))

	c := w.client()
	csrf := c.signIn(w.newKey("operator", api.ScopeRead, api.ScopeActionsWrite))
	before := w.runCount()
	p := c.get("/persons/E1/reenforce?target=saas&entitlement=crm")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `<td class="op">grant</td>`)
	require.Contains(t, p.body, "nothing was stored")
	require.Equal(t, before, w.runCount(), "the what-if stores no run")

	// Without the CSRF token the action is refused.
	p = c.do("POST", "/persons/E1/reenforce", url.Values{"target": {"saas"}, "entitlement": {"crm"}})
	require.Equal(t, http.StatusForbidden, p.status)
	require.Equal(t, before, w.runCount())

	p = c.do("POST", "/persons/E1/reenforce", url.Values{"csrf": {csrf}, "target": {"saas"}, "entitlement": {"crm"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	loc := p.header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/runs/run-"), loc)
	w.waitRun(strings.TrimPrefix(loc, "/runs/"), "succeeded")
	require.Contains(t, strings.Join(w.auditOf("reenforce"), "\n"), "apikey:operator succeeded api POST", "audited with the key's name")
}

// A read key may not act on a person: no what-if, and a forged POST is
// refused by the API.
func TestPersonActionsRefusedForReadKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{enforce: true})
	c := w.client()
	csrf := c.signIn(w.keys[api.ScopeRead])
	before := w.runCount()
	p := c.get("/persons/E1/reenforce?target=saas&entitlement=crm")
	require.Equal(t, http.StatusForbidden, p.status)
	p = c.do("POST", "/persons/E1/end", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusForbidden, p.status, p.body)
	require.Contains(t, p.body, "lacks the scope")
	require.Equal(t, before, w.runCount())
	p = c.get("/persons/E1/reenforce?target=saas")
	require.Equal(t, http.StatusBadRequest, p.status, "entitlement missing")
	require.Equal(t, http.StatusNotFound, c.get("/persons/E1/explode").status)
}

// The persons list pages on the server and filters by a search; the
// links carry both.
func TestPersonsListPagingAndSearch(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	c := w.client()
	c.signIn(w.keys[api.ScopeRead])
	p := c.get("/persons?q=turing")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `href="/persons/E2"`)
	require.NotContains(t, p.body, `href="/persons/E1"`)
	p = c.get("/persons?q=example.com&after=E1")
	require.NotContains(t, p.body, `href="/persons/E1"`)
	require.Contains(t, p.body, `href="/persons/E3"`)
}

// The audit search pages newest first over a keyset cursor, takes
// field:value terms and correlation IDs, and says what it cannot read.
func TestAuditSearchPage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var recs []audit.Record
	for i := range 120 {
		out := "succeeded"
		if i%2 == 1 {
			out = "failed"
		}
		recs = append(recs, audit.Record{Time: w.app.Now(), Kind: audit.KindExchange, RunID: "run-x", ActionID: int64(i + 1),
			PersonKey: "E1", Target: "saas", Actor: "engine", Operation: "grant", Outcome: out, Message: "haystack"})
	}
	require.NoError(t, w.app.Store.AppendAudit(context.Background(), recs))
	c := w.client()
	c.signIn(w.keys[api.ScopeRead])

	p := c.get("/audit?q=" + url.QueryEscape("person:E1 outcome:failed haystack"))
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `id="audit-`+itoa(recs[119].ID)+`"`, "newest first")
	require.NotContains(t, p.body, `id="audit-`+itoa(recs[118].ID)+`"`, "succeeded is filtered out")
	require.Equal(t, 50, strings.Count(p.body, `<tr id="audit-`), "a page of 50")
	next := between(p.body, `id="next" href="`, `"`)
	require.Contains(t, next, "before=")
	p = c.get(html.UnescapeString(next))
	require.Equal(t, http.StatusOK, p.status)
	require.Equal(t, 10, strings.Count(p.body, `<tr id="audit-`), "60 failed records: the second page has the rest")

	p = c.get("/audit?q=" + url.QueryEscape("run-x/7"))
	require.Equal(t, 1, strings.Count(p.body, `<tr id="audit-`), "a correlation ID finds its action")
	require.Contains(t, p.body, `id="audit-`+itoa(recs[6].ID)+`"`)

	p = c.get("/audit?q=" + url.QueryEscape("since:yesterday"))
	require.Equal(t, http.StatusBadRequest, p.status)
	require.Contains(t, p.body, `id="problem"`)
	require.Contains(t, p.body, "since")
	p = c.get("/audit?q=" + url.QueryEscape("person:"))
	require.Equal(t, http.StatusBadRequest, p.status)
	require.Equal(t, http.StatusBadRequest, c.get("/audit?before=abc").status)
}

// Keys: admin only; create shows the secret once; revoke refuses the key.
func TestKeysPage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.client()
	rcsrf := r.signIn(w.keys[api.ScopeRead])
	require.Equal(t, http.StatusForbidden, r.get("/keys").status)
	require.NotContains(t, r.get("/runs").body, `href="/keys"`, "no Keys in a read key's navigation")
	p := r.do("POST", "/keys", url.Values{"csrf": {rcsrf}, "name": {"sneaky"}, "scope": {"admin"}})
	require.Equal(t, http.StatusForbidden, p.status)

	a := w.client()
	csrf := a.signIn(w.keys[api.ScopeAdmin])
	p = a.do("POST", "/keys", url.Values{"csrf": {csrf}, "name": {"ci-bot"}, "scope": {"read", "actions:write"}, "expires": {"30d"}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	secret := between(p.body, `<pre id="secret">`, `</pre>`)
	require.True(t, strings.HasPrefix(secret, "acc_"), secret)
	require.Equal(t, "no-store", p.header.Get("Cache-Control"))
	list := a.get("/keys")
	require.Contains(t, list.body, "ci-bot")
	require.NotContains(t, list.body, secret, "the secret is shown once")

	n := w.client()
	n.signIn(secret)
	require.Equal(t, http.StatusOK, n.get("/persons").status)

	id := between(list.body, `<tr id="key-ci-bot-`, `"`)
	p = a.do("POST", "/keys/"+id+"/revoke", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.NotEqual(t, http.StatusOK, n.get("/persons").status, "the revoked key's session ends")

	p = a.do("POST", "/keys", url.Values{"csrf": {csrf}, "name": {"bad name"}, "scope": {"read"}})
	require.Equal(t, http.StatusBadRequest, p.status)
	require.Contains(t, p.body, "key name")
}

// The access report filters and pages on the server, and downloads the
// API's CSV.
func TestAccessReportAndCSV(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{enforce: true})
	c := w.client()
	c.signIn(w.keys[api.ScopeRead])
	p := c.get("/access?person=E1")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, "<code>crm</code>")
	require.NotContains(t, p.body, `href="/persons/E2"`)
	csv := c.get("/access.csv?person=E1")
	require.Equal(t, http.StatusOK, csv.status, csv.body)
	require.Contains(t, csv.header.Get("Content-Type"), "text/csv")
	require.Contains(t, csv.header.Get("Content-Disposition"), "attachment")
	require.Contains(t, csv.body, "E1,saas")
	require.NotContains(t, csv.body, "E2,saas")
	require.Equal(t, http.StatusBadRequest, c.get("/access?offset=-1").status)

	d := c.get("/drift")
	require.Equal(t, http.StatusOK, d.status, d.body)
	require.Contains(t, d.body, `id="total">0<`)
	require.NotContains(t, d.body, "Converge saas", "a read key cannot converge")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// runCount counts the runs in the store.
func (w *world) runCount() int {
	w.t.Helper()
	runs, err := w.app.Store.ListRuns(context.Background(), store.RunQuery{})
	require.NoError(w.t, err)
	return len(runs)
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		return ""
	}
	return s[:j]
}

// Converge starts the API's reconciliation of the target after a
// confirmation; a read key's forged POST is refused by the API.
func TestDriftConverge(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{enforce: true})
	r := w.client()
	rcsrf := r.signIn(w.keys[api.ScopeRead])
	p := r.do("POST", "/drift/converge/saas", url.Values{"csrf": {rcsrf}})
	require.Equal(t, http.StatusForbidden, p.status, p.body)
	require.Equal(t, http.StatusForbidden, r.get("/drift/converge/saas").status)

	a := w.client()
	csrf := a.signIn(w.keys[api.ScopeAdmin])
	require.Contains(t, a.get("/drift").body, `id="converge-saas"`)
	p = a.get("/drift/converge/saas")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, "Yes, reconcile and converge saas")
	p = a.do("POST", "/drift/converge/saas", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/drift?target=saas", p.header.Get("Location"))
	var recons struct {
		Items []struct {
			State string `json:"state"`
		} `json:"items"`
	}
	require.Eventually(t, func() bool {
		w.api("GET", "/api/v1/reconciliations?target=saas", &recons)
		return len(recons.Items) == 1 && recons.Items[0].State == "done"
	}, time.Minute, 100*time.Millisecond)
	require.Contains(t, strings.Join(w.auditOf("reconcile"), "\n"), "apikey:key-admin succeeded api POST")
}

// End employment and unmanage show their what-if first; confirmed, they
// do what it said.
func TestEndEmploymentAndUnmanage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{enforce: true})
	c := w.client()
	csrf := c.signIn(w.keys[api.ScopeAdmin])
	p := c.get("/persons/E2/end?date=2026-03-01")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `<td class="op">disable_account</td>`)
	require.Contains(t, p.body, `name="date" value="2026-03-01"`)
	per, err := w.app.Store.GetPerson(context.Background(), "E2")
	require.NoError(t, err)
	require.True(t, per.End.IsZero(), "the what-if changed nothing")
	p = c.get("/persons/E2/end?date=yesterday")
	require.Equal(t, http.StatusBadRequest, p.status)
	require.Contains(t, p.body, "date")

	p = c.do("POST", "/persons/E2/end", url.Values{"csrf": {csrf}, "date": {"2026-03-01"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	w.waitRun(strings.TrimPrefix(p.header.Get("Location"), "/runs/"), "succeeded")
	u, _ := w.sim.SCIM().UserByName("alan@example.com")
	require.Equal(t, false, u.Get("active"), "disabled on the target")

	p = c.get("/persons/E1/unmanage?target=saas&entitlement=crm")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, "would be unmanaged")
	p = c.do("POST", "/persons/E1/unmanage", url.Values{"csrf": {csrf}, "target": {"saas"}, "entitlement": {"crm"}, "note": {"kept by hand"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/persons/E1", p.header.Get("Location"))
	p = c.get("/persons/E1")
	require.Contains(t, p.body, `class="drift-unmanaged"`)
	require.Contains(t, p.body, "Manage…")
	require.Contains(t, p.body, "unmanaged by apikey:key-admin since 2026-03-02: kept by hand")
	require.Contains(t, p.body, "is unmanaged", "the flash says what happened")
}

// The what-if of a person action says, as the plan does, which target's
// discovery did not answer before planning and the shape assumed.
func TestPersonWhatIfNamesDiscoveryAssumptions(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{discoverWait: 200 * time.Millisecond})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Path: "/scim/v2/ServiceProviderConfig",
		Delay: targetsim.Duration(20 * time.Second), Times: 1})
	require.NoError(t, err)
	c := w.client()
	c.signIn(w.keys[api.ScopeAdmin])
	p := c.get("/persons/E2/end?date=2026-03-01")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `<p class="assumed">Assumed: discovery of saas did not answer within 200ms: `)
	require.Contains(t, p.body, "attributes are not checked")
}
