package httpx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/testkit"
)

const clientSecret = "cs-Zq8-very-secret-value"

// idp is an OAuth2 token endpoint plus an API that accepts only the
// tokens the endpoint issued and has not revoked.
type idp struct {
	mu        sync.Mutex
	issued    int
	valid     map[string]bool
	apiCalls  int
	seenToken []string
	forms     []string
	token     *httptest.Server
	api       *httptest.Server
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	p := &idp{valid: map[string]bool{}}
	p.token = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		id, sec, ok := r.BasicAuth()
		if !ok {
			id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.forms = append(p.forms, r.PostForm.Encode())
		if id != "accord" || sec != clientSecret || r.PostForm.Get("grant_type") != "client_credentials" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		p.issued++
		tok := fmt.Sprintf("at-%d-Zq8-access", p.issued)
		p.valid[tok] = true
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "scope": r.PostForm.Get("scope")})
	}))
	p.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		p.mu.Lock()
		defer p.mu.Unlock()
		p.apiCalls++
		p.seenToken = append(p.seenToken, tok)
		if !p.valid[tok] {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(p.token.Close)
	t.Cleanup(p.api.Close)
	return p
}

func (p *idp) revokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.valid = map[string]bool{}
}

func (p *idp) counts() (issued, apiCalls int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issued, p.apiCalls
}

func (p *idp) lastToken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seenToken[len(p.seenToken)-1]
}

func (p *idp) config(t *testing.T, style string) httpx.Config {
	return httpx.Config{Auth: httpx.AuthConfig{
		Type: "oauth2", TokenURL: p.token.URL + "/token", ClientID: "accord",
		ClientSecret: setSecret(t, "HTTPX_T_CS", clientSecret), Scopes: []string{"scim"}, AuthStyle: style,
	}}
}

func TestOAuth2TokenCachedAndRefreshedBeforeExpiry(t *testing.T) {
	for _, style := range []string{"header", "params"} {
		t.Run(style, func(t *testing.T) {
			p := newIDP(t)
			clk := newClock()
			c := newClient(t, p.config(t, style), httpx.WithClock(clk.Now))
			ctx, rec := callCtx(t)

			for range 3 {
				require.Nil(t, get(t, ctx, c, p.api.URL).Failure())
			}
			issued, calls := p.counts()
			require.Equal(t, 1, issued, "the token is cached")
			require.Equal(t, 3, calls)

			// Inside the refresh margin (default one minute before expiry)
			// the token is replaced before the request leaves.
			clk.Advance(time.Hour - 30*time.Second)
			require.Nil(t, get(t, ctx, c, p.api.URL).Failure())
			issued, calls = p.counts()
			require.Equal(t, 2, issued)
			require.Equal(t, 4, calls, "no request went out with the dying token")
			require.Equal(t, "at-2-Zq8-access", p.lastToken())

			// Token requests are audited, with the run's correlation.
			recs := rec.Records()
			require.Equal(t, 2, contains(recs, "/token"))
			for _, r := range recs {
				require.Equal(t, "run-42", r.RunID)
				require.Equal(t, "run-42/7", r.RequestHeaders["X-Correlation-Id"])
			}
			testkit.RequireNoSecrets(t, recs, clientSecret, "at-1-Zq8-access", "at-2-Zq8-access")
		})
	}
}

func TestOAuth2UnauthorizedRefreshesOnceAndRetriesOnce(t *testing.T) {
	p := newIDP(t)
	c := newClient(t, p.config(t, ""))
	ctx, rec := callCtx(t)
	require.Nil(t, get(t, ctx, c, p.api.URL).Failure())

	p.revokeAll()
	require.Nil(t, get(t, ctx, c, p.api.URL).Failure())
	issued, calls := p.counts()
	require.Equal(t, 2, issued, "exactly one refresh")
	require.Equal(t, 3, calls, "the refused request was sent once more")
	require.Equal(t, "at-2-Zq8-access", p.lastToken())
	testkit.RequireNoSecrets(t, rec.Records(), clientSecret, "at-1-Zq8-access", "at-2-Zq8-access")
}

func TestOAuth2StillRefusedAfterRefreshGivesAuth(t *testing.T) {
	p := newIDP(t)
	// An API that refuses every token: one refresh, one retry, then the
	// 401 is the answer.
	p.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.apiCalls++
		p.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	})
	c := newClient(t, p.config(t, ""))
	ctx, _ := callCtx(t)
	resp := get(t, ctx, c, p.api.URL)
	require.Equal(t, connector.Auth, resp.Failure().Kind)
	issued, calls := p.counts()
	require.Equal(t, 2, issued)
	require.Equal(t, 2, calls)
}

func TestOAuth2ConcurrentRefusalsShareOneRefresh(t *testing.T) {
	p := newIDP(t)
	c := newClient(t, p.config(t, ""))
	ctx, _ := callCtx(t)
	require.Nil(t, get(t, ctx, c, p.api.URL).Failure())
	p.revokeAll()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Do(ctx, httpx.Request{Method: "GET", URL: p.api.URL})
			if err == nil && resp.Failure() != nil {
				err = resp.Failure()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	issued, _ := p.counts()
	require.Equal(t, 2, issued)
}

func TestOAuth2BadClientSecretIsAuth(t *testing.T) {
	p := newIDP(t)
	cfg := p.config(t, "")
	cfg.Auth.ClientSecret = setSecret(t, "HTTPX_T_CS_BAD", "cs-wrong-Zq8-value")
	c := newClient(t, cfg)
	ctx, rec := callCtx(t)
	_, err := c.Do(ctx, httpx.Request{Method: "GET", URL: p.api.URL})
	require.Equal(t, connector.Auth, connector.KindOf(err))
	require.Contains(t, err.Error(), "invalid_client")
	require.NotContains(t, err.Error(), "cs-wrong-Zq8-value")
	_, calls := p.counts()
	require.Zero(t, calls, "nothing is sent to the API without a token")
	testkit.RequireNoSecrets(t, rec.Records(), "cs-wrong-Zq8-value")
}

func TestOAuth2TokenRequestCarriesCallContext(t *testing.T) {
	p := newIDP(t)
	c := newClient(t, p.config(t, "params"))
	ctx, rec := callCtx(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	require.Nil(t, get(t, ctx, c, p.api.URL).Failure())
	var tokenRec bool
	for _, r := range rec.Records() {
		if strings.HasSuffix(r.URL, "/token") {
			tokenRec = true
			require.Equal(t, "POST", r.Method)
			require.Contains(t, r.RequestBody, "client_secret=[REDACTED]")
			require.Contains(t, r.ResponseExcerpt, `"access_token":"[REDACTED]"`)
		}
	}
	require.True(t, tokenRec)
}
