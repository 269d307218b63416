package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// concrete fills a route's path parameters with values that exist in the
// test world (or, for IDs, that do not: those answer 404).
func concrete(path string) string {
	return strings.NewReplacer("{key}", "E2", "{target}", "saas", "{entitlement}", "crm", "{id}", "999999").Replace(path)
}

// otherScope is a scope that does not grant the route's.
func otherScope(scope string) string {
	if scope == api.ScopeRead {
		return api.ScopePersonsWrite
	}
	return api.ScopeRead
}

// TestEveryRouteChecksKeysAndScopes calls every authenticated route with
// no key, a wrong key, a revoked key, a key without the route's scope,
// and a key with exactly that scope; refusals are 401 or 403 in the one
// error shape, and audited under the key's name, never the key.
func TestEveryRouteChecksKeysAndScopes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	routes := w.srv.Routes()
	authed := 0
	for _, rt := range routes {
		path := concrete(rt.Path)
		if rt.Scope == "" {
			r := w.do(rt.Method, path, "", nil)
			require.Equal(t, http.StatusOK, r.status, "%s %s is public: %s", rt.Method, rt.Path, r.text())
			continue
		}
		authed++
		cases := []struct {
			name   string
			key    string
			status int
			code   string
		}{
			{"no key", "", http.StatusUnauthorized, api.CodeUnauthorized},
			{"malformed key", "not-a-key", http.StatusUnauthorized, api.CodeUnauthorized},
			{"wrong key", w.wrongKey, http.StatusUnauthorized, api.CodeUnauthorized},
			{"revoked key", w.revokedKey, http.StatusUnauthorized, api.CodeUnauthorized},
			{"wrong scope", w.keys[otherScope(rt.Scope)], http.StatusForbidden, api.CodeForbidden},
		}
		for _, c := range cases {
			r := w.do(rt.Method, path, c.key, nil)
			require.Equal(t, c.status, r.status, "%s %s with %s: %s", rt.Method, rt.Path, c.name, r.text())
			if rt.SCIM {
				// SCIM clients get SCIM's error shape (RFC 7644 3.12).
				e := r.json(t)
				require.Equal(t, []any{"urn:ietf:params:scim:api:messages:2.0:Error"}, e["schemas"], "%s %s with %s", rt.Method, rt.Path, c.name)
				require.Equal(t, fmt.Sprint(c.status), e["status"])
				require.NotEmpty(t, e["detail"])
				require.Contains(t, r.header.Get("Content-Type"), "application/scim+json")
			} else {
				e := r.json(t)["error"].(map[string]any)
				require.Equal(t, c.code, e["code"], "%s %s with %s", rt.Method, rt.Path, c.name)
				require.NotEmpty(t, e["message"])
			}
			require.NotEmpty(t, r.header.Get("X-Request-ID"))
			if c.status == http.StatusUnauthorized {
				require.Equal(t, `Bearer realm="accord"`, r.header.Get("WWW-Authenticate"))
			}
		}
		// The route's own scope, and admin, get through to the handler.
		for _, key := range []string{w.keys[rt.Scope], w.keys[api.ScopeAdmin]} {
			r := w.do(rt.Method, path, key, nil)
			require.NotContains(t, []int{401, 403, 405, 429, 500}, r.status, "%s %s: %s", rt.Method, rt.Path, r.text())
			if rt.SCIM {
				require.Contains(t, r.header.Get("Content-Type"), "application/scim+json")
			} else {
				require.Contains(t, r.header.Get("Content-Type"), "application/json")
			}
		}
	}
	require.Greater(t, authed, 15)

	refusals, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{Kinds: []audit.Kind{audit.KindEvent}})
	require.NoError(t, err)
	byActor := map[string]int{}
	for _, rec := range refusals {
		if rec.Operation == "api refused" {
			byActor[rec.Actor+" "+http.StatusText(rec.Status)]++
		}
	}
	require.Equal(t, map[string]int{
		"apikey:(unknown) Unauthorized":      2 * authed, // no key, malformed key
		"apikey:key-admin Unauthorized":      authed,     // the admin key's ID with a wrong secret
		"apikey:revoked Unauthorized":        authed,
		"apikey:key-read Forbidden":          authed - countScope(routes, api.ScopeRead),
		"apikey:key-persons-write Forbidden": countScope(routes, api.ScopeRead),
	}, byActor)
	requireNoKeyIn(t, w, w.keys[api.ScopeAdmin], w.keys[api.ScopeRead], w.wrongKey, w.revokedKey)
}

func countScope(routes []api.Route, scope string) int {
	n := 0
	for _, r := range routes {
		if r.Scope == scope {
			n++
		}
	}
	return n
}

// requireNoKeyIn checks that no key's secret is anywhere in the audit trail.
func requireNoKeyIn(t testing.TB, w *world, keys ...string) {
	t.Helper()
	all := strings.Join(w.audit(store.AuditQuery{}), "\n")
	for _, k := range keys {
		// acc_<id>_<secret>: the secret is base64url and may itself hold
		// underscores, so it is everything after the second one.
		secret := strings.SplitN(k, "_", 3)[2]
		require.NotContains(t, all, secret)
	}
}

func TestChangesAreAuditedUnderTheKeyName(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ops := w.newKey("itsm-bot", api.ScopePersonsWrite)
	r := w.do("POST", "/api/v1/persons/E3/end-employment", ops, map[string]string{"date": "2026-03-02"})
	require.Equal(t, http.StatusOK, r.status, r.text())
	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{PersonKey: "E3", Kinds: []audit.Kind{audit.KindEvent}})
	require.NoError(t, err)
	var found *audit.Record
	for i := range recs {
		if recs[i].Operation == "api POST /api/v1/persons/{key}/end-employment" {
			found = &recs[i]
		}
	}
	require.NotNil(t, found, "the change is audited")
	require.Equal(t, "apikey:itsm-bot", found.Actor)
	require.Equal(t, http.StatusOK, found.Status)
	require.Equal(t, "succeeded", found.Outcome)
	require.NotEmpty(t, found.RunID, "the audit record names the run it created")
	require.Contains(t, found.Message, "employment ended 2026-03-02")
	require.Contains(t, found.Message, r.header.Get("X-Request-ID"))
	requireNoKeyIn(t, w, ops)

	run := w.waitRun(found.RunID)
	require.Equal(t, "apikey:itsm-bot", run.Trigger, "the run says who asked for it")
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.do("GET", "/api/v1/nope", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, api.CodeNotFound, r.json(t)["error"].(map[string]any)["code"])

	r = w.do("DELETE", "/api/v1/persons/E1", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "GET, PUT", r.header.Get("Allow"))
	require.Equal(t, api.CodeMethodNotAllowed, r.json(t)["error"].(map[string]any)["code"])

	r = w.do("GET", "/api/v1/persons/E1", w.keys[api.ScopeAdmin], nil, "X-Request-ID", "itsm-4711")
	require.Equal(t, "itsm-4711", r.header.Get("X-Request-ID"), "a caller's request ID is kept")
	r = w.do("GET", "/api/v1/persons/E1", w.keys[api.ScopeAdmin], nil, "X-Request-ID", "bad id with spaces")
	require.NotEqual(t, "bad id with spaces", r.header.Get("X-Request-ID"))
	require.NotEmpty(t, r.header.Get("X-Request-ID"))
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{ratePerS: "0.001", rateBurst: 3})
	a := w.newKey("a", api.ScopeRead)
	b := w.newKey("b", api.ScopeRead)
	for i := 0; i < 3; i++ {
		require.Equal(t, http.StatusOK, w.do("GET", "/api/v1/runs", a, nil).status)
	}
	r := w.do("GET", "/api/v1/runs", a, nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, api.CodeRateLimited, r.json(t)["error"].(map[string]any)["code"])
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Equal(t, http.StatusOK, w.do("GET", "/api/v1/runs", b, nil).status, "another key has its own budget")
}
