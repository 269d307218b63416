package httpx

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx/reqtmpl"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/yamlx"
)

// SessionRequest is the login or logout request of a session auth.
//
//	login:
//	  method: POST                      # default; logout defaults to DELETE
//	  url: /session                     # a path under the connector's URL, or absolute
//	  headers: {Accept: application/json}
//	  body: '{"username": {{ username }}, "password": {{ password }}}'
//	  # or form: {username: "{{ username }}", password: "{{ password }}"}
//	  success: [200, 201]               # default: any 2xx
//
// Templates may use username and password (resolved when the request is
// sent, never kept in the config).
type SessionRequest struct {
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	Form    map[string]string `yaml:"form"`
	Success []int             `yaml:"success"`
}

var sessionEnv = reqtmpl.Env{Vars: map[string]any{"username": "", "password": ""}}

// sessionReq is a SessionRequest compiled.
type sessionReq struct {
	method  string
	url     *reqtmpl.URL
	headers map[string]*reqtmpl.Text
	json    *reqtmpl.JSON
	form    *reqtmpl.Form
	success []int
}

func compileSession(r *SessionRequest, defMethod string) (*sessionReq, []keyErr) {
	var errs []keyErr
	fail := func(key string, err error) { errs = append(errs, keyErr{key, err}) }
	c := &sessionReq{method: strings.ToUpper(r.Method), success: r.Success, headers: map[string]*reqtmpl.Text{}}
	if c.method == "" {
		c.method = defMethod
	}
	if !validHeaderName(c.method) {
		fail("method", fmt.Errorf("%q is not an HTTP method", r.Method))
	}
	switch {
	case r.URL == "":
		fail("url", fmt.Errorf("is required"))
	case !strings.HasPrefix(r.URL, "/") && !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://"):
		fail("url", fmt.Errorf("must be a path starting with / (under the connector's url) or an absolute http(s) URL"))
	default:
		u, err := reqtmpl.ParseURL(r.URL, sessionEnv)
		if err != nil {
			fail("url", err)
		}
		c.url = u
	}
	for name, v := range r.Headers {
		if !validHeaderName(name) {
			fail(yamlx.Join("headers", name), fmt.Errorf("%q is not a valid HTTP header name", name))
			continue
		}
		t, err := reqtmpl.ParseText(v, sessionEnv)
		if err != nil {
			fail(yamlx.Join("headers", name), err)
			continue
		}
		c.headers[name] = t
	}
	if r.Body != "" && len(r.Form) > 0 {
		fail("form", fmt.Errorf("give either body (JSON) or form, not both"))
	}
	if r.Body != "" {
		j, err := reqtmpl.ParseJSON(r.Body, sessionEnv)
		if err != nil {
			fail("body", err)
		}
		c.json = j
	}
	if len(r.Form) > 0 {
		f, err := reqtmpl.ParseForm(r.Form, sessionEnv)
		if err != nil {
			fail("form", err)
		}
		c.form = f
	}
	for i, st := range r.Success {
		if st < 100 || st > 599 {
			fail(yamlx.Index("success", i), fmt.Errorf("%d is not an HTTP status", st))
		}
	}
	return c, errs
}

type keyErr struct {
	key string
	err error
}

// checkSession reports what is wrong with a session auth's settings.
func (a AuthConfig) checkSession(lines map[string]int, ab string) yamlx.Problems {
	var ps yamlx.Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, yamlx.Problem{Path: path, Line: yamlx.LineOf(lines, path), Msg: fmt.Sprintf(format, args...)})
	}
	if a.Login == nil {
		add(yamlx.Join(ab, "login"), "is required for auth type session: the request that opens a session")
	} else {
		_, errs := compileSession(a.Login, http.MethodPost)
		for _, e := range errs {
			add(yamlx.Join(yamlx.Join(ab, "login"), e.key), "%v", e.err)
		}
	}
	if a.Logout != nil {
		_, errs := compileSession(a.Logout, http.MethodDelete)
		for _, e := range errs {
			add(yamlx.Join(yamlx.Join(ab, "logout"), e.key), "%v", e.err)
		}
	}
	if a.TokenPath != "" {
		if _, err := jp.ParseString(a.TokenPath); err != nil {
			add(yamlx.Join(ab, "token_path"), "not a JSONPath: %v", err)
		}
		if a.Cookie != "" {
			add(yamlx.Join(ab, "cookie"), "give either cookie (the session travels in a cookie) or token_path (in a header), not both")
		}
	} else {
		if a.Header != "" {
			add(yamlx.Join(ab, "header"), "only applies with token_path")
		}
		if a.Prefix != nil {
			add(yamlx.Join(ab, "prefix"), "only applies with token_path")
		}
	}
	if a.Header != "" && !validHeaderName(a.Header) {
		add(yamlx.Join(ab, "header"), "%q is not a valid HTTP header name", a.Header)
	}
	return ps
}

// sessionAuth logs in with a configured request and keeps the session in
// a cookie jar (or a token) shared by every request of the target.
// Logins are single-flight (see flight): concurrent workers wait for one
// login and share its session, or its refusal, and two logins never
// race, which targets that allow one session per account require.
type sessionAuth struct {
	login, logout      *sessionReq
	base               string
	username, password string
	cookie             string
	token              jp.Expr // nil: the session is in cookies
	header, prefix     string

	keep *keeper // nil: the session is not kept across restarts

	flight  flight
	mu      sync.Mutex
	jar     *cookiejar.Jar
	open    bool
	names   []string // the cookies that carry the session
	cred    string   // what identifies the current session on a request
	tok     string
	cookies map[string]keptCookie // the cookies set, as kept
	tried   bool                  // a kept session was looked for
}

func newSession(c AuthConfig, base string, ks *keepSpec) (*sessionAuth, error) {
	if c.Login == nil {
		return nil, fmt.Errorf("auth.login: is required for auth type session")
	}
	a := &sessionAuth{base: strings.TrimRight(base, "/"), username: c.Username, cookie: c.Cookie}
	var errs []keyErr
	if a.login, errs = compileSession(c.Login, http.MethodPost); len(errs) > 0 {
		return nil, fmt.Errorf("auth.login.%s: %w", errs[0].key, errs[0].err)
	}
	if c.Logout != nil {
		if a.logout, errs = compileSession(c.Logout, http.MethodDelete); len(errs) > 0 {
			return nil, fmt.Errorf("auth.logout.%s: %w", errs[0].key, errs[0].err)
		}
	}
	for _, r := range []*SessionRequest{c.Login, c.Logout} {
		if r != nil && strings.HasPrefix(r.URL, "/") && a.base == "" {
			return nil, fmt.Errorf("auth: session request url %s is a path, but the connector gave no base URL", r.URL)
		}
	}
	pw, err := c.Password.Resolve()
	if err != nil {
		return nil, fmt.Errorf("auth.password: %w", err)
	}
	a.password = pw
	if !c.SessionKey.IsZero() {
		key, err := c.SessionKey.Resolve()
		if err != nil {
			return nil, fmt.Errorf("auth.session_key: %w", err)
		}
		if a.keep, err = newKeeper(ks, key, c.Username, a.base); err != nil {
			return nil, err
		}
	}
	if c.TokenPath != "" {
		if a.token, err = jp.ParseString(c.TokenPath); err != nil {
			return nil, fmt.Errorf("auth.token_path: %w", err)
		}
		a.header, a.prefix = c.Header, ""
		if a.header == "" {
			a.header, a.prefix = "Authorization", "Bearer "
		}
		if c.Prefix != nil {
			a.prefix = *c.Prefix
		}
	}
	a.jar, _ = cookiejar.New(nil)
	return a, nil
}

// Authorize opens a session if none is open and adds it to req.
func (a *sessionAuth) Authorize(ctx context.Context, d Doer, req *http.Request) error {
	jar, tok, open := a.current(ctx)
	if !open {
		err := a.flight.do(ctx, func(ctx context.Context) error {
			if _, _, open := a.current(ctx); open {
				return nil
			}
			return a.logIn(ctx, d)
		})
		if err != nil {
			return err
		}
		jar, tok, _ = a.current(ctx)
	}
	a.apply(req, jar, tok)
	return nil
}

// current is the open session, after looking once for a kept one.
func (a *sessionAuth) current(ctx context.Context) (*cookiejar.Jar, string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.open && a.keep != nil && !a.tried {
		a.tried = true
		a.restoreLocked(ctx)
	}
	return a.jar, a.tok, a.open
}

func (a *sessionAuth) apply(req *http.Request, jar *cookiejar.Jar, tok string) {
	for _, c := range jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	if a.token != nil {
		req.Header.Set(a.header, a.prefix+tok)
	}
}

// Renew logs in again, unless the session the request was refused with
// has already been replaced by another worker: then retrying with the
// new one is all it takes.
func (a *sessionAuth) Renew(ctx context.Context, d Doer, rejected *http.Request) (bool, error) {
	replaced := func() bool { return a.open && a.credOf(rejected) != a.cred }
	a.mu.Lock()
	done := replaced()
	a.mu.Unlock()
	if done {
		return true, nil
	}
	err := a.flight.do(ctx, func(ctx context.Context) error {
		a.mu.Lock()
		done := replaced()
		a.mu.Unlock()
		if done {
			return nil
		}
		return a.logIn(ctx, d)
	})
	if err != nil {
		return false, err
	}
	return true, nil
}

func (a *sessionAuth) Sensitive() ([]string, []string) {
	if a.token != nil {
		return []string{a.header}, nil
	}
	return nil, nil
}

// Observe keeps cookies the target sets on any answer: a target that
// rolls its session cookie forward expects the new one next time.
func (a *sessionAuth) Observe(resp *http.Response) {
	cookies := resp.Cookies()
	if len(cookies) == 0 || resp.Request == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.open {
		return
	}
	a.jar.SetCookies(resp.Request.URL, cookies)
	rolled := false
	for _, c := range cookies {
		if slices.Contains(a.names, c.Name) {
			secret.Register(c.Value)
			a.cred = a.fingerprint(a.jar.Cookies(resp.Request.URL))
			rolled = true
		}
	}
	if rolled && a.keep != nil {
		a.noteCookiesLocked(resp.Request.URL, cookies)
		a.keep.save(context.WithoutCancel(resp.Request.Context()), a.snapshotLocked())
	}
}

// credOf tells which session a request carried.
func (a *sessionAuth) credOf(req *http.Request) string {
	if a.token != nil {
		return req.Header.Get(a.header)
	}
	return a.fingerprint(req.Cookies())
}

func (a *sessionAuth) fingerprint(cookies []*http.Cookie) string {
	var parts []string
	for _, c := range cookies {
		if slices.Contains(a.names, c.Name) {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func (a *sessionAuth) vals() map[string]any {
	return map[string]any{"username": a.username, "password": a.password}
}

// build renders a session request.
func (a *sessionAuth) build(ctx context.Context, r *sessionReq) (*http.Request, error) {
	vals := a.vals()
	u, err := r.url.Render(vals)
	if err != nil {
		return nil, connector.Errorf(connector.Validation, "session request url: %v", err)
	}
	if strings.HasPrefix(u, "/") {
		u = a.base + u
	}
	var body []byte
	ctype := ""
	switch {
	case r.json != nil:
		body, err = r.json.Render(vals)
		ctype = "application/json"
	case r.form != nil:
		body, err = r.form.Render(vals)
		ctype = "application/x-www-form-urlencoded"
	}
	if err != nil {
		return nil, connector.Errorf(connector.Validation, "session request body: %v", err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, connector.Errorf(connector.Validation, "session request to %s: %v", audit.RedactURL(u), err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	for name, t := range r.headers {
		v, err := t.Header(vals)
		if err != nil {
			return nil, connector.Errorf(connector.Validation, "session request header %s: %v", name, err)
		}
		req.Header.Set(name, v)
	}
	return req, nil
}

// send sends a session request and reads its answer.
func (a *sessionAuth) send(d Doer, req *http.Request) (*http.Response, []byte, error) {
	resp, err := d.Do(req)
	if err != nil {
		return nil, nil, transportError(req.Context(), req.Method, audit.RedactURL(req.URL.String()), err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, nil, transportError(req.Context(), req.Method, audit.RedactURL(req.URL.String()), err)
	}
	return resp, buf.Bytes(), nil
}

func (r *sessionReq) ok(status int) bool {
	if len(r.success) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(r.success, status)
}

// logIn opens a new session, replacing any. It runs in the flight only
// (one login at a time), and holds a.mu only to install the session, not
// while the target answers: requests that come meanwhile wait for the
// flight, not for the lock.
func (a *sessionAuth) logIn(ctx context.Context, d Doer) error {
	req, err := a.build(ctx, a.login)
	if err != nil {
		return err
	}
	resp, body, err := a.send(d, req)
	if err != nil {
		return err
	}
	if !a.login.ok(resp.StatusCode) {
		if sessionAlreadyOpen(resp.StatusCode, body) {
			return a.alreadyOpen(req, resp, body)
		}
		e := refused("login", req, resp, body)
		// A refused login is a credentials problem whatever the status a
		// target chose for it; only overload and outages are transient.
		if !e.Kind.Transient() {
			e.Kind = connector.Auth
		}
		return e
	}
	jar, _ := cookiejar.New(nil)
	cookies := resp.Cookies()
	jar.SetCookies(req.URL, cookies)
	var names []string
	for _, c := range cookies {
		if (a.cookie == "" || c.Name == a.cookie) && c.Value != "" {
			names = append(names, c.Name)
			secret.Register(c.Value)
		}
	}
	tok := ""
	if a.token != nil {
		doc, err := oj.Parse(body)
		if err == nil {
			if v, ok := a.token.First(doc).(string); ok {
				tok = v
			}
		}
		if tok == "" {
			return connector.Errorf(connector.Auth, "session login: the answer has no token at %s", a.token.String())
		}
		secret.Register(tok)
	} else if len(names) == 0 {
		want := "a session cookie"
		if a.cookie != "" {
			want = "the cookie " + a.cookie
		}
		return connector.Errorf(connector.Auth, "session login: the answer did not set %s", want)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.jar, a.names, a.tok, a.open = jar, names, tok, true
	a.cred = a.fingerprint(cookies)
	if a.token != nil {
		a.cred = a.prefix + tok
	}
	if a.keep != nil {
		a.cookies = nil
		a.noteCookiesLocked(req.URL, cookies)
		a.keep.save(ctx, a.snapshotLocked())
	}
	return nil
}

// End logs out, if a session is open and a logout request is configured.
func (a *sessionAuth) End(ctx context.Context, d Doer) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.open {
		return nil
	}
	jar, tok := a.jar, a.tok
	a.open, a.tok, a.cred, a.names, a.cookies = false, "", "", nil, nil
	a.jar, _ = cookiejar.New(nil)
	if a.logout == nil {
		// The session stays open on the target: kept, the next start
		// takes it up instead of being refused a second one.
		return nil
	}
	req, err := a.build(ctx, a.logout)
	if err != nil {
		return err
	}
	a.apply(req, jar, tok)
	resp, body, err := a.send(d, req)
	if err != nil {
		return err // still kept: the session may be open yet
	}
	// A session the target has already ended cannot be ended again.
	if a.logout.ok(resp.StatusCode) || resp.StatusCode == http.StatusUnauthorized {
		if a.keep != nil {
			a.keep.forget(ctx)
		}
		return nil
	}
	return refused("logout", req, resp, body)
}

// sessionAlreadyOpen tells a login refused because the account already
// has a session (409, or the target's words saying so) from a login
// refused for its credentials.
func sessionAlreadyOpen(status int, body []byte) bool {
	if status == http.StatusConflict {
		return true
	}
	if status < 400 || status >= 500 {
		return false
	}
	b := strings.ToLower(string(body))
	return strings.Contains(b, "session") && (strings.Contains(b, "already") || strings.Contains(b, "active session") ||
		strings.Contains(b, "concurrent") || strings.Contains(b, "too many"))
}

// alreadyOpen reports a login refused because the target holds a session
// for the account: an auth failure (the target's queue waits and login is
// tried again), but one that new credentials would not cure.
func (a *sessionAuth) alreadyOpen(req *http.Request, resp *http.Response, body []byte) *connector.Error {
	e := refused("login", req, resp, body)
	said := strings.TrimSpace(audit.Excerpt(string(body)))
	if said == "" {
		said = "(no words)"
	}
	remedy := "end the old session on the target (log it out there) or wait for it to expire"
	if a.logout == nil {
		remedy += "; configure auth.logout so accord ends its session when it stops"
	}
	if a.keep == nil {
		remedy += "; set auth.session_key so a restarted accord takes up the session it had"
	}
	e.Kind = connector.Auth
	e.Message = secret.Redact(fmt.Sprintf("session login: the target already holds a session for user %q and refuses another "+
		"(%s %s answered %d: %s); %s. accord tries to log in again while the target's queue waits",
		a.username, req.Method, audit.RedactURL(req.URL.String()), resp.StatusCode, said, remedy))
	e.Err = connector.ErrSessionOpen
	return e
}

// refused describes a session request's answer that is not a success,
// a 2xx outside the configured statuses included.
func refused(what string, req *http.Request, resp *http.Response, body []byte) *connector.Error {
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: body, Method: req.Method, URL: audit.RedactURL(req.URL.String())}
	e := r.Failure()
	if e == nil {
		e = &connector.Error{Kind: connector.Unknown, Status: r.Status, Excerpt: audit.Excerpt(string(body)),
			Message: secret.Redact(fmt.Sprintf("%s %s answered %d, not a configured success", r.Method, r.URL, r.Status))}
	}
	e.Message = "session " + what + ": " + e.Message
	return e
}
