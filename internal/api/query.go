package api

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paging: every list takes limit (default 100, at most 1000) and a cursor,
// and answers the URL of the next page.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// params reads a request's query strictly: a parameter the route does not
// take is an error (a typo such as ?status= must not silently return
// everything), and so is a value that does not parse.
type params struct {
	v    url.Values
	errs []FieldError
}

func (rq *request) params(allowed ...string) (*params, error) {
	q := rq.URL.Query()
	var unknown []string
	for k := range q {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		known := "none"
		if len(allowed) > 0 {
			known = strings.Join(allowed, ", ")
		}
		fields := make([]FieldError, len(unknown))
		for i, u := range unknown {
			fields[i] = FieldError{Field: u, Reason: "unknown query parameter"}
		}
		return nil, &Error{Status: 400, Code: CodeBadRequest,
			Message: fmt.Sprintf("unknown query parameter %s (this route takes: %s)", strings.Join(unknown, ", "), known),
			Details: map[string]any{"fields": fields}}
	}
	return &params{v: q}, nil
}

func (p *params) str(name string) string { return p.v.Get(name) }

// list reads a parameter given as a comma-separated list, repeated, or
// both, checking each value against allowed when allowed is not empty.
func (p *params) list(name string, allowed []string) []string {
	var out []string
	for _, v := range p.v[name] {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x == "" {
				continue
			}
			if len(allowed) > 0 && !slices.Contains(allowed, x) {
				p.errs = append(p.errs, FieldError{Field: name, Reason: fmt.Sprintf("%q is not one of %s", x, strings.Join(allowed, ", "))})
				continue
			}
			out = append(out, x)
		}
	}
	return out
}

func (p *params) int64(name string) int64 {
	s := p.v.Get(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		p.errs = append(p.errs, FieldError{Field: name, Reason: fmt.Sprintf("expected a non-negative whole number, got %q", s)})
	}
	return n
}

// time reads an RFC 3339 time or a date (the start of that day, UTC).
func (p *params) time(name string) time.Time {
	s := p.v.Get(name)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t
	}
	p.errs = append(p.errs, FieldError{Field: name, Reason: fmt.Sprintf("expected a date (2026-01-31) or a time (2026-01-31T12:00:00Z), got %q", s)})
	return time.Time{}
}

func (p *params) limit() int {
	s := p.v.Get("limit")
	if s == "" {
		return defaultLimit
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		p.errs = append(p.errs, FieldError{Field: "limit", Reason: fmt.Sprintf("expected a whole number from 1 to %d, got %q", maxLimit, s)})
		return defaultLimit
	}
	return n
}

// err returns the problems found while reading, as one 400.
func (p *params) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(p.errs))
	for i, e := range p.errs {
		msgs[i] = e.Field + ": " + e.Reason
	}
	return &Error{Status: 400, Code: CodeBadRequest, Message: "bad query parameter: " + strings.Join(msgs, "; "),
		Details: map[string]any{"fields": p.errs}}
}

// nextURL is the request's URL with the cursor parameter set.
func (rq *request) nextURL(cursor, value string) string {
	q := rq.URL.Query()
	q.Set(cursor, value)
	return rq.URL.Path + "?" + q.Encode()
}

// pageOf cuts one extra item fetched to learn whether a next page exists.
func pageOf[T any](rq *request, items []T, limit int, cursor string, cursorOf func(T) string) page[T] {
	p := page[T]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.Next = rq.nextURL(cursor, cursorOf(items[limit-1]))
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}
