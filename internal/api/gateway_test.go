package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// TestInvokeIsTheRoute: a call through Invoke (the console's way in) is
// the route's own: same answer, same scope check, audited the same way
// under the key's name.
func TestInvokeIsTheRoute(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx := context.Background()
	keyOf := func(full string) *store.APIKey {
		req := httptest.NewRequest("POST", "/signin", nil)
		k, err := w.srv.SignIn(req, full)
		require.NoError(t, err)
		return k
	}
	read, writer := keyOf(w.keys[api.ScopeRead]), keyOf(w.keys[api.ScopeActionsWrite])
	from := httptest.NewRequest("GET", "/", nil)

	a := w.srv.Invoke(ctx, read, from, "GET", "/api/v1/targets", nil)
	require.Equal(t, http.StatusOK, a.Status)
	require.JSONEq(t, w.do("GET", "/api/v1/targets", w.keys[api.ScopeRead], nil).text(), string(a.Body))

	a = w.srv.Invoke(ctx, read, from, "POST", "/api/v1/targets/saas/resume", nil)
	require.Equal(t, http.StatusForbidden, a.Status, string(a.Body))
	a = w.srv.Invoke(ctx, writer, from, "POST", "/api/v1/targets/saas/resume", []byte(`{}`))
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	recs := w.audit(store.AuditQuery{Kinds: []audit.Kind{audit.KindEvent}, Target: "saas"})
	require.NotEmpty(t, recs)
	last := recs[len(recs)-1]
	require.Contains(t, last, `"actor":"apikey:key-actions-write"`)
	require.Contains(t, last, `"operation":"api POST /api/v1/targets/{target}/resume"`)
	refused := strings.Join(w.audit(store.AuditQuery{Kinds: []audit.Kind{audit.KindEvent}}), "\n")
	require.Contains(t, refused, `"actor":"apikey:key-read"`)
	require.Contains(t, refused, "lacks scope actions:write")
}

// TestAllowedFollowsTheRouteTable: which buttons a key sees is decided by
// the scope of the route it would call.
func TestAllowedFollowsTheRouteTable(t *testing.T) {
	w := newWorld(t, worldOptions{})
	read := &store.APIKey{Name: "r", Scopes: []string{api.ScopeRead}}
	approver := &store.APIKey{Name: "a", Scopes: []string{api.ScopeRunsApprove}}
	admin := &store.APIKey{Name: "x", Scopes: []string{api.ScopeAdmin}}
	require.True(t, w.srv.Allowed(read, "GET", "/api/v1/runs/r1"))
	require.False(t, w.srv.Allowed(read, "POST", "/api/v1/runs/r1/approve"))
	require.True(t, w.srv.Allowed(approver, "POST", "/api/v1/runs/r1/approve"))
	require.False(t, w.srv.Allowed(approver, "GET", "/api/v1/runs/r1"))
	require.True(t, w.srv.Allowed(admin, "POST", "/api/v1/actions/7/retry"))
	require.False(t, w.srv.Allowed(admin, "POST", "/api/v1/no/such/route"))
	require.False(t, w.srv.Allowed(admin, "DELETE", "/api/v1/runs/r1"))
}

// TestMountServesOtherPaths: a mounted handler answers outside /api/;
// the API keeps its routes and its JSON 404 under /api/.
func TestMountServesOtherPaths(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.srv.Mount(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("console")) }))
	require.Equal(t, "console", w.do("GET", "/", "", nil).text())
	require.Equal(t, "console", w.do("GET", "/runs/x", "", nil).text())
	r := w.do("GET", "/api/v1/nothing", w.keys[api.ScopeRead], nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Contains(t, r.text(), `"error"`)
	require.Equal(t, http.StatusOK, w.do("GET", "/healthz", "", nil).status)
}

// TestActiveKeyRefusesRevoked: a session's key is checked on each request.
func TestActiveKeyRefusesRevoked(t *testing.T) {
	w := newWorld(t, worldOptions{})
	k, err := w.srv.SignIn(httptest.NewRequest("POST", "/signin", nil), w.keys[api.ScopeRead])
	require.NoError(t, err)
	_, err = w.srv.ActiveKey(context.Background(), k.ID)
	require.NoError(t, err)
	_, err = api.RevokeKey(context.Background(), w.app.Store, k.Name, "test", w.app.Now())
	require.NoError(t, err)
	_, err = w.srv.ActiveKey(context.Background(), k.ID)
	require.True(t, errors.Is(err, api.ErrKeyNotValid), "%v", err)
	_, err = w.srv.SignIn(httptest.NewRequest("POST", "/signin", nil), w.keys[api.ScopeRead])
	require.ErrorContains(t, err, "revoked")
}

// TestSignInLeavesTheRequestAlone: the key typed in is not written into
// the caller's request (which a log might print).
func TestSignInLeavesTheRequestAlone(t *testing.T) {
	w := newWorld(t, worldOptions{})
	req := httptest.NewRequest("POST", "/signin", nil)
	_, err := w.srv.SignIn(req, w.keys[api.ScopeRead])
	require.NoError(t, err)
	require.Empty(t, req.Header.Get("Authorization"))
}
