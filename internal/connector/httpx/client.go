package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/secret"
)

// Client sends requests to one target. It is safe for concurrent use.
type Client struct {
	cfg  Config
	auth Auth
	// raw sends through the audit transport without auth; auths use it.
	raw *http.Client
	// rt is raw's transport, the audit transport, which the client's own
	// requests go to directly: what http.Client adds (redirects, which
	// are not followed; a cookie jar, which it has none of) would cost a
	// copy of each request's headers and URL.
	rt        http.RoundTripper
	sensQuery []string
	now       func() time.Time
}

// Option adjusts a Client at construction.
type Option func(*options)

type options struct {
	auth    Auth
	now     func() time.Time
	base    http.RoundTripper
	baseURL string
	keep    *keepSpec
}

// WithAuth replaces the auth built from the config, for connectors that
// bring their own (a session login).
func WithAuth(a Auth) Option { return func(o *options) { o.auth = a } }

// WithClock sets the clock used for token expiry and Retry-After dates.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTransport replaces the network transport under the audit layer,
// for fault injection in tests.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.base = rt } }

// WithBaseURL is the connector's base URL, under which a session auth's
// login and logout paths lie.
func WithBaseURL(u string) Option { return func(o *options) { o.baseURL = u } }

// New builds a client from cfg. Secrets are resolved at the first
// request that needs them.
func New(cfg Config, opts ...Option) (*Client, error) {
	cfg = cfg.withDefaults()
	o := options{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	auth := o.auth
	if auth == nil {
		auth = newLazyAuth(cfg.Auth, o.now, o.baseURL, o.keep)
	}
	base := o.base
	if base == nil {
		base = newTransport(cfg)
	}
	sensHeaders, sensQuery := auth.Sensitive()
	at := &auditTransport{base: base, timeout: cfg.Timeout, correlation: cfg.CorrelationHeader, sensHeaders: sensHeaders, sensQuery: sensQuery}
	// No http.Client.Timeout: its timer races the request context, and a
	// request cut off by it may come back as a bare "request canceled".
	// Each request gets a context deadline in the transport instead,
	// after the gate: the timeout starts when the request is sent.
	raw := &http.Client{
		Transport: at,
		// A target that redirects an API call is misconfigured; following
		// would resend credentials or turn a POST into a GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Client{cfg: cfg, auth: auth, raw: raw, rt: at, sensQuery: sensQuery, now: o.now}, nil
}

func newTransport(cfg Config) *http.Transport {
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		MaxIdleConns:          cfg.MaxConnsPerHost * 2,
		MaxIdleConnsPerHost:   cfg.MaxConnsPerHost,
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// Request is one call. Body is kept as bytes so that the request can be
// sent again after a credentials renewal.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Response is a complete answer, whatever its status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Method and URL (redacted) of the request, for messages.
	Method string
	URL    string
	now    func() time.Time
}

// Do sends r. A transport failure is returned as *connector.Error; any
// answer, even 4xx or 5xx, is returned as a Response (see Failure). On a
// 401 the auth may renew its credentials, and the request is then sent
// once more.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	resp, sent, err := c.send(ctx, r)
	if err != nil || resp.Status != http.StatusUnauthorized {
		return resp, err
	}
	renewed, err := c.auth.Renew(ctx, c.raw, sent)
	if err != nil {
		return nil, err
	}
	if !renewed {
		return resp, nil
	}
	resp, _, err = c.send(ctx, r)
	return resp, err
}

func (c *Client) send(ctx context.Context, r Request) (*Response, *http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, nil)
	if err != nil {
		return nil, nil, &connector.Error{Kind: connector.Validation, Message: secret.Redact(fmt.Sprintf("bad request to %s: %v", audit.RedactURL(r.URL), err))}
	}
	if r.Body != nil {
		newSentBody(req, r.Body)
	}
	copyHeader(req.Header, r.Header)
	// The request is this client's own: stamped here, the transport need
	// not copy it to stamp it.
	if call := audit.CallFrom(ctx); needsCorrelation(call, req.Header, c.cfg.CorrelationHeader) {
		req.Header.Set(c.cfg.CorrelationHeader, call.CorrelationID())
	}
	if err := c.auth.Authorize(ctx, c.raw, req); err != nil {
		return nil, nil, err
	}
	shown := redactURL(req.URL, c.sensQuery)
	hr, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, nil, transportError(ctx, req.Method, shown, err)
	}
	defer hr.Body.Close()
	data, err := readAll(hr.Body)
	if err != nil {
		return nil, nil, transportError(ctx, req.Method, shown, err)
	}
	if o, ok := c.auth.(Observer); ok {
		o.Observe(hr)
	}
	return &Response{Status: hr.StatusCode, Header: hr.Header, Body: data, Method: req.Method, URL: shown, now: c.now}, req, nil
}

// copyHeader copies src's values into dst, each key's values capped at
// their length in one shared array, so that adding a value to one key
// (an auth's header) copies it instead of writing into the next key's.
func copyHeader(dst, src http.Header) {
	n := 0
	for _, vs := range src {
		n += len(vs)
	}
	all := make([]string, 0, n)
	for k, vs := range src {
		start := len(all)
		all = append(all, vs...)
		dst[k] = all[start:len(all):len(all)]
	}
}

// transportError classifies a failure to get an answer. The *url.Error
// from net/http repeats the full URL, query credentials included, so only
// its cause is kept.
func transportError(ctx context.Context, method, shownURL string, err error) *connector.Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	kind := transportKind(ctx, err)
	return &connector.Error{Kind: kind, Message: secret.Redact(fmt.Sprintf("%s %s: %v", method, shownURL, err)), Err: err}
}

// OK reports a 2xx answer.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Failure turns a non-2xx answer into a *connector.Error with the kind
// for its status, the redacted start of the body, and the wait a 429 or
// 503 asked for (Retry-After, or the reset of a spent rate-limit window). It returns nil for a 2xx answer; protocol
// connectors refine the result (SCIM's scimType, for one).
func (r *Response) Failure() *connector.Error {
	if r.OK() {
		return nil
	}
	e := &connector.Error{
		Kind:    connector.KindForStatus(r.Status),
		Status:  r.Status,
		Message: secret.Redact(fmt.Sprintf("%s %s answered %d %s", r.Method, r.URL, r.Status, http.StatusText(r.Status))),
		Excerpt: audit.Excerpt(string(r.Body)),
	}
	e.Reason, e.Attribute = TargetReason(r.Body)
	if r.Status >= 300 && r.Status < 400 {
		e.Message += "; redirected to " + audit.RedactURL(r.Header.Get("Location")) + ": configure the final address"
	}
	if r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable {
		now := time.Now
		if r.now != nil {
			now = r.now
		}
		e.RetryAfter = connector.WaitFrom(r.Header, now())
	}
	return e
}

// Close ends the auth's session, if it holds one (a logout, audited
// under ctx's call), and releases idle connections.
func (c *Client) Close(ctx context.Context) error {
	defer c.raw.CloseIdleConnections()
	e, ok := c.auth.(Ender)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return e.End(ctx, c.raw)
}

// HTTPClient is the audited client without auth, for callers that must
// speak plain net/http (a login form, a library that wants *http.Client).
// It has no timeout of its own: bound its requests with the context.
func (c *Client) HTTPClient() *http.Client { return c.raw }

// IdempotencyKey returns the configured idempotency header and its value
// for a non-idempotent write under ctx: the action's run/action ID, the
// same for every attempt of the action. It returns "" when no header is
// configured or ctx carries no action (an auth or reconciliation call).
// Connectors add it to their create (and other non-idempotent) requests.
func (c *Client) IdempotencyKey(ctx context.Context) (header, value string) {
	call := audit.CallFrom(ctx)
	if c.cfg.IdempotencyHeader == "" || call.ActionID == 0 {
		return "", ""
	}
	return c.cfg.IdempotencyHeader, call.CorrelationID()
}

// CorrelationHeader is the header name the client stamps.
func (c *Client) CorrelationHeader() string { return c.cfg.CorrelationHeader }
