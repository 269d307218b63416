package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/accord-iam/accord/internal/secret"
)

// Kind classifies a failure by what the engine should do about it.
type Kind string

// The error kinds. The engine decides by kind, never by status code.
const (
	Validation  Kind = "validation"   // the request is wrong: do not retry
	Auth        Kind = "auth"         // credentials rejected: re-login once
	Forbidden   Kind = "forbidden"    // authenticated but not allowed
	NotFound    Kind = "not_found"    // the object is not there
	Conflict    Kind = "conflict"     // it already exists / already a member
	RateLimited Kind = "rate_limited" // slow down, as the target asks
	Unavailable Kind = "unavailable"  // 5xx, refused, reset: retry later
	Timeout     Kind = "timeout"      // no answer in time: retry later
	Unverified  Kind = "unverified"   // the write answered OK, the read-back disagrees
	Unsupported Kind = "unsupported"  // the connector cannot do this operation
	Unknown     Kind = "unknown"
)

// Kinds lists every kind, for metrics and validation.
var Kinds = []Kind{Validation, Auth, Forbidden, NotFound, Conflict, RateLimited, Unavailable, Timeout, Unverified, Unsupported, Unknown}

// Transient reports whether trying again later may succeed by itself.
func (k Kind) Transient() bool {
	return k == RateLimited || k == Unavailable || k == Timeout
}

// Error is what a connector returns when a target call fails.
type Error struct {
	Kind Kind
	// Status is the protocol status (HTTP status, LDAP result code), or 0.
	Status int
	// Message says what went wrong, in words, secrets redacted.
	Message string
	// Reason is what the target said, in its own words (a SCIM detail, a
	// JSON error's message, else the start of the body), secrets redacted.
	Reason string
	// Excerpt is the start of the target's answer, secrets redacted.
	Excerpt string
	// Attribute names the offending attribute when the target says which.
	Attribute string
	// RetryAfter is how long the target asked us to wait (429, 503).
	RetryAfter time.Duration
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Kind))
	if e.Status != 0 {
		b.WriteString(" (")
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteString(")")
	}
	if t := e.Text(); t != "" {
		b.WriteString(": ")
		b.WriteString(t)
	}
	return b.String()
}

// Text is the failure without its kind and status, for places that show
// those in columns of their own (an action's error, an alert, the audit):
// the target's words first, quoted, with the attribute it names, so that
// a line cut at the end still shows them; then accord's account of what
// was asked.
func (e *Error) Text() string {
	var b strings.Builder
	if e.Reason != "" && !strings.Contains(e.Message, e.Reason) {
		b.WriteString("the target said \"")
		b.WriteString(e.Reason)
		b.WriteString("\"")
		if e.Attribute != "" {
			b.WriteString(" [attribute ")
			b.WriteString(e.Attribute)
			b.WriteString("]")
		}
		if e.Message != "" {
			b.WriteString(" — ")
			b.WriteString(e.Message)
		}
		return secret.Redact(b.String())
	}
	b.WriteString(e.Message)
	if e.Attribute != "" {
		b.WriteString(" [attribute ")
		b.WriteString(e.Attribute)
		b.WriteString("]")
	}
	return secret.Redact(b.String())
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: secret.Redact(fmt.Sprintf(format, args...))}
}

// KindOf returns the kind of err: the Kind of an *Error in its chain, or a
// classification of well-known transport errors, or Unknown.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return classify(err)
}

// AsError returns err as an *Error, classifying plain errors.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	return &Error{Kind: classify(err), Message: secret.Redact(err.Error()), Err: err}
}

func classify(err error) Kind {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return Timeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Unavailable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return Unavailable
	}
	msg := err.Error()
	if strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "server closed") {
		return Unavailable
	}
	return Unknown
}

// KindForStatus maps an HTTP status to a kind. Protocol-specific detail
// (SCIM's scimType, a REST target's "already a member" body) is the
// connector's to refine.
func KindForStatus(status int) Kind {
	switch {
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity,
		status == http.StatusRequestEntityTooLarge, status == http.StatusUnsupportedMediaType:
		return Validation
	case status == http.StatusUnauthorized:
		return Auth
	case status == http.StatusForbidden:
		return Forbidden
	case status == http.StatusNotFound, status == http.StatusGone:
		return NotFound
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return Conflict
	case status == http.StatusTooManyRequests:
		return RateLimited
	case status == http.StatusRequestTimeout, status == http.StatusGatewayTimeout:
		return Timeout
	case status >= 500:
		return Unavailable
	}
	return Unknown
}

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date).
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
