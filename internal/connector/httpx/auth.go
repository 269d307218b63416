package httpx

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/accord-iam/accord/internal/secret"
)

// Doer sends a request through the client's audited transport without
// adding credentials. Auths use it for their own requests (a token
// request, a login), so those are audited and correlated too.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Auth adds credentials to requests. Implementations must be safe for
// concurrent use. A session-login auth (login request, cookie jar,
// re-login on 401) fits this shape: Authorize logs in when there is no
// session yet and adds the cookies, Renew logs in again, and Observe
// (see Observer) keeps cookies the target sets on any answer.
type Auth interface {
	// Authorize adds credentials to req, first obtaining them if needed.
	Authorize(ctx context.Context, d Doer, req *http.Request) error
	// Renew is called once when the target answered 401 to a request
	// that Authorize prepared. It reports whether new credentials were
	// obtained, so that retrying the request once is worth it.
	Renew(ctx context.Context, d Doer, rejected *http.Request) (bool, error)
	// Sensitive names the headers and query parameters that carry this
	// auth's credentials, beyond the well-known ones, so audit records
	// mask them.
	Sensitive() (headers, query []string)
}

// Observer is implemented by auths that learn from every answer.
type Observer interface {
	Observe(resp *http.Response)
}

// Ender is implemented by auths that hold a session the target should
// be told about when the connector closes (a logout).
type Ender interface {
	End(ctx context.Context, d Doer) error
}

// NewAuth builds the auth that cfg describes, resolving its secrets.
// now is the clock for token expiry (nil: time.Now). A session auth
// whose requests are paths needs the base URL: use New with WithBaseURL.
func NewAuth(cfg AuthConfig, now func() time.Time) (Auth, error) {
	return newAuth(cfg, now, "", nil)
}

func newAuth(cfg AuthConfig, now func() time.Time, base string, keep *keepSpec) (Auth, error) {
	if now == nil {
		now = time.Now
	}
	switch cfg.Type {
	case "", AuthNone:
		return noAuth{}, nil
	case AuthBasic:
		pw, err := cfg.Password.Resolve()
		if err != nil {
			return nil, fmt.Errorf("auth.password: %w", err)
		}
		// The encoded pair is what travels; a target that echoes it must
		// not get it into the audit.
		secret.Register(base64.StdEncoding.EncodeToString([]byte(cfg.Username + ":" + pw)))
		return basicAuth{user: cfg.Username, password: pw}, nil
	case AuthBearer:
		tok, err := cfg.Token.Resolve()
		if err != nil {
			return nil, fmt.Errorf("auth.token: %w", err)
		}
		return bearerAuth{token: tok}, nil
	case AuthAPIKey:
		key, err := cfg.Key.Resolve()
		if err != nil {
			return nil, fmt.Errorf("auth.key: %w", err)
		}
		return apiKeyAuth{header: cfg.Header, query: cfg.Query, key: key}, nil
	case AuthOAuth2:
		return newOAuth2(cfg, now)
	case AuthSession:
		return newSession(cfg, base, keep)
	}
	return nil, fmt.Errorf("auth.type: unknown auth type %q", cfg.Type)
}

type noAuth struct{}

func (noAuth) Authorize(context.Context, Doer, *http.Request) error { return nil }
func (noAuth) Renew(context.Context, Doer, *http.Request) (bool, error) {
	return false, nil
}
func (noAuth) Sensitive() ([]string, []string) { return nil, nil }

// A static credential that was refused will be refused again: the static
// auths never ask for a retry.

type basicAuth struct{ user, password string }

func (a basicAuth) Authorize(_ context.Context, _ Doer, req *http.Request) error {
	req.SetBasicAuth(a.user, a.password)
	return nil
}
func (basicAuth) Renew(context.Context, Doer, *http.Request) (bool, error) { return false, nil }
func (basicAuth) Sensitive() ([]string, []string)                          { return nil, nil }

type bearerAuth struct{ token string }

func (a bearerAuth) Authorize(_ context.Context, _ Doer, req *http.Request) error {
	req.Header.Set("Authorization", "Bearer "+a.token)
	return nil
}
func (bearerAuth) Renew(context.Context, Doer, *http.Request) (bool, error) { return false, nil }
func (bearerAuth) Sensitive() ([]string, []string)                          { return nil, nil }

type apiKeyAuth struct{ header, query, key string }

func (a apiKeyAuth) Authorize(_ context.Context, _ Doer, req *http.Request) error {
	if a.header != "" {
		req.Header.Set(a.header, a.key)
		return nil
	}
	q := req.URL.Query()
	q.Set(a.query, a.key)
	req.URL.RawQuery = q.Encode()
	return nil
}
func (apiKeyAuth) Renew(context.Context, Doer, *http.Request) (bool, error) { return false, nil }
func (a apiKeyAuth) Sensitive() ([]string, []string) {
	if a.header != "" {
		return []string{a.header}, nil
	}
	return nil, []string{a.query}
}
