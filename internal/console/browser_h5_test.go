package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
)

// TestBrowserFollowEntitlementToRule: open a person, see why they have
// crm, and follow it to the rule that grants it.
func TestBrowserFollowEntitlementToRule(t *testing.T) {
	w := newWorld(t, worldOptions{enforce: true})
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.keys[api.ScopeRead], sh)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.url+"/persons?q=lovelace"),
		chromedp.WaitVisible(chromedp.CSS(`#persons a[href="/persons/E1"]`)),
	))
	sh.take(ctx, "persons")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#persons a[href="/persons/E1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#ent-saas-crm")),
	))
	require.Contains(t, text(t, ctx, "#ent-saas-crm"), "sales")
	require.Contains(t, text(t, ctx, "#timeline"), "create_account")
	sh.take(ctx, "person")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#ent-saas-crm a.rule[data-role="sales"]`)),
		chromedp.WaitVisible(chromedp.CSS("#when")),
	))
	require.Equal(t, `department == "Sales"`, text(t, ctx, "#when"))
	require.Contains(t, text(t, ctx, "#grants tr.followed"), "crm")
	sh.take(ctx, "rule")
}

// TestBrowserReenforceFromPersonPage: crm was removed on the target;
// re-enforce from the person page shows the what-if, then runs.
func TestBrowserReenforceFromPersonPage(t *testing.T) {
	w := newWorld(t, worldOptions{enforce: true})
	u, _ := w.sim.SCIM().UserByName("ada@example.com")
	g, _ := w.sim.SCIM().GroupByName("crm")
	require.NoError(t, w.sim.SCIM().RemoveMember(g.Str("id"), u.Str("id")))
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.newKey("operator", api.ScopeRead, api.ScopeActionsWrite), sh)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.url+"/persons/E1"),
		chromedp.WaitVisible(chromedp.CSS("#ent-saas-crm a.reenforce")),
	))
	sh.take(ctx, "person")
	before := w.runCount()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#ent-saas-crm a.reenforce")),
		chromedp.WaitVisible(chromedp.CSS("#whatif")),
	))
	require.Contains(t, text(t, ctx, "#planned"), "grant")
	require.Contains(t, text(t, ctx, "#whatif-message"), "nothing was stored")
	require.Equal(t, before, w.runCount(), "the what-if ran nothing")
	sh.take(ctx, "what-if")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#state")),
	))
	require.Contains(t, text(t, ctx, "#flash"), "created with 1 actions")
	state := ""
	deadline := time.Now().Add(time.Minute)
	for state != "succeeded" {
		require.True(t, time.Now().Before(deadline), "the run stayed %s", state)
		time.Sleep(200 * time.Millisecond)
		require.NoError(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#state"))))
		state = text(t, ctx, "#state")
	}
	require.Contains(t, text(t, ctx, "#actions"), "grant")
	sh.take(ctx, "run")
	members, _ := w.sim.SCIM().GroupByName("crm")
	require.Contains(t, strings.Join(memberIDs(members.Get("members")), ","), u.Str("id"), "crm is back on the target")
}

func memberIDs(v any) []string {
	var out []string
	ms, _ := v.([]any)
	for _, m := range ms {
		if mm, ok := m.(map[string]any); ok {
			if id, ok := mm["value"].(string); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// TestBrowserKeys: an admin creates a key (its secret shown once) and
// revokes it; a read key sees no Keys page and is refused there.
func TestBrowserKeys(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.keys[api.ScopeAdmin], sh)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.url+"/keys"),
		chromedp.WaitVisible(chromedp.CSS("#create-key")),
		chromedp.SendKeys(chromedp.CSS("#name"), "ci-bot"),
		chromedp.Click(chromedp.CSS("#scope-read")),
	))
	sh.take(ctx, "keys")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#secret")),
	))
	secret := text(t, ctx, "#secret")
	require.True(t, strings.HasPrefix(secret, "acc_"), secret)
	sh.take(ctx, "created")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#back")),
		chromedp.WaitVisible(chromedp.CSS(`button.revoke[data-key="ci-bot"]`)),
	))
	require.NotContains(t, text(t, ctx, "main"), secret, "the secret is not shown again")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button.revoke[data-key="ci-bot"]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	))
	require.Contains(t, text(t, ctx, "#flash"), "revoked")
	sh.take(ctx, "revoked")
	c := w.client()
	require.NotEqual(t, 303, c.do("POST", "/signin", map[string][]string{"key": {secret}}).status, "the revoked key cannot sign in")

	rctx := tab(t)
	browserSignIn(t, rctx, w, w.keys[api.ScopeRead], sh)
	require.NotContains(t, text(t, rctx, "header nav"), "Keys", "no Keys page in a read key's navigation")
	require.NoError(t, chromedp.Do(rctx, chromedp.Navigate(w.url+"/keys"), chromedp.WaitVisible(chromedp.CSS("#problem"))))
	require.Contains(t, text(t, rctx, "#problem"), "lacks the scope admin")
	sh.take(rctx, "read-key-refused")
}
