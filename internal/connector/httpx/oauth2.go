package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/secret"
)

// oauth2Auth fetches client-credentials tokens itself rather than through
// an oauth2.TokenSource, because a TokenSource keeps the context it was
// made with: token requests would then lose the audit call (run and action
// IDs) of the request that needed the token.
type oauth2Auth struct {
	cfg           clientcredentials.Config
	refreshBefore time.Duration
	now           func() time.Time

	flight   flight // concurrent callers share one fetch, and its failure
	mu       sync.Mutex
	tok      *oauth2.Token
	obtained time.Time
	expires  time.Time // zero: the endpoint gave no lifetime
}

func newOAuth2(c AuthConfig, now func() time.Time) (*oauth2Auth, error) {
	sec, err := c.ClientSecret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("auth.client_secret: %w", err)
	}
	cfg := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: sec, TokenURL: c.TokenURL, Scopes: c.Scopes}
	if len(c.EndpointParams) > 0 {
		cfg.EndpointParams = url.Values{}
		for k, v := range c.EndpointParams {
			cfg.EndpointParams.Set(k, v)
		}
	}
	switch c.AuthStyle {
	case "", "header":
		cfg.AuthStyle = oauth2.AuthStyleInHeader
	case "params":
		cfg.AuthStyle = oauth2.AuthStyleInParams
	case "auto":
		cfg.AuthStyle = oauth2.AuthStyleAutoDetect
	}
	rb := c.RefreshBefore
	if rb == 0 {
		rb = DefaultRefreshBefore
	}
	return &oauth2Auth{cfg: cfg, refreshBefore: rb, now: now}, nil
}

func (a *oauth2Auth) Authorize(ctx context.Context, d Doer, req *http.Request) error {
	tok, err := a.token(ctx, d, "")
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Renew replaces the token the target refused. When several requests are
// refused at once, only the first fetches: the others find a token newer
// than the one they were refused with and retry with it.
func (a *oauth2Auth) Renew(ctx context.Context, d Doer, rejected *http.Request) (bool, error) {
	used := strings.TrimPrefix(rejected.Header.Get("Authorization"), "Bearer ")
	if _, err := a.token(ctx, d, used); err != nil {
		return false, err
	}
	return true, nil
}

func (a *oauth2Auth) Sensitive() ([]string, []string) { return nil, nil }

// token returns a usable access token. With rejected set, a token equal
// to it is not usable whatever its expiry.
func (a *oauth2Auth) token(ctx context.Context, d Doer, rejected string) (string, error) {
	if tok, ok := a.usable(rejected); ok {
		return tok, nil
	}
	err := a.flight.do(ctx, func(ctx context.Context) error {
		if _, ok := a.usable(rejected); ok {
			return nil // a fetch that ended meanwhile brought one
		}
		return a.fetch(ctx, d)
	})
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tok.AccessToken, nil
}

// usable returns the cached token unless it is missing, is the one
// rejected, or (rejected empty) is about to expire.
func (a *oauth2Auth) usable(rejected string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok != nil && a.tok.AccessToken != rejected && (rejected != "" || a.fresh()) {
		return a.tok.AccessToken, true
	}
	return "", false
}

// fetch gets a new token from the endpoint.
func (a *oauth2Auth) fetch(ctx context.Context, d Doer) error {
	tok, err := a.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, asHTTPClient(d)))
	if err != nil {
		return tokenError(err)
	}
	if tok.AccessToken == "" {
		return connector.Errorf(connector.Auth, "oauth2 token endpoint answered without an access_token")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// The library stamps Expiry with the wall clock; keep the lifetime on
	// our own clock so that tests can move it.
	a.tok, a.obtained, a.expires = tok, a.now(), time.Time{}
	if !tok.Expiry.IsZero() {
		a.expires = a.obtained.Add(time.Until(tok.Expiry))
	}
	return nil
}

// fresh reports whether the cached token will outlive the margin. A
// short-lived token gets at most half its lifetime as margin, or it would
// be refreshed on every request.
func (a *oauth2Auth) fresh() bool {
	if a.expires.IsZero() {
		return true
	}
	margin := a.refreshBefore
	if half := a.expires.Sub(a.obtained) / 2; half < margin {
		margin = half
	}
	return a.now().Before(a.expires.Add(-margin))
}

func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		st := re.Response.StatusCode
		kind := connector.KindForStatus(st)
		// invalid_client and invalid_grant come as 400: for the engine,
		// that is a credentials problem, not a malformed action.
		if st == http.StatusBadRequest || st == http.StatusUnauthorized {
			kind = connector.Auth
		}
		msg := "oauth2 token request refused"
		if re.ErrorCode != "" {
			msg += ": " + re.ErrorCode
		}
		if re.ErrorDescription != "" {
			msg += " (" + re.ErrorDescription + ")"
		}
		e := connector.Errorf(kind, "%s", msg)
		e.Status = st
		e.Excerpt = secret.RedactBody(string(re.Body))
		return e
	}
	ce := connector.AsError(err)
	return &connector.Error{Kind: ce.Kind, Message: "oauth2 token request: " + ce.Message, Err: err}
}

func asHTTPClient(d Doer) *http.Client {
	if c, ok := d.(*http.Client); ok {
		return c
	}
	return &http.Client{Transport: doerTransport{d}}
}

type doerTransport struct{ d Doer }

func (t doerTransport) RoundTrip(r *http.Request) (*http.Response, error) { return t.d.Do(r) }
