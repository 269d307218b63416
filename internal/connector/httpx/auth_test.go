package httpx_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/testkit"
)

func TestStaticAuthKinds(t *testing.T) {
	const (
		password = "pw-Zq8!secret-basic"
		token    = "tok-Zq8-secret-bearer"
		key      = "key-Zq8-secret-apikey"
	)
	cases := []struct {
		name  string
		auth  func(t *testing.T) httpx.AuthConfig
		check func(r *http.Request) bool
		leaks []string
	}{
		{
			name:  "none",
			auth:  func(*testing.T) httpx.AuthConfig { return httpx.AuthConfig{} },
			check: func(r *http.Request) bool { return r.Header.Get("Authorization") == "" },
		},
		{
			name: "basic",
			auth: func(t *testing.T) httpx.AuthConfig {
				return httpx.AuthConfig{Type: "basic", Username: "svc", Password: setSecret(t, "HTTPX_T_PW", password)}
			},
			check: func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "svc" && p == password },
			leaks: []string{password, base64.StdEncoding.EncodeToString([]byte("svc:" + password))},
		},
		{
			name: "bearer",
			auth: func(t *testing.T) httpx.AuthConfig {
				return httpx.AuthConfig{Type: "bearer", Token: setSecret(t, "HTTPX_T_TOKEN", token)}
			},
			check: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+token },
			leaks: []string{token},
		},
		{
			name: "api key in a header",
			auth: func(t *testing.T) httpx.AuthConfig {
				return httpx.AuthConfig{Type: "api_key", Header: "X-Tenant-Key", Key: setSecret(t, "HTTPX_T_KEY", key)}
			},
			check: func(r *http.Request) bool { return r.Header.Get("X-Tenant-Key") == key },
			leaks: []string{key},
		},
		{
			name: "api key in the query",
			auth: func(t *testing.T) httpx.AuthConfig {
				return httpx.AuthConfig{Type: "api_key", Query: "tenantcred", Key: setSecret(t, "HTTPX_T_KEY", key)}
			},
			check: func(r *http.Request) bool {
				return r.URL.Query().Get("tenantcred") == key && r.URL.Query().Get("x") == "1"
			},
			leaks: []string{key},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.check(r) {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				// A target that echoes credentials must not get them
				// into the audit either.
				_, _ = w.Write([]byte(`{"echo":"` + r.Header.Get("Authorization") + r.URL.RawQuery + `"}`))
			}))
			defer srv.Close()
			c := newClient(t, httpx.Config{Auth: tc.auth(t)})
			ctx, rec := callCtx(t)
			resp := get(t, ctx, c, srv.URL+"/x?x=1")
			require.Nil(t, resp.Failure())
			recs := rec.Records()
			require.Len(t, recs, 1)
			require.Equal(t, audit.KindExchange, recs[0].Kind)
			require.Equal(t, http.StatusOK, recs[0].Status)
			testkit.RequireNoSecrets(t, recs, tc.leaks...)
		})
	}
}

func TestStaticAuthRefusedIsNotRetried(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	c := newClient(t, httpx.Config{Auth: httpx.AuthConfig{Type: "bearer", Token: setSecret(t, "HTTPX_T_TOKEN", "tok-refused-1234")}})
	ctx, _ := callCtx(t)
	resp := get(t, ctx, c, srv.URL)
	require.Equal(t, connector.Auth, resp.Failure().Kind)
	require.Equal(t, 1, calls)
}

// Secrets are resolved at use: a client opens without them (plans and
// reports need no credentials), and the first request fails as an auth
// problem, without being sent, until the secret is there.
func TestAuthSecretsResolveAtFirstRequest(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		require.Equal(t, "Bearer tok-late-1234", r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c, err := httpx.New(httpx.Config{Auth: httpx.AuthConfig{Type: "bearer", Token: setSecret(t, "HTTPX_T_LATE", "")}})
	require.NoError(t, err, "opening needs no secret")
	ctx, _ := callCtx(t)
	_, err = c.Do(ctx, httpx.Request{Method: "GET", URL: srv.URL})
	require.ErrorContains(t, err, "auth.token")
	require.Equal(t, connector.Auth, connector.KindOf(err))
	require.Zero(t, calls, "nothing is sent without credentials")

	t.Setenv("HTTPX_T_LATE", "tok-late-1234")
	resp, err := c.Do(ctx, httpx.Request{Method: "GET", URL: srv.URL})
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status)
	require.Equal(t, 1, calls)
}
