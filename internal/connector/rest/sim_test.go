package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
)

func TestNineGrantsGoToNineURLs(t *testing.T) {
	t.Parallel()
	groups := make([]string, 9)
	for i := range groups {
		groups[i] = fmt.Sprintf("5f%022d", i+1)
	}
	sim, c := jcSim(t, groups...)
	ctx := context.Background()
	ref := create(t, ctx, c, "ann")

	require.NoError(t, c.Grant(ctx, ref, groups))

	posts := calls(sim, "POST", "/usergroups/")
	require.Len(t, posts, 9)
	seen := map[string]bool{}
	for i, p := range posts {
		require.Equal(t, "/rest/v1/usergroups/"+groups[i]+"/members", p.RawPath)
		seen[p.RawPath] = true
	}
	require.Len(t, seen, 9, "nine distinct URLs")
	for _, r := range sim.RequestsTo("POST", "/rest/v1/usergroups/") {
		require.Equal(t, http.StatusNoContent, r.Status, "no 409: %s %s", r.Path, r.Body)
		require.JSONEq(t, `{"op": "add", "type": "user", "id": "`+ref.NativeID+`"}`, r.Body)
	}
	for _, g := range groups {
		members, err := sim.REST().Members(g)
		require.NoError(t, err)
		require.Equal(t, []string{ref.NativeID}, members, g)
	}
}

func TestCreateGrantReadBackInOneSession(t *testing.T) {
	t.Parallel()
	sim, c := jcSim(t, "g-crm", "g-wiki")
	ctx := context.Background()

	ref := create(t, ctx, c, "ann")
	require.NoError(t, c.Grant(ctx, ref, []string{"g-crm", "g-wiki"}))
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)

	require.Equal(t, ref.NativeID, got.NativeID)
	require.Equal(t, []string{"g-crm", "g-wiki"}, got.Entitlements)
	require.Equal(t, person("ann"), got.Attributes)
	require.True(t, got.Active)
	require.Len(t, sim.RequestsTo("POST", "/rest/v1/session"), 1, "exactly one login")
	for _, r := range sim.RequestsTo("", "/rest/v1/") {
		require.NotEqual(t, http.StatusUnauthorized, r.Status, "%s %s", r.Method, r.Path)
		if r.Path != "/rest/v1/session" {
			require.Contains(t, r.Header.Get("Cookie"), "sid=", "every request carries the session")
			require.Equal(t, "org-1", r.Header.Get("X-Org-Id"))
		}
	}

	require.NoError(t, c.Close(ctx))
	require.Len(t, sim.RequestsTo("DELETE", "/rest/v1/session"), 1, "logout on close")
	require.Equal(t, 0, sim.REST().OpenSessions())
	require.NoError(t, c.Close(ctx), "a second close has nothing to end")
	require.Len(t, sim.RequestsTo("DELETE", "/rest/v1/session"), 1)
}

func TestSessionExpiringMidRunRecoversWithOneRelogin(t *testing.T) {
	t.Parallel()
	sim, c := jcSim(t, "g1", "g2", "g3", "g4")
	ctx := context.Background()
	ref := create(t, ctx, c, "ann")
	require.NoError(t, c.Grant(ctx, ref, []string{"g1", "g2"}))

	sim.REST().ExpireSessions()
	require.NoError(t, c.Grant(ctx, ref, []string{"g3", "g4"}))
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, []string{"g1", "g2", "g3", "g4"}, got.Entitlements)

	require.Equal(t, 2, sim.REST().Logins(), "one login, one re-login")
	var unauthorized int
	for _, r := range sim.RequestsTo("", "/rest/v1/") {
		if r.Status == http.StatusUnauthorized {
			unauthorized++
		}
		require.NotEqual(t, http.StatusConflict, r.Status, "no login while a session is open")
	}
	require.Equal(t, 1, unauthorized, "one request was refused, then retried")
}

func TestConcurrentWorkersShareOneSession(t *testing.T) {
	t.Parallel()
	const workers = 8
	groups := make([]string, workers)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i)
	}
	sim, c := jcSim(t, groups...)
	ctx := context.Background()
	refs := make([]connector.AccountRef, workers)
	for i := range refs {
		refs[i] = create(t, ctx, c, fmt.Sprintf("user%d", i))
	}
	sim.REST().ExpireSessions()

	errs := make(chan error, workers)
	start := make(chan struct{})
	for i := range workers {
		go func() {
			<-start
			errs <- c.Grant(ctx, refs[i], groups)
		}()
	}
	close(start)
	for range workers {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 2, sim.REST().Logins(), "the workers shared one re-login")
	for _, r := range sim.RequestsTo("POST", "/rest/v1/session") {
		require.Equal(t, http.StatusOK, r.Status, "two logins never raced")
	}
	for _, g := range groups {
		members, err := sim.REST().Members(g)
		require.NoError(t, err)
		require.Len(t, members, workers)
	}
}

func TestHostileEntitlementValuesAreEscaped(t *testing.T) {
	t.Parallel()
	hostile := map[string]string{
		"../admin":   "/rest/v1/usergroups/..%2Fadmin/members",
		"a/b":        "/rest/v1/usergroups/a%2Fb/members",
		"x?y=1":      "/rest/v1/usergroups/x%3Fy=1/members",
		`"quoted"`:   "/rest/v1/usergroups/%22quoted%22/members",
		"Grüße ☃":    "/rest/v1/usergroups/Gr%C3%BC%C3%9Fe%20%E2%98%83/members",
		"..":         "/rest/v1/usergroups/%2E%2E/members",
		".":          "/rest/v1/usergroups/%2E/members",
		"a#b":        "/rest/v1/usergroups/a%23b/members",
		"50%":        "/rest/v1/usergroups/50%25/members",
		"a\r\nX-A:1": "/rest/v1/usergroups/a%0D%0AX-A:1/members",
	}
	ents := make([]string, 0, len(hostile))
	for e := range hostile {
		ents = append(ents, e)
	}
	sim, c := jcSim(t, append([]string{"admin", "a", "x"}, ents...)...)
	ctx := context.Background()
	ref := create(t, ctx, c, "ann")

	for _, e := range ents {
		require.NoError(t, c.Grant(ctx, ref, []string{e}), e)
		last := calls(sim, "POST", "/usergroups/")
		require.Equal(t, hostile[e], last[len(last)-1].RawPath, e)
		members, err := sim.REST().Members(e)
		require.NoError(t, err)
		require.Equal(t, []string{ref.NativeID}, members, "%q lands on its own group", e)
	}
	for _, decoy := range []string{"admin", "a", "x"} {
		members, err := sim.REST().Members(decoy)
		require.NoError(t, err)
		require.Empty(t, members, "%q got no member by way of a hostile value", decoy)
	}
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	require.ElementsMatch(t, ents, got.Entitlements)

	require.NoError(t, c.Revoke(ctx, ref, ents))
	for _, e := range ents {
		members, err := sim.REST().Members(e)
		require.NoError(t, err)
		require.Empty(t, members, e)
	}
}

func TestHostileAttributeValuesStayInTheirPlace(t *testing.T) {
	t.Parallel()
	sim, c := jcSim(t)
	ctx := context.Background()
	name := `eve", "suspended": true, "x": "`
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: model.Attributes{"username": name, "email": "e@x", "firstname": "Ève"}})
	require.NoError(t, err)
	u, ok := sim.REST().User(a.NativeID)
	require.True(t, ok)
	require.Equal(t, name, u.Str("username"))
	require.Equal(t, false, u.Attributes["suspended"], "a value cannot add members to the body")
	require.Equal(t, "Ève", u.Str("firstname"))

	found, err := c.Find(ctx, model.Attributes{"username": name})
	require.NoError(t, err, "the query value is escaped too")
	require.Equal(t, a.NativeID, found.NativeID)
}

func TestCreateConflictThenFindLinks(t *testing.T) {
	t.Parallel()
	sim, c := jcSim(t)
	id, err := sim.REST().AddUser(map[string]any{"username": "ann", "email": "old@example.com", "suspended": true})
	require.NoError(t, err)
	_, _ = sim.REST().AddUser(map[string]any{"username": "annabel"})
	ctx := context.Background()

	_, err = c.Create(ctx, connector.CreateRequest{Attributes: person("ann")})
	require.Equal(t, connector.Conflict, connector.KindOf(err), "%v", err)

	found, err := c.Find(ctx, person("ann"))
	require.NoError(t, err)
	require.Equal(t, id, found.NativeID)
	require.False(t, found.Active)
	require.Equal(t, "old@example.com", found.Attributes["email"])

	_, err = c.Find(ctx, person("nobody"))
	require.Equal(t, connector.NotFound, connector.KindOf(err))
}

func TestUpdateEnableDisableDelete(t *testing.T) {
	t.Parallel()
	sim, c := jcSim(t)
	ctx := context.Background()
	ref := create(t, ctx, c, "ann")
	sim.ResetLog()

	require.NoError(t, c.Update(ctx, ref, model.Attributes{"email": "ann@new.example"}))
	r := sim.RequestsTo("PUT", "/rest/v1/users/")
	require.Len(t, r, 1)
	require.JSONEq(t, `{"email": "ann@new.example"}`, r[0].Body, "only the change is sent")
	require.NoError(t, c.Update(ctx, ref, nil))
	require.Len(t, sim.RequestsTo("PUT", "/rest/v1/users/"), 1, "nothing to change, nothing sent")

	require.NoError(t, c.Disable(ctx, ref))
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	require.False(t, got.Active)
	require.Equal(t, "ann@new.example", got.Attributes["email"])
	require.NoError(t, c.Enable(ctx, ref))
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	require.True(t, got.Active)

	require.NoError(t, c.Delete(ctx, ref))
	err = c.Delete(ctx, ref)
	require.Equal(t, connector.NotFound, connector.KindOf(err), "deleting twice: not_found, which the engine treats as done")
	_, err = c.Get(ctx, ref)
	require.Equal(t, connector.NotFound, connector.KindOf(err))
	require.Equal(t, connector.NotFound, connector.KindOf(c.Disable(ctx, ref)), "the account is gone")
}

func TestSecondAddIsDoneAndRevokeOfNonMemberIsDone(t *testing.T) {
	t.Parallel()
	sim, c := jcSim(t, "g1", "g2")
	ctx := context.Background()
	ref := create(t, ctx, c, "ann")
	require.NoError(t, c.Grant(ctx, ref, []string{"g1"}))

	sim.ResetLog()
	require.NoError(t, c.Grant(ctx, ref, []string{"g1", "g2"}), "already a member of g1: done")
	var conflicts int
	for _, r := range sim.RequestsTo("POST", "/rest/v1/usergroups/") {
		if r.Status == http.StatusConflict {
			conflicts++
		}
	}
	require.Equal(t, 1, conflicts)
	require.Len(t, sim.RequestsTo("GET", "/rest/v1/users/"+ref.NativeID), 1, "the 409 was checked by reading back")

	require.NoError(t, c.Revoke(ctx, ref, []string{"g1"}))
	require.NoError(t, c.Revoke(ctx, ref, []string{"g1"}), "not a member any more: done")

	// A 409 that does not mean "already a member" must not pass for done.
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "POST", Path: "/rest/v1/usergroups/g1/members", Times: 1, Status: 409})
	require.NoError(t, err)
	err = c.Grant(ctx, ref, []string{"g1"})
	require.Equal(t, connector.Unverified, connector.KindOf(err), "%v", err)

	// A 404 on grant is not_found, in the target's words; the engine reads
	// the account to tell a missing group from a missing account.
	err = c.Grant(ctx, ref, []string{"no-such-group"})
	e := connector.AsError(err)
	require.Equal(t, connector.NotFound, e.Kind, "%v", err)
	require.Equal(t, `no group "no-such-group"`, e.Reason)
}

func TestTransientFailuresKeepTheirKind(t *testing.T) {
	t.Parallel()
	sim, c := jcSim(t, "g1")
	ctx := context.Background()
	ref := create(t, ctx, c, "ann")
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Times: 1, RetryAfter: targetsim.Duration(7e9)})
	require.NoError(t, err)
	err = c.Grant(ctx, ref, []string{"g1"})
	ce := connector.AsError(err)
	require.Equal(t, connector.RateLimited, ce.Kind)
	require.Equal(t, int64(7e9), int64(ce.RetryAfter))
}

func TestCapabilitiesFollowTheOperations(t *testing.T) {
	t.Parallel()
	_, c := jcSim(t)
	require.Equal(t, connector.Capabilities{GatesRequests: true, Read: true, Find: true, List: true, ListEntitlements: true, Delete: true,
		MaxBatch: 1, EntitlementsOnRead: true}, c.Capabilities(), "get and list_accounts read entitlements from the connection's response")

	_, base := startSim(t, targetsim.RESTOptions{})
	c = openYAML(t, settings(batchTarget, base, "{type: none}"), mapping)
	require.Equal(t, connector.Capabilities{GatesRequests: true, Read: true, MaxBatch: 20, CreateWithEntitlements: true, EntitlementsOnRead: true}, c.Capabilities())
	_, err := c.Find(context.Background(), person("ann"))
	require.Equal(t, connector.Unsupported, connector.KindOf(err))
}
