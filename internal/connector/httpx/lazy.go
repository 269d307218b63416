package httpx

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/connector"
)

// lazyAuth resolves an auth's secrets at the first request, not when the
// target is opened: planning, reports and config checks open every target
// but send nothing, and must work where the credentials are not present.
type lazyAuth struct {
	cfg  AuthConfig
	now  func() time.Time
	base string
	keep *keepSpec

	mu sync.Mutex
	a  Auth
}

func newLazyAuth(cfg AuthConfig, now func() time.Time, base string, keep *keepSpec) *lazyAuth {
	return &lazyAuth{cfg: cfg, now: now, base: base, keep: keep}
}

// get builds the auth once it can; a failure is not kept, so setting a
// missing variable and retrying works without a restart.
func (l *lazyAuth) get() (Auth, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.a != nil {
		return l.a, nil
	}
	a, err := newAuth(l.cfg, l.now, l.base, l.keep)
	if err != nil {
		return nil, &connector.Error{Kind: connector.Auth, Message: "credentials unavailable: " + err.Error(), Err: err}
	}
	l.a = a
	return a, nil
}

func (l *lazyAuth) Authorize(ctx context.Context, d Doer, req *http.Request) error {
	a, err := l.get()
	if err != nil {
		return err
	}
	return a.Authorize(ctx, d, req)
}

func (l *lazyAuth) Renew(ctx context.Context, d Doer, rejected *http.Request) (bool, error) {
	a, err := l.get()
	if err != nil {
		return false, err
	}
	return a.Renew(ctx, d, rejected)
}

// Sensitive is known from the config alone, before any secret is read.
func (l *lazyAuth) Sensitive() (headers, query []string) {
	if l.cfg.Type == AuthAPIKey {
		if l.cfg.Header != "" {
			return []string{l.cfg.Header}, nil
		}
		return nil, []string{l.cfg.Query}
	}
	if l.cfg.Type == AuthSession && l.cfg.TokenPath != "" && l.cfg.Header != "" {
		return []string{l.cfg.Header}, nil
	}
	return nil, nil
}

// End ends a session only if one was ever started.
func (l *lazyAuth) End(ctx context.Context, d Doer) error {
	l.mu.Lock()
	a := l.a
	l.mu.Unlock()
	if e, ok := a.(Ender); ok {
		return e.End(ctx, d)
	}
	return nil
}

func (l *lazyAuth) Observe(resp *http.Response) {
	l.mu.Lock()
	a := l.a
	l.mu.Unlock()
	if o, ok := a.(Observer); ok {
		o.Observe(resp)
	}
}
