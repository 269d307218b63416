package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// Route is one method and path of the API.
type Route struct {
	Method string
	// Path is a net/http pattern path: /api/v1/runs/{id}.
	Path string
	// Scope a key needs; "" for the public routes (health, metrics, the
	// OpenAPI document), which take no key.
	Scope string
	// AlsoScope, when set, admits a key holding it instead of Scope: a
	// SCIM client with scim:write may read the Users it writes.
	AlsoScope string
	// SCIM routes answer in SCIM's shape (application/scim+json, SCIM
	// error bodies), refusals included.
	SCIM bool
	h    handlerFunc
	raw  http.Handler
}

// handlerFunc answers a request with a status and a body to encode, or an
// error (an *Error, or anything else for a 500).
type handlerFunc func(rq *request) (int, any, error)

// request is one call in progress, with what the handler learned for the
// audit record.
type request struct {
	*http.Request
	id    string
	key   *store.APIKey
	route *Route
	// Set by handlers for the audit record and the answer.
	note   auditNote
	header http.Header
}

type auditNote struct {
	person, target, runID string
	actionID              int64
	message               string
}

func (rq *request) actor() string { return actorOf(rq.key.Name) }

// Mutates reports whether the route changes something (every non-GET).
func (r Route) Mutates() bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }

func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	for i := range s.routes {
		rt := &s.routes[i]
		mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
		methods[rt.Path] = append(methods[rt.Path], rt.Method)
	}
	// The mux's own 404 and 405 answers are text; the API answers JSON.
	for path, ms := range methods {
		allow := strings.Join(ms, ", ")
		mux.Handle(path, s.wrap(&Route{Path: path, SCIM: strings.HasPrefix(path, scimBase), h: func(rq *request) (int, any, error) {
			rq.header = http.Header{"Allow": {allow}}
			return 0, nil, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s is not allowed on %s; allowed: %s", rq.Method, rq.route.Path, allow)
		}}))
	}
	notFound := s.wrap(&Route{Path: "/", h: func(rq *request) (int, any, error) {
		return 0, nil, notFoundf("no route %s %s; the routes are listed in /api/v1/openapi.json", rq.Method, rq.URL.Path)
	}})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := s.fallbackHandler(); h != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
			h.ServeHTTP(w, r)
			return
		}
		notFound.ServeHTTP(w, r)
	}))
	s.mux = mux
	return mux
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// statusWriter remembers the status sent, for metrics, the audit record
// and panics (which must not write a second header).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap is every route's middleware: request ID, panic recovery, metrics,
// authentication, rate limit, scope, body limit, deadline, audit.
func (s *Server) wrap(rt *Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			id = uuid.Must(uuid.NewV7()).String()
		}
		w.Header().Set("X-Request-ID", id)
		sw := &statusWriter{ResponseWriter: w}
		rq := &request{Request: r, id: id, route: rt}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in API handler", "request_id", id, "route", rt.Path, "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeErrorFor(sw, rt, &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
						Message: "internal error; the server log has the details under this request's ID"})
				}
				if rt.Mutates() && rq.key != nil {
					_ = s.auditRequest(rq, http.StatusInternalServerError, errors.New("internal error"))
				}
			}
			s.metrics.request(rt, r.Method, sw.status, time.Since(start))
		}()
		if rt.Scope != "" {
			if !s.admit(sw, rq) {
				return
			}
		}
		if rt.raw != nil {
			rt.raw.ServeHTTP(sw, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		rq.Request = r.WithContext(ctx)
		rq.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
		var (
			status int
			body   any
			err    error
		)
		if e := checkPath(r, rt.Path); e != nil {
			err = e
		} else {
			status, body, err = rt.h(rq)
		}
		if rt.Mutates() && rq.key != nil {
			// The record is written before the answer: a change whose
			// record is lost must not be answered as a success.
			st := status
			if err != nil {
				st = asError(err).Status
			}
			if aerr := s.auditRequest(rq, st, err); aerr != nil && st < 500 {
				err = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
					Message: "the request's audit record could not be written, so it is not reported as done (it may have partly happened: check the state before retrying): " + aerr.Error()}
				rq.header = nil
			}
		}
		for k, vs := range rq.header {
			sw.Header()[k] = vs
		}
		if err != nil {
			e := asError(err)
			if e.Status >= 500 {
				s.log.Error("API request failed", "request_id", id, "route", rt.Path, "error", err)
			}
			writeErrorFor(sw, rt, e)
			status = e.Status
		} else if d, ok := body.(*download); ok {
			s.sendDownload(sw, rq, status, d)
		} else if rt.SCIM {
			writeSCIM(sw, status, body)
		} else {
			writeJSON(sw, status, body)
		}
	})
}

// admit authenticates the request, applies the key's rate limit and
// checks its scope. It answers and returns false when the request may not
// go on; refusals are audited under the key's name, never the key.
func (s *Server) admit(w http.ResponseWriter, rq *request) bool {
	addr := clientAddr(rq.RemoteAddr)
	key, signedIn := rq.Context().Value(signedInKey{}).(*store.APIKey)
	if signedIn {
		// Invoke: the front end signed this key in and checked it is
		// still valid; scope, rate limit and audit follow as for any key.
		rq.key = key
	} else if wait := s.authBackoff.wait(addr, s.app.Now()); wait > 0 {
		s.metrics.authFailure("backoff")
		s.refuseBackoff(w, rq.route, addr, wait)
		return false
	}
	why := ""
	if !signedIn {
		key, why = s.authenticate(rq)
	}
	if key == nil || why != "" {
		s.metrics.authFailure("unauthenticated")
		s.auditRefusal(rq, key, http.StatusUnauthorized, why)
		w.Header().Set("WWW-Authenticate", `Bearer realm="accord"`)
		msg := "a valid API key is required: send it as Authorization: Bearer <key>"
		if key != nil {
			msg = refusedKeyMessage(key, why, s.app.Now())
		}
		// The failure that starts the backoff is still answered 401, with
		// the wait added so the client knows before its next try.
		if wait := s.authBackoff.failed(addr, s.app.Now()); wait > 0 {
			w.Header().Set("Retry-After", retryAfter(wait))
			msg += fmt.Sprintf("; too many failed attempts from %s: wait %s before the next", addr, wait.Round(time.Second))
		}
		writeErrorFor(w, rq.route, errorf(http.StatusUnauthorized, CodeUnauthorized, "%s", msg))
		return false
	}
	s.authBackoff.succeeded(addr)
	rq.key = key
	if lim := s.limiter(key.ID); !lim.Allow() {
		s.metrics.authFailure("rate_limited")
		wait := lim.Reserve()
		delay := wait.Delay()
		wait.Cancel()
		w.Header().Set("Retry-After", retryAfter(delay))
		writeErrorFor(w, rq.route, errorf(http.StatusTooManyRequests, CodeRateLimited,
			"rate limit of %g requests per second (burst %d) exceeded for this key; retry later", s.cfg.RateLimit.PerSecond, s.cfg.RateLimit.Burst))
		return false
	}
	if !allows(key, rq.route.Scope) && (rq.route.AlsoScope == "" || !allows(key, rq.route.AlsoScope)) {
		s.metrics.authFailure("forbidden")
		why := fmt.Sprintf("key %q lacks scope %s (it has %s)", key.Name, rq.route.Scope, strings.Join(key.Scopes, ", "))
		s.auditRefusal(rq, key, http.StatusForbidden, why)
		writeErrorFor(w, rq.route, &Error{Status: http.StatusForbidden, Code: CodeForbidden,
			Message: fmt.Sprintf("this key lacks the scope %s needed for %s %s", rq.route.Scope, rq.Method, rq.route.Path),
			Details: map[string]any{"required_scope": rq.route.Scope, "key_scopes": orEmpty(key.Scopes)}})
		return false
	}
	return true
}

func (s *Server) refuseBackoff(w http.ResponseWriter, rt *Route, addr string, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(wait))
	writeErrorFor(w, rt, &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Message: fmt.Sprintf("too many failed authentications from %s; retry in %s (the wait doubles with each further failure, up to %s)",
			addr, wait.Round(time.Second), authMaxWait),
		Details: map[string]any{"retry_after_seconds": math.Ceil(wait.Seconds())}})
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(max(d.Seconds(), 1))))
}

// refusedKeyMessage tells the holder of a known key why it was refused,
// and what to do; a wrong secret gets the generic answer.
func refusedKeyMessage(k *store.APIKey, why string, now time.Time) string {
	switch {
	case why == wrongSecret:
		return "a valid API key is required: send it as Authorization: Bearer <key>"
	case k.Revoked():
		return "this API key was revoked"
	case k.ReplacedBy != "":
		return fmt.Sprintf("this API key was replaced by a rotation and its grace period ended at %s; use the new key of %q",
			k.ExpiresAt.UTC().Format(time.RFC3339), k.Name)
	case k.Expired(now):
		return fmt.Sprintf("this API key expired at %s; rotate it ('accord keys rotate %s') or create a new one",
			k.ExpiresAt.UTC().Format(time.RFC3339), k.Name)
	}
	return "a valid API key is required: send it as Authorization: Bearer <key>"
}

const wrongSecret = "wrong secret for the key"

// authenticate returns the key presented, if it is valid. When the key is
// known but not valid (wrong secret, revoked), it is returned with the
// reason, so the refusal can be audited under its name.
func (s *Server) authenticate(rq *request) (*store.APIKey, string) {
	h := rq.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return nil, "no Authorization header"
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, "Authorization is not a Bearer key"
	}
	id, secret, ok := parseKey(strings.TrimSpace(token))
	if !ok {
		return nil, "malformed API key"
	}
	k, err := s.keysStore().GetAPIKey(rq.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, "unknown API key id " + id
		}
		s.log.Error("look up API key", "request_id", rq.id, "error", err)
		return nil, "key lookup failed"
	}
	if !secretMatches(&k, secret) {
		return &k, wrongSecret
	}
	if k.Revoked() {
		return &k, "revoked key (revoked " + k.RevokedAt.Format(time.RFC3339) + " by " + k.RevokedBy + ")"
	}
	if now := s.app.Now(); k.Expired(now) {
		if k.ReplacedBy != "" {
			return &k, "rotated key past its grace period (ended " + k.ExpiresAt.UTC().Format(time.RFC3339) + ", replaced by " + k.ReplacedBy + ")"
		}
		return &k, "expired key (expired " + k.ExpiresAt.UTC().Format(time.RFC3339) + ")"
	}
	return &k, ""
}

func (s *Server) auditRefusal(rq *request, key *store.APIKey, status int, why string) {
	actor := "apikey:(unknown)"
	if key != nil {
		actor = actorOf(key.Name)
	} else if !s.authAudit.Allow() {
		// Anyone can send requests without a key: past a rate, they are
		// only counted, so that they cannot flood the audit trail.
		s.metrics.authFailure("unaudited")
		return
	}
	rec := audit.Record{
		Time: s.app.Now(), Kind: audit.KindEvent, Operation: "api refused", Actor: actor,
		Method: rq.Method, URL: audit.RedactURL(rq.URL.RequestURI()), Status: status, Outcome: "refused",
		Message: fmt.Sprintf("%s %s refused: %s (request %s, from %s)", rq.Method, rq.route.Path, why, rq.id, rq.RemoteAddr),
	}
	_ = s.appendAudit(rq, rec) // a refusal reports no success: nothing to fail closed
}

// auditRequest records a request that changes (or tried to change)
// something, with what it did.
func (s *Server) auditRequest(rq *request, status int, err error) error {
	outcome := "succeeded"
	switch {
	case status >= 500:
		outcome = "failed"
	case status >= 400:
		outcome = "refused"
	}
	msg := rq.note.message
	if err != nil {
		msg = asError(err).Message
	}
	rec := audit.Record{
		Time: s.app.Now(), Kind: audit.KindEvent, Operation: "api " + rq.Method + " " + rq.route.Path, Actor: rq.actor(),
		RunID: rq.note.runID, ActionID: rq.note.actionID, PersonKey: rq.note.person, Target: rq.note.target,
		Method: rq.Method, URL: audit.RedactURL(rq.URL.RequestURI()), Status: status, Outcome: outcome,
		Message: strings.TrimSpace(msg + " (request " + rq.id + ")"),
	}
	return s.appendAudit(rq, rec)
}

func (s *Server) appendAudit(rq *request, rec audit.Record) error {
	// The request's own deadline may have passed; the record must still
	// be written.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(rq.Context()), 5*time.Second)
	defer cancel()
	if err := s.auditStore().AppendAudit(ctx, []audit.Record{rec}); err != nil {
		s.log.Error("audit API request", "request_id", rq.id, "error", err)
		return err
	}
	return nil
}
