// Package audit defines the append-only evidence accord keeps of every
// attempt: what was asked of a target, what it answered, and the outcome,
// tied together by the run ID (the correlation ID) and the action ID.
package audit

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accord-iam/accord/internal/secret"
)

// Kind tells what a record is evidence of.
type Kind string

// Record kinds.
const (
	// KindAttemptStart is written, durably, before an action's attempt
	// touches the target; a crash after it still leaves evidence.
	KindAttemptStart Kind = "attempt_start"
	// KindExchange is one request and its response (or transport error).
	KindExchange Kind = "exchange"
	// KindAttemptEnd closes an attempt with its outcome.
	KindAttemptEnd Kind = "attempt_end"
	// KindEvent is anything else worth keeping: a run approved, a circuit
	// opened, an API call refused.
	KindEvent Kind = "event"
)

// Record is one audit entry. Fields that do not apply stay zero.
type Record struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Kind      Kind      `json:"kind"`
	RunID     string    `json:"run_id,omitempty"`
	ActionID  int64     `json:"action_id,omitempty"`
	Attempt   int       `json:"attempt,omitempty"`
	PersonKey string    `json:"person,omitempty"`
	Target    string    `json:"target,omitempty"`
	Operation string    `json:"operation,omitempty"`
	Actor     string    `json:"actor,omitempty"` // who: "engine", "cli", "apikey:ops-bot"

	Method          string            `json:"method,omitempty"`
	URL             string            `json:"url,omitempty"`
	RequestHeaders  map[string]string `json:"request_headers,omitempty"`
	RequestBody     string            `json:"request_body,omitempty"`
	Status          int               `json:"status,omitempty"`
	ResponseExcerpt string            `json:"response_excerpt,omitempty"`
	DurationMS      int64             `json:"duration_ms,omitempty"`

	Outcome   string `json:"outcome,omitempty"` // succeeded, failed, retry, interrupted, ...
	ErrorKind string `json:"error_kind,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Sink receives records. Implementations batch them into the store.
type Sink interface {
	Append(ctx context.Context, recs ...Record)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, recs ...Record)

// Append calls f.
func (f SinkFunc) Append(ctx context.Context, recs ...Record) { f(ctx, recs...) }

// Discard drops every record.
var Discard Sink = SinkFunc(func(context.Context, ...Record) {})

// Call identifies the action on whose behalf a connector is working. It
// travels in the context so that connectors can stamp every request with
// the correlation ID and audit it, without knowing about the engine.
type Call struct {
	RunID     string
	ActionID  int64
	Attempt   int
	PersonKey string
	Target    string
	Operation string
	// Request names a request shared by several actions (a group PATCH
	// adding many members): its correlation ID is RunID/Request, and each
	// action's own records name it.
	Request string
	Sink    Sink
}

// CorrelationID is the value sent to targets in the correlation header.
func (c Call) CorrelationID() string {
	if c.RunID == "" {
		return ""
	}
	if c.Request != "" {
		return c.RunID + "/" + c.Request
	}
	if c.ActionID == 0 {
		return c.RunID
	}
	return c.RunID + "/" + strconv.FormatInt(c.ActionID, 10)
}

type callKey struct{}

// WithCall attaches the call to ctx.
func WithCall(ctx context.Context, c Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// CallFrom returns the call in ctx, or a zero Call with a discarding sink.
func CallFrom(ctx context.Context) Call {
	c, _ := ctx.Value(callKey{}).(Call)
	if c.Sink == nil {
		c.Sink = Discard
	}
	return c
}

// Base returns a record pre-filled from the call.
func (c Call) Base(kind Kind) Record {
	return Record{
		Time: time.Now().UTC(), Kind: kind, RunID: c.RunID, ActionID: c.ActionID, Attempt: c.Attempt,
		PersonKey: c.PersonKey, Target: c.Target, Operation: c.Operation, Actor: "engine",
	}
}

// MaxExcerpt bounds request bodies and response excerpts kept in the audit.
const MaxExcerpt = 2048

// redactMargin is how far past the excerpt redaction looks, so that a
// secret starting inside the excerpt and running past its end is still
// masked whole. Secrets (tokens, keys, passwords) are far shorter.
const redactMargin = 8 << 10

// Excerpt cuts s to at most MaxExcerpt bytes on a rune boundary, after
// redacting secrets. Only the start of a large body is redacted: a group
// with ten thousand members must not cost a regular expression over
// megabytes per request.
func Excerpt(s string) string {
	if len(s) > MaxExcerpt+redactMargin {
		s = cut(s, MaxExcerpt+redactMargin)
	}
	s = secret.RedactBody(s)
	if len(s) <= MaxExcerpt {
		return s
	}
	return cut(s, MaxExcerpt) + "…"
}

func cut(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ExcerptBytes is Excerpt of a body held as bytes: only what Excerpt
// looks at is copied, not a large answer whole.
func ExcerptBytes(b []byte) string {
	if n := MaxExcerpt + redactMargin; len(b) > n {
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		b = b[:n]
	}
	return Excerpt(string(b))
}

// Headers flattens and redacts HTTP headers for a record. extra names
// headers that carry credentials for this target only. (A map has no
// order; a record's headers are ordered where they are written out.)
func Headers(h http.Header, extra ...string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if secret.SensitiveHeader(k, extra...) {
			out[k] = secret.Mask
			continue
		}
		v := ""
		if len(vs) == 1 {
			v = vs[0]
		} else {
			v = strings.Join(vs, ", ")
		}
		out[k] = secret.Redact(v)
	}
	return out
}

// RedactURL masks secrets in a URL, including credential-like query values.
func RedactURL(u string) string {
	u = secret.Redact(u)
	i := strings.IndexByte(u, '?')
	if i < 0 {
		return u
	}
	parts := strings.Split(u[i+1:], "&")
	for j, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if ok && secret.SensitiveHeader(k, "key", "api_key", "apikey", "access_token", "sig", "signature") {
			parts[j] = k + "=" + secret.Mask
		}
	}
	return u[:i+1] + strings.Join(parts, "&")
}
