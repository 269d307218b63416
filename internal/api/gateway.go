package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// The gateway lets another front end of this server (the web console)
// act as an API key without sending the key on every request: it signs
// the key in once, then calls the API's own routes in process (Invoke),
// so that every scope check, rule and audit record is the API's, with the
// key's name. There is no second way to approve a run or retry an action.

// signedInKey carries a key already authenticated by the caller of
// Invoke. The context key is unexported: no request from the network can
// carry it.
type signedInKey struct{}

// fallback serves the paths outside the API (the console), when set.
type fallback struct{ h http.Handler }

// Mount serves h for every path the API does not answer, except under
// /api/ (which keeps answering JSON). Call it before serving.
func (s *Server) Mount(h http.Handler) { s.fallback.Store(&fallback{h: h}) }

// SignIn authenticates a full API key typed into a sign-in form, under the
// same per-address backoff as a Bearer key. A refusal is audited (under
// the key's name when the key is known) and answered with an *Error that
// says why without telling a wrong secret from an unknown key.
func (s *Server) SignIn(r *http.Request, token string) (*store.APIKey, error) {
	// A shallow copy carries the key as a Bearer header for authenticate;
	// the caller's request is left as it was.
	r2 := r.WithContext(r.Context())
	r2.Header = r.Header.Clone()
	r2.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	rq := &request{Request: r2, id: requestID(r), route: &Route{Method: r.Method, Path: "console sign-in"}}
	addr := clientAddr(r.RemoteAddr)
	if wait := s.authBackoff.wait(addr, s.app.Now()); wait > 0 {
		s.metrics.authFailure("backoff")
		return nil, &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
			Message: fmt.Sprintf("too many failed sign-ins from %s; try again in %s", addr, retryAfter(wait)+"s")}
	}
	key, why := s.authenticate(rq)
	if key == nil || why != "" {
		s.metrics.authFailure("unauthenticated")
		s.auditRefusal(rq, key, http.StatusUnauthorized, why)
		msg := "that is not a valid API key"
		if key != nil {
			msg = refusedKeyMessage(key, why, s.app.Now())
		}
		if wait := s.authBackoff.failed(addr, s.app.Now()); wait > 0 {
			msg += fmt.Sprintf("; too many failed attempts from %s: wait %ss before the next", addr, retryAfter(wait))
		}
		return nil, errorf(http.StatusUnauthorized, CodeUnauthorized, "%s", msg)
	}
	s.authBackoff.succeeded(addr)
	return key, nil
}

// AuditSession records a front end's sign-in or sign-out of a key (op:
// "console sign-in", "console sign-out") through the API's audit path,
// under the key's name; what changes something is audited by the route
// itself (Invoke).
func (s *Server) AuditSession(r *http.Request, key *store.APIKey, op, message string) error {
	rq := &request{Request: r, id: requestID(r), key: key, route: &Route{Method: r.Method, Path: r.URL.Path}}
	rec := audit.Record{
		Time: s.app.Now(), Kind: audit.KindEvent, Operation: op, Actor: actorOf(key.Name),
		Method: r.Method, URL: audit.RedactURL(r.URL.RequestURI()), Status: http.StatusOK, Outcome: "succeeded",
		Message: fmt.Sprintf("%s (from %s)", message, r.RemoteAddr),
	}
	return s.appendAudit(rq, rec)
}

// ErrKeyNotValid: the key was revoked, or expired.
var ErrKeyNotValid = errors.New("the API key is no longer valid")

// ActiveKey returns the key with this ID while it is still valid (not
// revoked, not expired); otherwise an error saying why.
func (s *Server) ActiveKey(ctx context.Context, id string) (*store.APIKey, error) {
	k, err := s.keysStore().GetAPIKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if k.Revoked() || k.Expired(s.app.Now()) {
		return nil, fmt.Errorf("%s: %w", refusedKeyMessage(&k, "", s.app.Now()), ErrKeyNotValid)
	}
	return &k, nil
}

// Allowed reports whether key may call the route method path (a concrete
// path such as /api/v1/runs/r1/approve). Front ends use it to decide which
// buttons to show; the route refuses anyway.
func (s *Server) Allowed(key *store.APIKey, method, path string) bool {
	req, err := http.NewRequest(method, path, nil)
	if err != nil {
		return false
	}
	for i := range s.routes {
		rt := &s.routes[i]
		if rt.Method != method {
			continue
		}
		if _, pat := s.mux.Handler(req); pat == rt.Method+" "+rt.Path {
			return rt.Scope == "" || allows(key, rt.Scope)
		}
	}
	return false
}

// Answer is what Invoke returns: the API's status, headers and JSON body.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Invoke calls one API route as key, in process: path is the request
// target (/api/v1/runs?state=held), body JSON or nil. from is the
// original request, whose client address and request ID are kept for the
// audit record. The route's scope, rate limit, audit and answer are
// exactly those of the same call over HTTP.
func (s *Server) Invoke(ctx context.Context, key *store.APIKey, from *http.Request, method, path string, body []byte) Answer {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, signedInKey{}, key), method, path, rd)
	if err != nil {
		return Answer{Status: http.StatusBadRequest, Body: []byte(fmt.Sprintf(`{"error":{"message":%q}}`, err.Error()))}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if from != nil {
		req.RemoteAddr = from.RemoteAddr
		if id := from.Header.Get("X-Request-ID"); id != "" {
			req.Header.Set("X-Request-ID", id)
		}
	}
	w := &memWriter{header: http.Header{}}
	s.handler.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return Answer{Status: w.status, Header: w.header, Body: w.body.Bytes()}
}

// memWriter keeps an answer in memory.
type memWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *memWriter) Header() http.Header { return w.header }
func (w *memWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *memWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); requestIDPattern.MatchString(id) {
		return id
	}
	return "console"
}

// fallbackHandler returns the mounted handler, or nil.
func (s *Server) fallbackHandler() http.Handler {
	if f := s.fallback.Load(); f != nil {
		return f.h
	}
	return nil
}
