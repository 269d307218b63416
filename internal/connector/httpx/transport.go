package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/telemetry"
)

// MaxBody bounds an answer read into memory. A SCIM or REST answer larger
// than this is a listing with a page size set far too high.
const MaxBody = 32 << 20

// holdForQuota tells the hold in ctx when an answer says the target takes
// no more requests for a while: a 429, or any answer announcing that its
// rate-limit window is spent. Every request to the target then waits,
// not only the one that was refused. It returns a note for the audit.
func holdForQuota(ctx context.Context, resp *http.Response) string {
	now := time.Now()
	var wait time.Duration
	if resp.StatusCode == http.StatusTooManyRequests {
		wait = connector.WaitFrom(resp.Header, now)
	} else {
		wait, _ = connector.QuotaSpent(resp.Header, now)
	}
	if wait <= 0 {
		return ""
	}
	connector.HoldFrom(ctx)(now.Add(wait))
	return fmt.Sprintf("the target takes no more requests for %s: holding them", wait.Round(time.Millisecond))
}

// auditTransport is the bottom of every request, auth requests included:
// it stamps the correlation header and writes one exchange record, so no
// request can reach a target unaudited.
type auditTransport struct {
	base        http.RoundTripper
	timeout     time.Duration // one request, from when it is sent
	correlation string
	sensHeaders []string
	sensQuery   []string
}

func (t *auditTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// Rate limits and Retry-After pauses apply to every request, a token
	// request or a login included. Waiting at the gate is not part of
	// the request: its timeout starts after, when it is sent, so a
	// request held by accord's own pacing never times out for it.
	if err := connector.GateFrom(ctx)(ctx); err != nil {
		return nil, err
	}
	if t.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		defer cancel() // the answer is read in full below
	}
	call := audit.CallFrom(ctx)
	sctx, span := telemetry.Start(ctx, tracer, "HTTP "+req.Method, trace.SpanKindClient)
	defer span.End()
	if span.IsRecording() {
		ctx = sctx
	}

	// net/http sends an idempotent request (a GET; a request with an
	// idempotency key) again by itself when a reused connection breaks
	// after it was written: the target then received it twice for one
	// RoundTrip. Each write of such a request is counted, so that each
	// is audited.
	var writes *atomic.Int32
	if resendable(req) {
		writes = new(atomic.Int32)
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(w httptrace.WroteRequestInfo) {
				if w.Err == nil {
					writes.Add(1)
				}
			},
		})
	}
	// One copy of the request carries what the context gained above.
	if needsCorrelation(call, req.Header, t.correlation) {
		req = req.Clone(ctx)
		req.Header.Set(t.correlation, call.CorrelationID())
	} else if ctx != req.Context() {
		req = req.WithContext(ctx)
	}
	if span.IsRecording() {
		traceRequest(span, req, call.CorrelationID())
	}
	reqBody := peekBody(req)

	rec := call.Base(audit.KindExchange)
	rec.Method = req.Method
	rec.URL = redactURL(req.URL, t.sensQuery)
	rec.RequestHeaders = audit.Headers(req.Header, t.sensHeaders...)
	rec.RequestBody = audit.Excerpt(redactForm(req.Header.Get("Content-Type"), reqBody))
	sent := rec

	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		var data []byte
		data, err = readAnswer(resp.Body, resp.ContentLength)
		resp.Body.Close()
		if err == nil && len(data) > MaxBody {
			err = fmt.Errorf("answer larger than %d bytes", MaxBody)
		}
		rec.Status = resp.StatusCode
		rec.ResponseExcerpt = audit.ExcerptBytes(data)
		resp.Body = &readBody{Reader: bytes.NewReader(data), data: data}
		if resp.StatusCode >= 300 {
			rec.ErrorKind = string(connector.KindForStatus(resp.StatusCode))
		}
		rec.Message = holdForQuota(ctx, resp)
	}
	rec.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		if kind := transportKind(ctx, err); kind == connector.Timeout && !errors.As(err, new(*connector.Error)) {
			// The caller's context has no deadline of its own: say here
			// that this request's timed out.
			err = &connector.Error{Kind: connector.Timeout, Message: secret.Redact(fmt.Sprintf("no answer within %s: %v", t.timeout, err)), Err: err}
		}
		rec.ErrorKind = string(transportKind(ctx, err))
		rec.Message = secret.Redact(err.Error())
		rec.Outcome = "failed"
		resp = nil
	}
	if span.IsRecording() {
		traceAnswer(span, rec)
	}
	if writes != nil && writes.Load() > 1 {
		call.Sink.Append(ctx, resent(sent, int(writes.Load())-1)...)
	}
	call.Sink.Append(ctx, rec)
	return resp, err
}

// resendable says whether net/http may send req again by itself once
// written, by its documented rule: an idempotent method, or an
// idempotency key header.
func resendable(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// resent is the records of the n earlier writes of a request net/http
// sent again by itself: each reached the target, and its connection
// broke before an answer.
func resent(sent audit.Record, n int) []audit.Record {
	sent.Outcome, sent.ErrorKind = "failed", string(connector.Unavailable)
	sent.Message = "the connection broke after the request was sent, without an answer; the HTTP client sent it again on a new connection"
	out := make([]audit.Record, n)
	for i := range out {
		out[i] = sent
	}
	return out
}

// needsCorrelation says whether a request of call lacks the correlation
// header. The client stamps the requests it builds itself; the
// transport stamps a copy of any other (a login, a token request).
func needsCorrelation(call audit.Call, h http.Header, name string) bool {
	return call.CorrelationID() != "" && h.Get(name) == ""
}

// transportKind classifies err; net/http reports a request cut off by the
// client's own deadline as a bare "request canceled".
func transportKind(ctx context.Context, err error) connector.Kind {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return connector.Timeout
	}
	return connector.KindOf(err)
}

// readAnswer reads an answer's body, at most MaxBody+1 bytes (one more
// says it is too large). An answer that gives its length is read into one
// buffer of that size, not grown from a small one as io.ReadAll does.
func readAnswer(body io.Reader, length int64) ([]byte, error) {
	size := int64(512)
	if length > 0 && length < MaxBody {
		size = length + 1 // room to see the end of the body without growing
	}
	buf := make([]byte, 0, size)
	r := io.LimitReader(body, MaxBody+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
	}
}

// readBody is an answer's body the transport has read in full already
// (to audit it): the client takes its bytes instead of copying them
// again.
type readBody struct {
	*bytes.Reader
	data []byte
}

func (readBody) Close() error { return nil }

// readAll reads an answer's body, or takes the bytes the transport read.
func readAll(body io.Reader) ([]byte, error) {
	if rb, ok := body.(*readBody); ok && rb.Len() == len(rb.data) {
		return rb.data, nil
	}
	return io.ReadAll(body)
}

// sentBody is a request body the client built from bytes: the
// transport reads them for the audit instead of copying the body.
type sentBody struct {
	*bytes.Reader
	data []byte
}

func (sentBody) Close() error { return nil }

// newSentBody sets data as req's body, to be sent again (GetBody) as
// net/http does for a body given as bytes.
func newSentBody(req *http.Request, data []byte) {
	req.ContentLength = int64(len(data))
	if len(data) == 0 {
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	req.Body = &sentBody{Reader: bytes.NewReader(data), data: data}
	req.GetBody = func() (io.ReadCloser, error) {
		return &sentBody{Reader: bytes.NewReader(data), data: data}, nil
	}
}

// peekBody returns the request body without consuming it.
func peekBody(req *http.Request) string {
	if req.Body == nil || req.Body == http.NoBody {
		return ""
	}
	if sb, ok := req.Body.(*sentBody); ok && sb.Len() == len(sb.data) {
		return string(sb.data[:min(len(sb.data), audit.MaxExcerpt*4)])
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err == nil {
			defer rc.Close()
			b, _ := io.ReadAll(io.LimitReader(rc, audit.MaxExcerpt*4))
			return string(b)
		}
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return ""
	}
	return string(b)
}

// formSecrets are form fields that carry credentials (OAuth2 token and
// login requests); audit.Excerpt only knows JSON keys.
var formSecrets = map[string]bool{
	"client_secret": true, "password": true, "refresh_token": true, "assertion": true,
	"client_assertion": true, "code": true, "token": true, "access_token": true,
}

func redactForm(contentType, body string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" || body == "" {
		return body
	}
	parts := strings.Split(body, "&")
	for i, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if name, err := url.QueryUnescape(k); ok && err == nil && (formSecrets[strings.ToLower(name)] || secret.SensitiveHeader(name)) {
			parts[i] = k + "=" + secret.Mask
		}
	}
	return strings.Join(parts, "&")
}

// redactURL masks the configured credential query parameters, then what
// audit.RedactURL knows to mask.
func redactURL(u *url.URL, sensQuery []string) string {
	s := u.String()
	if len(sensQuery) == 0 || u.RawQuery == "" {
		return audit.RedactURL(s)
	}
	base, q, _ := strings.Cut(s, "?")
	frag := ""
	if i := strings.IndexByte(q, '#'); i >= 0 {
		q, frag = q[:i], q[i:]
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		name, _ := url.QueryUnescape(k)
		for _, sq := range sensQuery {
			if strings.EqualFold(name, sq) {
				parts[i] = k + "=" + secret.Mask
			}
		}
	}
	return audit.RedactURL(base + "?" + strings.Join(parts, "&") + frag)
}
