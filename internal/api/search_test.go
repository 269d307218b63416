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
