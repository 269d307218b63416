package console_test

import (
	"strings"
	"time"

	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/targetsim"
)

// TestBrowserSignInAndOut: a key signs in, sees the overview with its
// target, and signs out; the console then asks to sign in again.
func TestBrowserSignInAndOut(t *testing.T) {
	w := newWorld(t, worldOptions{enforce: true})
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.keys[api.ScopeRead], sh)
	require.Equal(t, "key-read", text(t, ctx, "#whoami"))
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#target-saas"))))
	require.Contains(t, text(t, ctx, "#target-saas"), "100.0%")
	sh.take(ctx, "overview")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#key"))))
	require.Contains(t, text(t, ctx, "main"), "You are signed out.")
	sh.take(ctx, "signed-out")
	// The old session is gone: the overview asks to sign in again.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/runs"), chromedp.WaitVisible(chromedp.CSS("#key"))))
}

// TestBrowserApproveHeldRun: an approver opens the held run from the
// overview, reads why it is held, confirms, and sees the run execute.
func TestBrowserApproveHeldRun(t *testing.T) {
	w, id := heldWorld(t)
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.newKey("approver", api.ScopeRead, api.ScopeRunsApprove), sh)
	require.Contains(t, text(t, ctx, "#alerts"), "run "+id+" is held for approval")
	sh.take(ctx, "overview")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="/runs/`+id+`"]`)), chromedp.WaitVisible(chromedp.CSS("#why"))))
	require.Contains(t, text(t, ctx, "#why"), "3 create_account actions planned on overall: the threshold is 2 (2 actions), 1 over.")
	require.Equal(t, "held", text(t, ctx, "#state"))
	sh.take(ctx, "held-run")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#confirm"))))
	require.Equal(t, "Yes, approve 6 actions", text(t, ctx, "#confirm"))
	sh.take(ctx, "confirm")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#flash"))))
	require.Contains(t, text(t, ctx, "#flash"), "approved")
	sh.take(ctx, "approved")
	require.Equal(t, "succeeded", w.waitRun(id, "succeeded"))
	// The page shows it done once reloaded.
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#state"))))
	require.Equal(t, "succeeded", text(t, ctx, "#state"))
	sh.take(ctx, "executed")
	require.Len(t, w.sim.SCIM().Users(), 3)
}

// TestBrowserRetryFailedAction: actions fail on the target; once the
// target is fixed, Retry of one action and of the rest makes them
// succeed.
func TestBrowserRetryFailedAction(t *testing.T) {
	w := newWorld(t, worldOptions{})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "POST", Path: "/scim/v2/Users", Status: 400,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","detail":"mailbox quota exhausted for this tenant"}`})
	require.NoError(t, err)
	id := w.enforce()
	require.Equal(t, "failed", w.waitRun(id, "failed"))
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.newKey("operator", api.ScopeRead, api.ScopeActionsWrite), sh)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/failed"), chromedp.WaitVisible(chromedp.CSS("summary"))))
	require.Contains(t, text(t, ctx, "summary"), "mailbox quota exhausted for this tenant")
	sh.take(ctx, "failed")
	w.sim.ClearFaults()
	// Retry one: the first failed action.
	first, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("button[id^=retry-]:not(.retry-group)").id`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#"+first)), chromedp.WaitVisible(chromedp.CSS("#flash"))))
	require.Contains(t, text(t, ctx, "#flash"), "Queued again: 1 action(s)")
	sh.take(ctx, "retried-one")
	// Then the rest of the group.
	// The page already shows a message: wait for the new one, so that the
	// next navigation cannot cut the form's submission short.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#retry-group-0"))))
	waitText(t, ctx, "#flash", "Queued again: 2 action(s)")
	sh.take(ctx, "retried-group")
	require.Equal(t, "succeeded", w.waitRun(id, "succeeded"))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/failed"), chromedp.WaitVisible(chromedp.CSS("#none"))))
	sh.take(ctx, "none-left")
	require.Len(t, w.sim.SCIM().Users(), 3)
}

// TestBrowserReadKeyCannotApprove: a read key sees no Approve button; a
// forged approval (a form it builds, with its own valid CSRF token) is
// refused by the API, and the run stays held.
func TestBrowserReadKeyCannotApprove(t *testing.T) {
	w, id := heldWorld(t)
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.keys[api.ScopeRead], sh)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#why"))))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#approve, #cancel").length`))
	require.NoError(t, err)
	require.Zero(t, n, "a read key must not see Approve or Cancel")
	sh.take(ctx, "held-run-read")
	require.NoError(t, chromedp.Do(ctx, forgePost("/runs/"+id+"/approve", true), chromedp.WaitVisible(chromedp.CSS("#problem"))))
	require.Contains(t, text(t, ctx, "#problem"), "lacks the scope runs:approve")
	sh.take(ctx, "forged-approve")
	require.Equal(t, "held", w.waitRun(id, "held"))
}

// TestBrowserPostWithoutCSRFRefused: an approver's browser posting the
// approval without the CSRF token is refused; the run stays held.
func TestBrowserPostWithoutCSRFRefused(t *testing.T) {
	w, id := heldWorld(t)
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.keys[api.ScopeAdmin], sh)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#approve"))))
	require.NoError(t, chromedp.Do(ctx, forgePost("/runs/"+id+"/approve", false), chromedp.WaitVisible(chromedp.CSS("#problem"))))
	require.Contains(t, text(t, ctx, "#problem"), "no CSRF token")
	sh.take(ctx, "no-csrf")
	require.Equal(t, "held", w.waitRun(id, "held"))
}

// forgePost builds and submits a form posting to action from the page
// shown, with the page's CSRF token or without one.
func forgePost(action string, withToken bool) chromedp.Action[chromedp.Void] {
	token := ""
	if withToken {
		token = `const t = document.querySelector("input[name=csrf]").value;
			const i = document.createElement("input"); i.type = "hidden"; i.name = "csrf"; i.value = t; f.appendChild(i);`
	}
	return chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.createElement("form"); f.method = "post"; f.action = "` + action + `";
		` + token + `
		document.body.appendChild(f); f.submit();
	})()`)
}

// TestBrowserOverviewOfATroubledDay: one create failed at the target and
// three new hires are held by the threshold: the overview shows the
// target in incident under the 95% line, the failed run and the held run
// as open alerts. (Its screenshots are the README's.)
func TestBrowserOverviewOfATroubledDay(t *testing.T) {
	w, id := heldWorld(t)
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "POST", Path: "/scim/v2/Users", Status: 400, Times: 1,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","detail":"mailbox quota exhausted for this tenant"}`})
	require.NoError(t, err)
	var out struct{}
	require.Equal(t, 200, w.api("POST", "/api/v1/runs/"+id+"/approve", &out))
	require.Equal(t, "failed", w.waitRun(id, "failed"))
	w.hire("E4,Edsger,Dijkstra,edsger@example.com,Engineering,employee,2026-03-01,",
		"E5,Barbara,Liskov,barbara@example.com,Sales,employee,2026-03-01,",
		"E6,Donald,Knuth,donald@example.com,Finance,employee,2026-03-01,")
	held := w.enforce()
	require.Equal(t, "held", w.waitRun(held, "held"))

	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.keys[api.ScopeAdmin], sh)
	require.Equal(t, "incident", text(t, ctx, "#overall"))
	row := text(t, ctx, "#target-saas")
	require.Contains(t, row, "80.0%", "4 of 5 attempts succeeded")
	alerts := text(t, ctx, "#alerts")
	require.Contains(t, alerts, "saas is incident")
	require.Contains(t, alerts, "run "+held+" is held for approval")
	sh.take(ctx, "overview")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/runs/"+held), chromedp.WaitVisible(chromedp.CSS("#why"))))
	sh.take(ctx, "held-run")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/runs?state=failed"), chromedp.WaitVisible(chromedp.CSS("#runs"))))
	require.Contains(t, text(t, ctx, "#runs"), id)
	sh.take(ctx, "failed-runs")
}

// TestBrowserSearchActionsInPlace: with JavaScript, htmx (under the
// strict CSP) replaces only the action list when searching, and the
// address bar keeps a shareable link of the search.
func TestBrowserSearchActionsInPlace(t *testing.T) {
	w, id := heldWorld(t)
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.keys[api.ScopeRead], sh)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#actions"))))
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#person"), "E2"),
		chromedp.Click(chromedp.CSS("#search")),
	))
	require.Eventually(t, func() bool {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#actions tbody")))
		return err == nil && strings.Contains(s, "E2") && !strings.Contains(s, "E1")
	}, 30*time.Second, 50*time.Millisecond, "the search did not narrow the list")
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	require.NoError(t, err)
	require.True(t, kept, "htmx should have swapped the list, not reloaded the page")
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "person=E2")
	sh.take(ctx, "searched")
	// The link, opened afresh, shows the same search.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(loc), chromedp.WaitVisible(chromedp.CSS("#actions"))))
	require.NotContains(t, text(t, ctx, "#actions tbody"), "E1")
}
