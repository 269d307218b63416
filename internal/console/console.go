// Package console is accord's web console: server-rendered pages over the
// HTTP API for the people who run accord (overview, runs, failed actions,
// and the pages other files register).
//
// It has no logic of its own for changing anything: every button calls
// the API's route in process (api.Server.Invoke) as the signed-in key, so
// that scopes, rules and audit records are the API's. A browser signs in
// once with an API key and then holds a session: a random token in an
// HttpOnly, SameSite=Strict cookie, of which the store keeps only the
// hash. Every page works without JavaScript; htmx only enhances.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/store"
)

//go:embed static
var staticFS embed.FS

// API is what the console needs of the API server (api.Server).
type API interface {
	SignIn(r *http.Request, token string) (*store.APIKey, error)
	ActiveKey(ctx context.Context, id string) (*store.APIKey, error)
	Allowed(key *store.APIKey, method, path string) bool
	Invoke(ctx context.Context, key *store.APIKey, from *http.Request, method, path string, body []byte) api.Answer
	AuditSession(r *http.Request, key *store.APIKey, op, message string) error
}

// Sessions is where console sessions are kept (sqlstore.Store).
type Sessions interface {
	CreateConsoleSession(ctx context.Context, cs store.ConsoleSession) error
	GetConsoleSession(ctx context.Context, tokenHash string) (store.ConsoleSession, error)
	TouchConsoleSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteConsoleSessions(ctx context.Context, tokenHash string, idleBefore, ended time.Time) error
	DeleteConsoleSessionsOfKey(ctx context.Context, keyID string) error
}

// Options configure a Console.
type Options struct {
	API      API
	Sessions Sessions
	Config   config.Console
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Console serves the web console.
type Console struct {
	api      API
	sessions Sessions
	cfg      config.Console
	now      func() time.Time
	log      *slog.Logger
	pages    []Page
	views    *views
	mux      *http.ServeMux
}

// New builds the console.
func New(o Options) (*Console, error) {
	if o.API == nil || o.Sessions == nil {
		return nil, errors.New("console: an API and a session store are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Console{api: o.API, sessions: o.Sessions, cfg: o.Config.WithDefaults(), now: o.Now, log: o.Logger}
	c.pages = append(c.corePages(), c.morePages()...)
	v, err := parseViews(c.pages)
	if err != nil {
		return nil, err
	}
	c.views = v
	c.mux = c.buildMux()
	return c, nil
}

// Pages returns the console's route table.
func (c *Console) Pages() []Page { return append([]Page(nil), c.pages...) }

// ServeHTTP answers every console path, with the security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}

func (c *Console) buildMux() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no listing of the folder
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /signin", c.signInPage)
	mux.HandleFunc("POST /signin", c.signIn)
	mux.HandleFunc("POST /signout", c.signOut)
	for i := range c.pages {
		p := &c.pages[i]
		mux.Handle(p.Method+" "+p.Path, c.guard(p))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, nil, http.StatusNotFound, fmt.Sprintf("There is no page %s.", r.URL.Path))
	})
	return mux
}

// setSecurityHeaders: a strict Content-Security-Policy (no inline script
// or style anywhere in the console), no framing, no sniffing, no referrer
// outside the origin.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}
