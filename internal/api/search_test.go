package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// The audit trail pages newest first by a keyset cursor, and filters by
// actor, outcome, time and text; the next link carries every filter.
func TestAuditSearchNewestFirst(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	key := w.keys[api.ScopeRead]
	recs := []audit.Record{}
	for i := range 5 {
		recs = append(recs, audit.Record{Time: w.app.Now(), Kind: audit.KindEvent, Actor: "apikey:searcher",
			Operation: "search test", Outcome: "succeeded", Message: "Needle " + string(rune('a'+i))})
	}
	require.NoError(t, w.app.Store.AppendAudit(context.Background(), recs))

	ids := func(r response) []int64 {
		var out []int64
		for _, it := range r.json(t)["items"].([]any) {
			out = append(out, int64(it.(map[string]any)["id"].(float64)))
		}
		return out
	}
	r := w.do("GET", "/api/v1/audit?order=newest&actor=apikey:searcher&q=needle&limit=2", key, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, []int64{recs[4].ID, recs[3].ID}, ids(r))
	next := r.json(t)["next"].(string)
	u, err := url.Parse(next)
	require.NoError(t, err)
	require.Equal(t, "newest", u.Query().Get("order"), "the next page keeps the order")
	require.Equal(t, "needle", u.Query().Get("q"), "and the filter")
	r = w.do("GET", next, key, nil)
	require.Equal(t, []int64{recs[2].ID, recs[1].ID}, ids(r))

	r = w.do("GET", "/api/v1/audit?q=NEEDLE%20C", key, nil)
	require.Equal(t, []int64{recs[2].ID}, ids(r), "text matches ignoring case")
	r = w.do("GET", "/api/v1/audit?actor=apikey:searcher&until=2000-01-01", key, nil)
	require.Empty(t, ids(r))

	for _, bad := range []struct{ query, field string }{
		{"order=sideways", "order"},
		{"before=5", "before"},
		{"order=newest&after=5", "after"},
		{"since=yesterday", "since"},
	} {
		r := w.do("GET", "/api/v1/audit?"+bad.query, key, nil)
		require.Equal(t, http.StatusBadRequest, r.status, bad.query)
		require.Contains(t, r.text(), bad.field, bad.query)
	}
}

func TestPersonSearch(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	key := w.keys[api.ScopeRead]
	r := w.do("GET", "/api/v1/persons?q=HOPPER", key, nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	items := r.json(t)["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, "E3", items[0].(map[string]any)["key"])
	r = w.do("GET", "/api/v1/persons?q=example.com&limit=2", key, nil)
	require.Len(t, r.json(t)["items"].([]any), 2)
	require.True(t, strings.Contains(r.json(t)["next"].(string), "q=example.com"), "the next page keeps the search")
}

// Roles carry the rule that gives them: where an entitlement's
// provenance leads.
func TestListRoles(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.do("GET", "/api/v1/roles", w.keys[api.ScopeRead], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	body := r.json(t)
	sales := body["items"].([]any)[0].(map[string]any)
	require.Equal(t, "sales", sales["name"])
	require.Equal(t, `department == "Sales"`, sales["when"])
	require.Equal(t, []any{map[string]any{"target": "saas", "entitlements": []any{"crm", "sales-drive"}}}, sales["grants"])
	require.Equal(t, []any{"all-staff"}, body["birthright"].(map[string]any)["saas"])
	require.Equal(t, "(birthright)", body["birthright_role"])
	r = w.do("GET", "/api/v1/roles?target=saas", w.keys[api.ScopeRead], nil)
	require.Equal(t, http.StatusBadRequest, r.status)
}

// Revoking by name over the API refuses the key from its next request,
// and needs the admin scope.
func TestRevokeKeyOverTheAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	victim := w.newKey("victim", api.ScopeRead)
	require.Equal(t, http.StatusOK, w.do("GET", "/api/v1/runs", victim, nil).status)

	r := w.do("POST", "/api/v1/keys/victim/revoke", w.keys[api.ScopeActionsWrite], nil)
	require.Equal(t, http.StatusForbidden, r.status, "only admin revokes")
	require.Equal(t, http.StatusOK, w.do("GET", "/api/v1/runs", victim, nil).status)

	r = w.do("POST", "/api/v1/keys/victim/revoke", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusOK, r.status, r.text())
	require.Equal(t, "revoked", r.json(t)["state"])
	require.Equal(t, http.StatusUnauthorized, w.do("GET", "/api/v1/runs", victim, nil).status)

	r = w.do("POST", "/api/v1/keys/nobody/revoke", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusNotFound, r.status, r.text())
	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{Text: `"victim"`, Actor: "apikey:key-admin"})
	require.NoError(t, err)
	var ops []string
	for _, r := range recs {
		ops = append(ops, r.Operation)
	}
	require.Equal(t, []string{"api key revoked", "api POST /api/v1/keys/{name}/revoke"}, ops, "revoked, and the call audited with the admin key's name")
}
