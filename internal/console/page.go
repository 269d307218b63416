package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/store"
)

// Page is one route of the console. Pages are declared in tables
// (corePages, morePages): the mux, the navigation and the tests read them.
type Page struct {
	Method string
	// Path is a net/http pattern path: /runs/{id}.
	Path string
	// Scope the signed-in key needs to use the route at all; pages that
	// change something also go through the API route, which checks again.
	Scope string
	// Nav, when set, lists the page in the navigation under this label.
	Nav string
	// Template is the page's template file (templates/<name>.html); "" for
	// a route that only redirects.
	Template string
	Handle   func(rq *Request) error
}

// Mutates reports whether the route changes something (every non-GET).
func (p *Page) Mutates() bool { return p.Method != http.MethodGet && p.Method != http.MethodHead }

// Request is one console request of a signed-in key.
type Request struct {
	*http.Request
	W    http.ResponseWriter
	C    *Console
	Page *Page
	Key  *store.APIKey
	sess *session
}

// guard signs the request in, checks the page's scope and, for requests
// that change something, the CSRF token and origin.
func (c *Console) guard(p *Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.load(r)
		var out *errSignedOut
		if errors.As(err, &out) {
			if p.Mutates() {
				c.renderError(w, r, nil, http.StatusUnauthorized, out.why)
				return
			}
			c.setFlash(w, r, out.why)
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err != nil {
			c.log.Error("console: load session", "error", err)
			c.renderError(w, r, nil, http.StatusServiceUnavailable, "The session could not be checked; try again.")
			return
		}
		rq := &Request{Request: r, W: w, C: c, Page: p, Key: s.key, sess: s}
		if p.Mutates() {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				c.renderError(w, r, rq, http.StatusBadRequest, "The form could not be read: "+err.Error())
				return
			}
			if why := checkForgery(r, s); why != "" {
				c.renderError(w, r, rq, http.StatusForbidden, "Refused: "+why+".")
				return
			}
		}
		if p.Scope != "" && !keyAllows(s.key, p.Scope) {
			c.renderError(w, r, rq, http.StatusForbidden,
				fmt.Sprintf("Your key %q lacks the scope %s needed here (it has %s).", s.key.Name, p.Scope, strings.Join(s.key.Scopes, ", ")))
			return
		}
		if err := p.Handle(rq); err != nil {
			status := http.StatusInternalServerError
			msg := err.Error()
			var ae *apiFailure
			if errors.As(err, &ae) {
				status = ae.Status
				msg = ae.Message
			} else {
				c.log.Error("console page failed", "path", r.URL.Path, "error", err)
				msg = "Something went wrong; the server log has the details."
			}
			c.renderError(w, r, rq, status, msg)
		}
	})
}

func keyAllows(k *store.APIKey, scope string) bool {
	for _, s := range k.Scopes {
		if s == scope || s == api.ScopeAdmin {
			return true
		}
	}
	return false
}

// apiFailure is an API answer other than success, as the console shows it.
type apiFailure struct {
	Status  int
	Message string
}

func (e *apiFailure) Error() string { return e.Message }

func failureOf(a api.Answer) *apiFailure {
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := http.StatusText(a.Status)
	if json.Unmarshal(a.Body, &body) == nil && body.Error.Message != "" {
		msg = body.Error.Message
	}
	return &apiFailure{Status: a.Status, Message: msg}
}

// Get reads an API route as the signed-in key into v.
func (rq *Request) Get(path string, v any) error {
	a := rq.C.api.Invoke(rq.Context(), rq.Key, rq.Request, http.MethodGet, path, nil)
	if a.Status >= 300 {
		return failureOf(a)
	}
	if err := json.Unmarshal(a.Body, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// Post calls an API route that changes something, as the signed-in key
// (the API checks the scope and writes the audit record), and decodes the
// answer into v when v is not nil.
func (rq *Request) Post(path string, body any, v any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	a := rq.C.api.Invoke(rq.Context(), rq.Key, rq.Request, http.MethodPost, path, data)
	if a.Status >= 300 {
		return failureOf(a)
	}
	if v != nil {
		if err := json.Unmarshal(a.Body, v); err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return nil
}

// Can reports whether the signed-in key may call the API route: buttons
// render only then (and the API refuses anyway).
func (rq *Request) Can(method, path string) bool { return rq.C.api.Allowed(rq.Key, method, path) }

// Render shows the page's template with data.
func (rq *Request) Render(title string, data any) error {
	rq.C.render(rq.W, rq.Request, rq, http.StatusOK, rq.Page.Template, title, data)
	return nil
}

// Redirect ends an action: the browser goes to `to` (a GET), showing msg.
func (rq *Request) Redirect(to, msg string) error {
	if msg != "" {
		rq.C.setFlash(rq.W, rq.Request, msg)
	}
	http.Redirect(rq.W, rq.Request, to, http.StatusSeeOther)
	return nil
}

// CSRF is the session's anti-forgery token, for forms.
func (rq *Request) CSRF() string { return csrfToken(rq.sess.token) }
