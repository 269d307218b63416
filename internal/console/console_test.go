package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/targetsim"
)

// heldWorld is a world whose first enforcement (3 creates) is held by a
// creates threshold of 2; it returns the held run's ID.
func heldWorld(t *testing.T) (*world, string) {
	w := newWorld(t, worldOptions{creates: "2"})
	id := w.enforce()
	require.Equal(t, "held", w.waitRun(id, "held"))
	return w, id
}

func requireSecurityHeaders(t *testing.T, p page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		require.Contains(t, csp, want)
	}
	require.NotContains(t, csp, "unsafe-inline")
	require.NotContains(t, csp, "unsafe-eval")
	require.Equal(t, "DENY", p.header.Get("X-Frame-Options"))
	require.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"))
	require.Equal(t, "same-origin", p.header.Get("Referrer-Policy"))
}

// TestSecurityHeadersOnEveryAnswer: the sign-in page, a signed-in page,
// a refusal, a missing page and a static file all carry the strict CSP
// and the framing and sniffing headers.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	w, id := heldWorld(t)
	c := w.client()
	requireSecurityHeaders(t, c.get("/signin"))
	requireSecurityHeaders(t, c.get("/static/pico.min.css"))
	require.Equal(t, http.StatusNotFound, c.get("/static/").status, "no folder listing")
	require.Equal(t, "text/css; charset=utf-8", c.get("/static/console.css").header.Get("Content-Type"))
	c.signIn(w.keys[api.ScopeAdmin])
	for _, path := range []string{"/", "/runs", "/runs/" + id, "/runs/" + id + "/approve", "/failed", "/nothing-here"} {
		p := c.get(path)
		require.Contains(t, []int{200, 404}, p.status, path)
		requireSecurityHeaders(t, p)
		require.Equal(t, "no-store", p.header.Get("Cache-Control"), path)
	}
	requireSecurityHeaders(t, c.do("POST", "/runs/"+id+"/approve", url.Values{}))
}

var (
	inlineHandler = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	inlineStyle   = regexp.MustCompile(`(?i)\sstyle\s*=|<style`)
	inlineScript  = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>`)
)

// TestNoInlineScriptOrStyle: the CSP forbids inline script and style,
// so no template may use them (a page would break silently).
func TestNoInlineScriptOrStyle(t *testing.T) {
	files, err := filepath.Glob("templates/*.html")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		s := string(b)
		require.NotRegexp(t, inlineHandler, s, f)
		require.NotRegexp(t, inlineStyle, s, f)
		for _, tag := range inlineScript.FindAllString(s, -1) {
			require.Contains(t, tag, `src="/static/`, "%s: a script must be a file of /static/: %s", f, tag)
		}
	}
}

// TestSessionCookieAndStoredHash: signing in sets an HttpOnly,
// SameSite=Strict cookie, and the database holds no copy of its token.
func TestSessionCookieAndStoredHash(t *testing.T) {
	w := newWorld(t, worldOptions{})
	c := w.client()
	p := c.do("POST", "/signin", url.Values{"key": {w.keys[api.ScopeRead]}, "next": {"/runs"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/runs", p.header.Get("Location"))
	var token string
	for _, ck := range (&http.Response{Header: p.header}).Cookies() {
		if ck.Name == "accord_session" {
			token = ck.Value
			require.True(t, ck.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
			require.False(t, ck.Secure, "plain HTTP: a Secure cookie would never come back")
			require.Equal(t, "/", ck.Path)
		}
	}
	require.GreaterOrEqual(t, len(token), 40)
	require.Equal(t, http.StatusOK, c.get("/runs").status)
	w.app.Close(context.Background())
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(w.app.Cfg.Path), "accord.db*"))
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotContains(t, string(b), token, "%s holds the session token", f)
		require.NotContains(t, string(b), w.keys[api.ScopeRead], "%s holds the API key", f)
	}
}

// TestPagesNeedASession: without a session a page sends the browser to
// sign in (and back after); a change is refused outright.
func TestPagesNeedASession(t *testing.T) {
	w, id := heldWorld(t)
	c := w.client()
	p := c.get("/runs?state=held")
	require.Equal(t, http.StatusSeeOther, p.status)
	require.Equal(t, "/signin?next="+url.QueryEscape("/runs?state=held"), p.header.Get("Location"))
	p = c.do("POST", "/runs/"+id+"/approve", url.Values{"csrf": {"x"}})
	require.Equal(t, http.StatusUnauthorized, p.status)
	require.Equal(t, "held", w.waitRun(id, "held"))
	// A forged cookie is no session.
	u, _ := url.Parse(w.url)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "accord_session", Value: "made-up"}})
	require.Equal(t, http.StatusSeeOther, c.get("/").status)
}

// TestSignInRefusals: a wrong key is refused without saying which part
// was wrong, audited, and after five failures the address must wait
// (the API's backoff); a redirect after sign-in stays on the site.
func TestSignInRefusals(t *testing.T) {
	w := newWorld(t, worldOptions{})
	c := w.client()
	good := w.keys[api.ScopeRead]
	wrong := good[:len(good)-6] + "AAAAAA"
	p := c.do("POST", "/signin", url.Values{"key": {wrong}})
	require.Equal(t, http.StatusUnauthorized, p.status)
	require.Contains(t, p.body, "a valid API key is required")
	require.NotContains(t, p.body, wrong)
	require.NotContains(t, p.body, "AAAAAA")
	refusals := w.auditOf("api refused")
	require.NotEmpty(t, refusals)
	require.Contains(t, refusals[0], "apikey:key-read refused")
	for range 6 {
		c.do("POST", "/signin", url.Values{"key": {"acc_nothing_here"}})
	}
	p = c.do("POST", "/signin", url.Values{"key": {good}})
	require.Equal(t, http.StatusTooManyRequests, p.status, "the address is held back, even with a good key")
	require.Contains(t, p.body, "too many failed sign-ins")

	w2 := newWorld(t, worldOptions{})
	c2 := w2.client()
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		p := c2.do("POST", "/signin", url.Values{"key": {w2.keys[api.ScopeRead]}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, p.status)
		require.Equal(t, "/", p.header.Get("Location"), next)
	}
	// Sign-in from another site is refused (login CSRF).
	p = c2.do("POST", "/signin", url.Values{"key": {w2.keys[api.ScopeRead]}}, "Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, p.status)
}

// TestChangesNeedTheCSRFToken: a change without the session's token, with
// another token, or from another site is refused and changes nothing;
// with the token (in the form or the htmx header) it goes through.
func TestChangesNeedTheCSRFToken(t *testing.T) {
	w, id := heldWorld(t)
	c := w.client()
	token := c.signIn(w.keys[api.ScopeAdmin])
	other := w.client().signIn(w.keys[api.ScopeAdmin])
	require.NotEqual(t, token, other)
	path := "/runs/" + id + "/cancel"
	p := c.get(path)
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, "Cancelling drops all <strong>6</strong> actions above")
	require.Contains(t, p.body, "Yes, cancel the run")
	require.Equal(t, http.StatusNotFound, c.get("/runs/"+id+"/explode").status)
	require.Equal(t, http.StatusNotFound, c.get("/runs/no-such-run").status)
	for name, tc := range map[string]struct {
		form   url.Values
		header []string
	}{
		"no token":        {form: url.Values{}},
		"another session": {form: url.Values{"csrf": {other}}},
		"other origin":    {form: url.Values{"csrf": {token}}, header: []string{"Origin", "https://evil.example"}},
		"cross-site":      {form: url.Values{"csrf": {token}}, header: []string{"Sec-Fetch-Site", "cross-site"}},
		"same-site":       {form: url.Values{"csrf": {token}}, header: []string{"Sec-Fetch-Site", "same-site", "Origin", w.url}},
	} {
		p := c.do("POST", path, tc.form, tc.header...)
		require.Equal(t, http.StatusForbidden, p.status, name)
		require.Contains(t, p.body, "Refused", name)
		require.Equal(t, "held", w.waitRun(id, "held"), name)
	}
	p = c.do("POST", path, url.Values{}, "X-CSRF-Token", token, "Origin", w.url, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "cancelled", w.waitRun(id, "cancelled"))
	// Sign-out is a change too.
	require.Equal(t, http.StatusForbidden, c.do("POST", "/signout", url.Values{}).status)
	require.Equal(t, http.StatusOK, c.get("/runs").status)
}

// TestReadKeyCannotApprove: a read key sees the held run without the
// Approve button, and a forged approval (with a valid CSRF token) is
// refused by the API's scope check, audited under the key's name.
func TestReadKeyCannotApprove(t *testing.T) {
	w, id := heldWorld(t)
	c := w.client()
	token := c.signIn(w.keys[api.ScopeRead])
	p := c.get("/runs/" + id)
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, "Why it is held")
	require.NotContains(t, p.body, `id="approve"`)
	require.NotContains(t, p.body, `id="cancel"`)
	p = c.get("/runs/" + id + "/approve")
	require.NotContains(t, p.body, `id="confirm"`)
	p = c.do("POST", "/runs/"+id+"/approve", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusForbidden, p.status)
	require.Contains(t, p.body, "lacks the scope runs:approve")
	require.Equal(t, "held", w.waitRun(id, "held"))
	require.Contains(t, w.auditOf("api refused"), "apikey:key-read refused api refused")

	// A key with runs:approve sees the buttons, and its approval is the
	// API's: audited under its name.
	c2 := w.client()
	token2 := c2.signIn(w.newKey("approver", api.ScopeRead, api.ScopeRunsApprove))
	p = c2.get("/runs/" + id)
	require.Contains(t, p.body, `id="approve"`)
	p = c2.get("/runs/" + id + "/approve")
	require.Contains(t, p.body, "Yes, approve 6 actions")
	p = c2.do("POST", "/runs/"+id+"/approve", url.Values{"csrf": {token2}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "succeeded", w.waitRun(id, "succeeded"))
	require.Contains(t, w.auditOf("/approve"), "apikey:approver succeeded api POST /api/v1/runs/{id}/approve")
}

// TestHeldRunShowsWhyAndWhat: the held run's page names the threshold and
// by how much it was passed, counts by target and operation, and pages
// and searches its actions on the server.
func TestHeldRunShowsWhyAndWhat(t *testing.T) {
	w, id := heldWorld(t)
	c := w.client()
	c.signIn(w.keys[api.ScopeRead])
	p := c.get("/runs/" + id)
	require.Contains(t, p.body, "3 create_account actions planned on overall: the threshold is 2 (2 actions), 1 over.")
	require.Regexp(t, `<td>saas</td><td>create_account</td><td>3</td>`, p.body)
	p = c.get("/runs/" + id + "?person=E2")
	require.Contains(t, p.body, "<td>E2</td>")
	require.NotContains(t, p.body, "<td>E1</td>")
	p = c.get("/runs/" + id + "?target=nope")
	require.Contains(t, p.body, "No actions match.")
	// Runs list: filtered by state in the link.
	p = c.get("/runs?state=held")
	require.Contains(t, p.body, id)
	p = c.get("/runs?state=succeeded")
	require.NotContains(t, p.body, id)
	require.Equal(t, http.StatusBadRequest, c.get("/runs?state=bogus").status)
}

// TestSessionEnds: after the idle timeout, after the absolute timeout,
// when its key is revoked, and at sign-out, the session no longer works.
func TestSessionEnds(t *testing.T) {
	w := newWorld(t, worldOptions{idle: "10m"})
	c := w.client()
	c.signIn(w.keys[api.ScopeRead])
	w.skew.Store(int64(11 * time.Minute))
	p := c.get("/runs")
	require.Equal(t, http.StatusSeeOther, p.status)
	require.Contains(t, c.get("/signin").body, "without activity")

	// Absolute: busy every 5 minutes, still ended after 12 hours.
	w.skew.Store(0)
	c.signIn(w.keys[api.ScopeRead])
	for i := 1; i <= 12*60/5; i++ {
		w.skew.Store(int64(time.Duration(i) * 5 * time.Minute))
		if p := c.get("/runs"); p.status != http.StatusOK {
			require.GreaterOrEqual(t, i, 12*60/5-1, "%d %s", p.status, p.body)
			require.GreaterOrEqual(t, i, 12*60/5-1)
			break
		}
	}
	w.skew.Store(int64(12*time.Hour + time.Minute))
	require.Equal(t, http.StatusSeeOther, c.get("/runs").status)

	// Revoked key: its sessions end at once.
	w.skew.Store(0)
	c2 := w.client()
	c2.signIn(w.newKey("doomed", api.ScopeRead))
	_, err := api.RevokeKey(context.Background(), w.app.Store, "doomed", "test", w.app.Now())
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, c2.get("/").status)
	require.Contains(t, c2.get("/signin").body, "revoked")

	// Sign out deletes the session: its cookie, replayed, is no session.
	c3 := w.client()
	token := c3.signIn(w.keys[api.ScopeRead])
	u, _ := url.Parse(w.url)
	saved := c3.http.Jar.Cookies(u)
	p = c3.do("POST", "/signout", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, p.status)
	c4 := w.client()
	c4.http.Jar.SetCookies(u, saved)
	require.Equal(t, http.StatusSeeOther, c4.get("/runs").status)

	// Sign-in and sign-out are on record under the key's name.
	require.Contains(t, w.auditOf("console sign-in"), "apikey:key-read succeeded console sign-in")
	require.Contains(t, w.auditOf("console sign-out"), "apikey:key-read succeeded console sign-out")
}

// TestSecureCookie: over TLS the session cookie is Secure; over plain
// HTTP only when api.console.secure_cookie says a TLS proxy is in front.
func TestSecureCookie(t *testing.T) {
	for _, tc := range []struct {
		url          string
		secureCookie bool
		want         bool
	}{
		{"https://accord.example/signin", false, true},
		{"http://accord.example/signin", false, false},
		{"http://accord.example/signin", true, true},
	} {
		w := newWorld(t, worldOptions{secureCookie: tc.secureCookie})
		req := httptest.NewRequest("POST", tc.url, strings.NewReader(url.Values{"key": {w.keys[api.ScopeRead]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		w.srv.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
		cks := rec.Result().Cookies()
		require.Len(t, cks, 1)
		require.Equal(t, tc.want, cks[0].Secure, "%s secure_cookie=%t", tc.url, tc.secureCookie)
		require.True(t, cks[0].HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, cks[0].SameSite)
	}
}

// TestRetryFailedActions: failed actions are grouped by target and the
// target's own message; Retry of the group, after the target is fixed,
// queues them again and they succeed.
func TestRetryFailedActions(t *testing.T) {
	w := newWorld(t, worldOptions{})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "POST", Path: "/scim/v2/Users", Status: 400,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","detail":"mailbox quota exhausted for this tenant"}`})
	require.NoError(t, err)
	id := w.enforce()
	require.Equal(t, "failed", w.waitRun(id, "failed"))
	c := w.client()
	token := c.signIn(w.newKey("operator", api.ScopeRead, api.ScopeActionsWrite))
	p := c.get("/failed")
	require.Contains(t, p.body, "mailbox quota exhausted for this tenant")
	require.Contains(t, p.body, "Retry all 3")
	// One group: the same target and message.
	require.Equal(t, 1, strings.Count(p.body, `class="retry-group"`))
	ids := regexp.MustCompile(`name="ids" value="([0-9 ]+)"`).FindStringSubmatch(p.body)
	require.Len(t, ids, 2)

	// A read key sees the failures but no Retry.
	cr := w.client()
	cr.signIn(w.keys[api.ScopeRead])
	require.NotContains(t, cr.get("/failed").body, "Retry")

	require.Contains(t, c.get("/failed?target=other").body, "No failed actions.")
	require.Contains(t, c.get("/failed?target=saas").body, "Retry all 3")

	w.sim.ClearFaults()
	// A selection: the first two ticked.
	all := strings.Fields(ids[1])
	p = c.do("POST", "/failed/retry", url.Values{"csrf": {token}, "id": all[:2]})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Contains(t, c.get("/failed").body, "Queued again: 2 action(s)")
	require.Eventually(t, func() bool { return len(w.sim.SCIM().Users()) == 2 }, 30*time.Second, 20*time.Millisecond)
	// Then the group: what is left of it.
	p = c.get("/failed")
	require.Contains(t, p.body, "Retry all 1")
	ids = regexp.MustCompile(`name="ids" value="([0-9 ]+)"`).FindStringSubmatch(p.body)
	require.Equal(t, all[2], ids[1])
	p = c.do("POST", "/failed/retry", url.Values{"csrf": {token}, "ids": {ids[1]}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "succeeded", w.waitRun(id, "succeeded"))
	p = c.get("/failed")
	require.Contains(t, p.body, "No failed actions.")
	require.Contains(t, p.body, "Queued again: 1 action(s)")
	require.Len(t, w.auditOf("/retry"), 3)
	require.Contains(t, w.auditOf("/retry")[0], "apikey:operator succeeded")
	// Bad input names itself and changes nothing.
	p = c.do("POST", "/failed/retry", url.Values{"csrf": {token}, "id": {"x1"}})
	require.Equal(t, http.StatusBadRequest, p.status)
	require.Contains(t, p.body, `action &#34;x1&#34;`)
}

// TestResumePausedTarget: a target that asked to be left alone for ten
// minutes shows as paused with its reason and a Resume button (for a key
// that may resume); Resume is the API's, and the waiting work then runs.
func TestResumePausedTarget(t *testing.T) {
	w := newWorld(t, worldOptions{})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Times: 1, RetryAfter: targetsim.Duration(10 * time.Minute)})
	require.NoError(t, err)
	var out struct {
		Run struct {
			ID string `json:"id"`
		} `json:"run"`
	}
	w.api("POST", "/api/v1/enforce", &out)
	require.Eventually(t, func() bool {
		var ts struct {
			Targets []api.TargetView `json:"targets"`
		}
		w.api("GET", "/api/v1/targets", &ts)
		return len(ts.Targets) == 1 && !ts.Targets[0].PausedUntil.IsZero()
	}, 30*time.Second, 20*time.Millisecond, "the target never paused")

	cr := w.client()
	cr.signIn(w.keys[api.ScopeRead])
	p := cr.get("/")
	require.Contains(t, p.body, "paused until")
	require.Contains(t, p.body, "saas is paused until")
	require.NotContains(t, p.body, `id="resume-saas"`, "a read key may not resume")

	c := w.client()
	token := c.signIn(w.newKey("operator", api.ScopeRead, api.ScopeActionsWrite))
	p = c.get("/")
	require.Contains(t, p.body, `id="resume-saas"`)
	p = c.do("POST", "/targets/saas/resume", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	p = c.get("/")
	require.Contains(t, p.body, "target saas resumed")
	require.NotContains(t, p.body, "paused until", "the pause is lifted")
	require.NotContains(t, p.body, `id="resume-saas"`)
	require.Contains(t, w.auditOf("/resume"), "apikey:operator succeeded api POST /api/v1/targets/{target}/resume")
	// A target that is not configured is the API's 404, named.
	p = c.do("POST", "/targets/nope/resume", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusNotFound, p.status)
	require.Contains(t, p.body, `no target &#34;nope&#34;`)
}
