package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

func errorMessage(t *testing.T, r response) string {
	t.Helper()
	return r.json(t)["error"].(map[string]any)["message"].(string)
}

// Issue 12: keys may expire; an expired key is refused with a 401 that
// says so, and the holder of a valid key never sees that message.
func TestExpiredKeyIsRefusedWithAClearMessage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	now := w.app.Now()

	live, _, err := api.CreateKey(ctx, w.app.Store, "live", []string{api.ScopeRead}, now.Add(time.Hour), "test", now)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, w.do("GET", "/api/v1/runs", live, nil).status, "valid until its expiry")

	// Made two days ago, for one day.
	old, _, err := api.CreateKey(ctx, w.app.Store, "old", []string{api.ScopeRead}, now.Add(-24*time.Hour), "test", now.Add(-48*time.Hour))
	require.NoError(t, err)
	r := w.do("GET", "/api/v1/runs", old, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "this API key expired at "+now.Add(-24*time.Hour).UTC().Format(time.RFC3339)+
		"; rotate it ('accord keys rotate old') or create a new one", errorMessage(t, r))

	recs, err := w.app.Store.ListAudit(ctx, store.AuditQuery{Kinds: []audit.Kind{audit.KindEvent}})
	require.NoError(t, err)
	found := false
	for _, rec := range recs {
		if rec.Actor == "apikey:old" && rec.Operation == "api refused" {
			require.Contains(t, rec.Message, "expired key (expired ")
			found = true
		}
	}
	require.True(t, found, "the refusal is audited under the key's name")

	// As the message says, rotating gives the name a working key; the
	// grace period does not revive the expired one.
	fresh, _, _, err := api.RotateKey(ctx, w.app.Store, "old", time.Hour, time.Time{}, "test", now)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, w.do("GET", "/api/v1/runs", fresh, nil).status)
	require.Equal(t, http.StatusUnauthorized, w.do("GET", "/api/v1/runs", old, nil).status)

	_, _, err = api.CreateKey(ctx, w.app.Store, "past", []string{api.ScopeRead}, now.Add(-time.Second), "test", now)
	require.ErrorContains(t, err, "is not in the future")
}

// Issue 12: rotation gives a name a new secret; the old one works for the
// grace period only, and then says it was replaced.
func TestRotatedKeyWorksDuringItsGracePeriodOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	now := w.app.Now()

	first, k1, err := api.CreateKey(ctx, w.app.Store, "ci", []string{api.ScopeRead}, now.Add(90*24*time.Hour), "test", now.Add(-time.Hour))
	require.NoError(t, err)
	second, old, k2, err := api.RotateKey(ctx, w.app.Store, "ci", 24*time.Hour, time.Time{}, "test", now)
	require.NoError(t, err)
	require.Equal(t, k1.ID, old.ID)
	require.Equal(t, "ci", k2.Name)
	require.Equal(t, k1.Scopes, k2.Scopes)
	require.Equal(t, now.Add(90*24*time.Hour+time.Hour), k2.ExpiresAt, "the new key lasts as long as the old one was made to")
	require.Equal(t, now.Add(24*time.Hour), old.ExpiresAt)
	for _, key := range []string{first, second} {
		require.Equal(t, http.StatusOK, w.do("GET", "/api/v1/runs", key, nil).status, "both keys work in the grace period")
	}
	cur, err := api.FindKey(ctx, w.app.Store, "ci")
	require.NoError(t, err)
	require.Equal(t, k2.ID, cur.ID, "the name means the new key")

	// Rotate again with no grace: the second key stops at once.
	third, _, _, err := api.RotateKey(ctx, w.app.Store, "ci", 0, time.Time{}, "test", now)
	require.NoError(t, err)
	r := w.do("GET", "/api/v1/runs", second, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "this API key was replaced by a rotation and its grace period ended at "+now.UTC().Format(time.RFC3339)+
		"; use the new key of \"ci\"", errorMessage(t, r))
	require.Equal(t, http.StatusOK, w.do("GET", "/api/v1/runs", third, nil).status)

	// Revoking the name leaves no key of it working, in grace or not.
	_, err = api.RevokeKey(ctx, w.app.Store, "ci", "test", now)
	require.NoError(t, err)
	for _, key := range []string{first, third} {
		require.Equal(t, http.StatusUnauthorized, w.do("GET", "/api/v1/runs", key, nil).status)
	}
	_, _, _, err = api.RotateKey(ctx, w.app.Store, "ci", time.Hour, time.Time{}, "test", now)
	require.ErrorIs(t, err, store.ErrNotFound, "no current key named ci")
}

// Issue 12: failed authentication is slowed down per client address; the
// refusal comes before any key is looked up, and other addresses are not
// affected.
func TestFailedAuthenticationIsSlowedPerClientAddress(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	h := w.srv.Handler()
	call := func(addr, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/runs", nil)
		req.RemoteAddr = addr
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range 5 {
		rec := call("203.0.113.7:4000", w.wrongKey)
		require.Equal(t, http.StatusUnauthorized, rec.Code, "free failure %d", i+1)
		require.Empty(t, rec.Header().Get("Retry-After"))
	}
	rec := call("203.0.113.7:4001", w.wrongKey)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"), "the sixth failure starts the wait")
	require.Contains(t, rec.Body.String(), "too many failed attempts from 203.0.113.7: wait 1s before the next")

	rec = call("203.0.113.7:4002", w.keys[api.ScopeRead])
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "held back, even with a good key")
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	require.Contains(t, rec.Body.String(), "too many failed authentications from 203.0.113.7; retry in 1s")
	checkContract(t, httptest.NewRequest("GET", "/api/v1/runs", nil), nil, rec.Code, rec.Header(), rec.Body.Bytes())

	rec = call("198.51.100.1:4000", w.keys[api.ScopeRead])
	require.Equal(t, http.StatusOK, rec.Code, "another address is not held back")
}

// Issue 12: the same over the API, for tools that hand out keys.
func TestKeysOverTheAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	now := w.app.Now()
	r := w.admin("POST", "/api/v1/keys", map[string]any{"name": "itsm", "scopes": []string{"persons:write"}, "expires": "30d"}, http.StatusCreated)
	created := r.json(t)
	key := created["key"].(string)
	require.Equal(t, "active", created["state"])
	at := func(v any) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339Nano, v.(string))
		require.NoError(t, err)
		return tm
	}
	require.WithinDuration(t, now.AddDate(0, 0, 30), at(created["expires_at"]), time.Minute)

	r = w.admin("POST", "/api/v1/keys/itsm/rotate", map[string]any{"grace": "0s"}, http.StatusCreated)
	rotated := r.json(t)
	require.NotEqual(t, key, rotated["key"])
	require.WithinDuration(t, at(created["expires_at"]), at(rotated["expires_at"]), time.Minute, "the same lifetime")
	require.Equal(t, http.StatusUnauthorized, w.do("GET", "/api/v1/persons/E1", key, nil).status, "no grace: the old key stops")

	r = w.admin("GET", "/api/v1/keys", nil, http.StatusOK)
	states := map[string]string{}
	for _, k := range r.json(t)["keys"].([]any) {
		m := k.(map[string]any)
		require.NotContains(t, m, "key", "a list never shows a secret")
		states[m["id"].(string)] = m["state"].(string)
	}
	require.Equal(t, "expired", states[created["id"].(string)])
	require.Equal(t, "active", states[rotated["id"].(string)])

	for _, c := range []struct {
		path string
		body any
		want string
	}{
		{"/api/v1/keys", map[string]any{"name": "x", "scopes": []string{"read"}, "expires": "soon"}, "expires: expiry \"soon\": use a lifetime"},
		{"/api/v1/keys", map[string]any{"name": "x", "scopes": []string{"root"}}, "scopes: unknown scope \"root\""},
		{"/api/v1/keys/itsm/rotate", map[string]any{"grace": "a while"}, "grace: \"a while\" is not a duration"},
	} {
		r := w.do("POST", c.path, w.keys[api.ScopeAdmin], c.body)
		require.Equal(t, http.StatusBadRequest, r.status, r.text())
		require.Contains(t, errorMessage(t, r), c.want)
	}
	r = w.do("POST", "/api/v1/keys", w.keys[api.ScopeAdmin], map[string]any{"name": "itsm", "scopes": []string{"read"}})
	require.Equal(t, http.StatusConflict, r.status, r.text())
	r = w.do("POST", "/api/v1/keys/nobody/rotate", w.keys[api.ScopeAdmin], nil)
	require.Equal(t, http.StatusNotFound, r.status, r.text())
	requireNoKeyIn(t, w, key, rotated["key"].(string))
}
