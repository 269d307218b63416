package rest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/secret"
)

// attrMap gives templates an account's attributes; a missing one reads
// as nil, which a JSON body sends as null.
func attrMap(a model.Attributes) map[string]any {
	m := make(map[string]any, len(a))
	for k, v := range a {
		m[k] = v
	}
	return m
}

func linkMap(l map[string]string) map[string]any {
	m := make(map[string]any, len(l))
	for k, v := range l {
		m[k] = v
	}
	return m
}

// refValues are the names an operation on an existing account sees.
func refValues(ref connector.AccountRef) map[string]any {
	return map[string]any{
		"account": attrMap(ref.Attributes), "person": ref.PersonKey,
		"native_id": ref.NativeID, "link": linkMap(ref.Link),
	}
}

// request renders o for one call. A value that cannot be placed safely
// (an empty path segment, a line break in a header) fails the call as
// validation: sending something else would act on another resource.
func (c *Conn) request(o *op, vals map[string]any, override string) (httpx.Request, error) {
	u := override
	if u == "" {
		var err error
		if u, err = o.url.Render(vals); err != nil {
			return httpx.Request{}, connector.Errorf(connector.Validation, "rest %s: url: %v", o.name, err)
		}
		if strings.HasPrefix(u, "/") {
			u = c.cp.base + u
		}
	}
	h := http.Header{"Accept": {"application/json"}}
	for _, hs := range [][]header{c.cp.headers, o.headers} {
		for _, hd := range hs {
			v, err := hd.t.Header(vals)
			if err != nil {
				return httpx.Request{}, connector.Errorf(connector.Validation, "rest %s: header %s: %v", o.name, hd.name, err)
			}
			h.Set(hd.name, v)
		}
	}
	var body []byte
	var err error
	switch {
	case o.json != nil:
		body, err = o.json.Render(vals)
		setDefault(h, "Content-Type", "application/json")
	case o.form != nil:
		body, err = o.form.Render(vals)
		setDefault(h, "Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		return httpx.Request{}, connector.Errorf(connector.Validation, "rest %s: body: %v", o.name, err)
	}
	return httpx.Request{Method: o.method, URL: u, Header: h, Body: body}, nil
}

func setDefault(h http.Header, k, v string) {
	if h.Get(k) == "" {
		h.Set(k, v)
	}
}

// call sends o once and classifies the answer: the response (when there
// is one) and, unless it is a success, a *connector.Error.
func (c *Conn) call(ctx context.Context, o *op, vals map[string]any) (*httpx.Response, error) {
	return c.callURL(ctx, o, vals, "")
}

func (c *Conn) callURL(ctx context.Context, o *op, vals map[string]any, override string) (*httpx.Response, error) {
	req, err := c.request(o, vals, override)
	if err != nil {
		return nil, err
	}
	if k, v := c.http.IdempotencyKey(ctx); k != "" && o.nonIdempotent() && req.Header.Get(k) == "" {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if e := o.failure(resp); e != nil {
		return resp, e
	}
	return resp, nil
}

// nonIdempotent reports a write that, sent twice, may act twice: a POST
// that changes something (a create, a membership added by POST). Reads
// sent as POST (a search) carry no idempotency key.
func (o *op) nonIdempotent() bool {
	if o.method != http.MethodPost {
		return false
	}
	switch o.name {
	case opGet, opFind, opListAccounts, opListEntitlements:
		return false
	}
	return true
}

func (o *op) ok(status int) bool {
	if len(o.success) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(o.success, status)
}

func (m *matcher) matches(resp *httpx.Response) bool {
	if m == nil || (len(m.status) > 0 && !slices.Contains(m.status, resp.Status)) {
		return false
	}
	return m.body == nil || m.body.Match(resp.Body)
}

// failure turns an answer that is not a success into a *connector.Error,
// refined by the operation's exists and missing rules.
func (o *op) failure(resp *httpx.Response) *connector.Error {
	if o.ok(resp.Status) {
		return nil
	}
	e := resp.Failure()
	if e == nil { // a 2xx the operation does not count as success
		e = &connector.Error{Kind: connector.Unknown, Status: resp.Status, Excerpt: audit.Excerpt(string(resp.Body)),
			Message: secret.Redact(fmt.Sprintf("%s %s answered %d, not one of %v", resp.Method, resp.URL, resp.Status, o.success))}
	}
	switch {
	case o.exists.matches(resp):
		e.Kind = connector.Conflict
	case o.missing.matches(resp):
		e.Kind = connector.NotFound
	}
	// A per-group API answers 404 for a group that does not exist as
	// readily as for a user: the engine reads the account to tell which
	// is missing before it concludes anything.
	e.Message = o.name + ": " + e.Message
	return e
}
