// Package scim is the SCIM 2.0 connector (RFC 7643, RFC 7644), registered
// as connector type "scim". See Settings for its configuration and Quirks
// for the deviations of real servers it can handle.
package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
)

func init() {
	connector.Register("scim", connector.Settled(check, func(s Settings, spec connector.Spec) (connector.Connector, error) {
		return New(s, spec.AccountAttributes, httpx.WithSessionStore(spec.Sessions, spec.Target, spec.Logger))
	}))
}

// Conn is one configured SCIM target. It is safe for concurrent use.
type Conn struct {
	set  Settings
	base string
	http *httpx.Client
	corr *correlation
	want []attrPath // the account mapping's attributes, parsed: what reads return

	pathMu sync.Mutex
	paths  map[string]attrPath

	discMu sync.Mutex
	disc   discovery

	groupMu   sync.Mutex
	groupID   map[string]string // displayName -> id
	groupName map[string]string // id -> displayName
}

var _ connector.Connector = (*Conn)(nil)

// New builds a connector from checked settings. accountAttributes are the
// names the account mapping produces; reads return those (and userName).
func New(s Settings, accountAttributes []string, opts ...httpx.Option) (*Conn, error) {
	s = s.withDefaults()
	corr, err := parseCorrelation(s.UserFilter)
	if err != nil {
		return nil, fmt.Errorf("user_filter: %w", err)
	}
	hc, err := httpx.New(s.Config, opts...)
	if err != nil {
		return nil, err
	}
	c := &Conn{set: s, base: s.URL, http: hc, corr: corr, paths: map[string]attrPath{},
		groupID: map[string]string{}, groupName: map[string]string{}}
	names := accountAttributes
	if len(names) > 0 && !containsFold(names, "userName") {
		names = append(append([]string(nil), names...), "userName")
	}
	for _, n := range names {
		p, err := parseAttrPath(n)
		if err != nil {
			return nil, fmt.Errorf("account attribute %q: %w", n, err)
		}
		c.want = append(c.want, p)
		c.paths[n] = p
	}
	return c, nil
}

// IdentityAttributes: SCIM identifies a User by userName (RFC 7643
// §4.1.1), which must never be sent empty, whether or not the server
// publishes /Schemas.
func (c *Conn) IdentityAttributes() []string { return []string{"userName"} }

// Capabilities: one PATCH per group for Grant and Revoke, up to max_batch
// groups per call; a call that fails part-way may be repeated whole,
// since adding a member twice or removing a non-member is harmless.
// Create grants entitlements too (in one /Bulk) once discovery has shown
// that the target offers /Bulk, unless bulk is off.
func (c *Conn) Capabilities() connector.Capabilities {
	return connector.Capabilities{
		Read: true, Find: true, List: true, ListEntitlements: true, Delete: true,
		MaxBatch:               c.set.MaxBatch,
		CreateWithEntitlements: c.discoveredBulk(),
		EntitlementsOnRead:     !c.set.Quirks.NoGroupsOnUser && c.discoveredGroupsOnUser(),
		GatesRequests:          true, // every request goes through httpx, which calls the gate
		EntitlementsFoldCase:   c.set.EntitlementsCase == "insensitive",
	}
}

// Close releases idle connections; SCIM has no session to end.
func (c *Conn) Close(context.Context) error {
	c.http.HTTPClient().CloseIdleConnections()
	return nil
}

func (c *Conn) path(name string) (attrPath, error) {
	c.pathMu.Lock()
	defer c.pathMu.Unlock()
	if p, ok := c.paths[name]; ok {
		return p, nil
	}
	p, err := parseAttrPath(name)
	if err != nil {
		e := connector.Errorf(connector.Validation, "attribute %q: %v", name, err)
		e.Attribute = name
		return attrPath{}, e
	}
	c.paths[name] = p
	return p, nil
}

// raw sends one request and returns any answer.
func (c *Conn) raw(ctx context.Context, method, u string, body any, header ...string) (*httpx.Response, error) {
	h := http.Header{"Accept": {"application/scim+json, application/json"}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	var b []byte
	if body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return nil, connector.Errorf(connector.Validation, "cannot encode request: %v", err)
		}
		b = bytes.TrimRight(buf.Bytes(), "\n")
		h.Set("Content-Type", "application/scim+json")
	}
	return c.http.Do(ctx, httpx.Request{Method: method, URL: u, Header: h, Body: b})
}

// do sends one request and turns a non-2xx answer into an error.
func (c *Conn) do(ctx context.Context, method, u string, body any, names []string, header ...string) (*httpx.Response, error) {
	resp, err := c.raw(ctx, method, u, body, header...)
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return resp, c.failure(resp, names)
	}
	return resp, nil
}

func (c *Conn) usersURL(ctx context.Context) (string, *Schema, error) {
	s, err := c.Schema(ctx)
	if err != nil {
		return "", nil, err
	}
	return c.base + s.UserEndpoint, s, nil
}

func (c *Conn) userURL(ctx context.Context, ref connector.AccountRef) (string, *Schema, error) {
	if ref.NativeID == "" {
		return "", nil, connector.Errorf(connector.Validation, "account of %s has no native id on the target yet", ref.PersonKey)
	}
	u, s, err := c.usersURL(ctx)
	return u + "/" + url.PathEscape(ref.NativeID), s, err
}

// Create POSTs a new User. A 409 uniqueness answer comes back as kind
// conflict: the engine then correlates with Find and links. Entitlements
// asked with it are granted in the same /Bulk request (see createBulk),
// or, where the target no longer offers /Bulk, one PATCH per group
// after the POST.
func (c *Conn) Create(ctx context.Context, req connector.CreateRequest) (connector.Account, error) {
	users, s, err := c.usersURL(ctx)
	if err != nil {
		return connector.Account{}, err
	}
	body := resource{}
	names := req.Attributes.Keys()
	for _, name := range names {
		v := req.Attributes[name]
		p, err := c.path(name)
		if err != nil {
			return connector.Account{}, err
		}
		if !empty(v) {
			setValue(body, p, toJSON(v, s.lookup(p)))
		}
	}
	body["active"] = true
	ensureSchemas(body, coreUserURN)
	if len(req.Entitlements) > 0 && !c.set.bulkOff() && s.Bulk {
		return c.createBulk(ctx, s, body, names, req.Entitlements)
	}
	acct, err := c.post(ctx, users, body, names)
	if err != nil || len(req.Entitlements) == 0 {
		return acct, err
	}
	return c.grantAfterCreate(ctx, acct, req.PersonKey, req.Entitlements)
}

// post sends the create of a User on its own.
func (c *Conn) post(ctx context.Context, users string, body resource, names []string) (connector.Account, error) {
	resp, err := c.do(ctx, http.MethodPost, users, body, names, c.idempotency(ctx)...)
	if err != nil {
		return connector.Account{}, err
	}
	return c.accountFrom(ctx, resp.Body)
}

func (c *Conn) idempotency(ctx context.Context) []string {
	if k, v := c.http.IdempotencyKey(ctx); k != "" {
		return []string{k, v}
	}
	return nil
}

// Get reads one User by id.
func (c *Conn) Get(ctx context.Context, ref connector.AccountRef) (connector.Account, error) {
	u, _, err := c.userURL(ctx, ref)
	if err != nil {
		return connector.Account{}, err
	}
	r, _, err := c.get(ctx, u)
	if err != nil {
		return connector.Account{}, err
	}
	return c.account(ctx, r)
}

func (c *Conn) accountFrom(ctx context.Context, body []byte) (connector.Account, error) {
	r, err := decodeResource(body)
	if err != nil {
		return connector.Account{}, connector.Errorf(connector.Unknown, "scim: %v", err)
	}
	return c.account(ctx, r)
}

func (c *Conn) account(ctx context.Context, r resource) (connector.Account, error) {
	a := connector.Account{NativeID: str(r, "id"), Attributes: flatten(r, c.want), Active: true}
	if a.NativeID == "" {
		return a, connector.Errorf(connector.Unknown, "scim: the target answered with a User without an id")
	}
	if _, v, ok := lookup(r, "active"); ok {
		switch x := v.(type) {
		case bool:
			a.Active = x
		case string: // some targets send "False"
			a.Active = !strings.EqualFold(x, "false")
		}
	}
	if !c.groupsOnUser(ctx) {
		return a, nil // unknown (nil), not none: the engine reads the group
	}
	ents, err := c.entitlementsOf(ctx, r)
	if err != nil {
		return a, err
	}
	a.Entitlements = ents
	return a, nil
}

// get reads one resource.
func (c *Conn) get(ctx context.Context, u string) (resource, *httpx.Response, error) {
	resp, err := c.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	r, err := decodeResource(resp.Body)
	if err != nil {
		return nil, nil, connector.Errorf(connector.Unknown, "scim: %v", err)
	}
	return r, resp, nil
}

// Delete removes the User. A 404 is returned as kind not_found, which
// the engine treats as done.
func (c *Conn) Delete(ctx context.Context, ref connector.AccountRef) error {
	u, _, err := c.userURL(ctx, ref)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodDelete, u, nil, nil)
	return err
}

func sortedUnique(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
