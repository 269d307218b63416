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
	checkContract(t, "GET", "/api/v1/runs", rec.Code, rec.Body.Bytes(), rec.Header().Get("Content-Type"))

	rec = call("198.51.100.1:4000", w.keys[api.ScopeRead])
	require.Equal(t, http.StatusOK, rec.Code, "another address is not held back")
}
