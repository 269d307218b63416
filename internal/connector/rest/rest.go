// Package rest is the generic web-services connector, registered as
// connector type "rest": a target whose API is JSON over HTTP but not
// SCIM is connected with configuration alone. Each operation is a
// request template rendered per action (a grant of nine groups is nine
// requests to nine URLs), escaped by position so that no value can
// change a request's shape; answers are read with JSONPath. See
// Settings for the configuration.
package rest

import (
	"context"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/yamlx"
)

func init() {
	connector.Register("rest", connector.Settled(check, func(s Settings, spec connector.Spec) (connector.Connector, error) {
		return New(s, spec.AccountAttributes, httpx.WithSessionStore(spec.Sessions, spec.Target, spec.Logger))
	}))
}

// check decodes and validates settings without touching the target.
// Problem paths are relative to the settings node.
func check(node *yaml.Node, env connector.CheckEnv) (Settings, yamlx.Problems) {
	var s Settings
	ps := yamlx.Decode(node, &s, "")
	_, more := validate(&s, yamlx.Lines(node, ""), env.AccountAttributes)
	ps = append(ps, more...)
	ps = append(ps, s.Config.Check(node, "")...)
	ps.Sort()
	return s, ps
}

// validate compiles every template and path of s.
func validate(s *Settings, lines map[string]int, attrs []string) (*compiled, yamlx.Problems) {
	c := &compiler{lines: lines, attrs: attrs}
	if s.URL == "" {
		c.add("url", "is required: the base URL of the API, e.g. https://api.example.com/v1")
	} else if err := httpx.CheckURL(s.URL); err != nil {
		c.add("url", "%v", err)
	}
	switch s.EntitlementsCase {
	case "", "sensitive", "insensitive":
	default:
		c.add("entitlements_case", "must be sensitive or insensitive, not %q", s.EntitlementsCase)
	}
	out := c.compile(s)
	return out, c.ps
}

// Conn is one configured REST target. It is safe for concurrent use.
type Conn struct {
	cp       *compiled
	http     *httpx.Client
	attrs    []string // the account mapping's names: what reads return
	keyQuery string   // the API key's query parameter, kept out of cursors
	foldCase bool     // entitlements_case: insensitive
}

var _ connector.Connector = (*Conn)(nil)

// New builds a connector from settings. accountAttributes are the names
// the account mapping produces: templates may read them and reads
// return them.
func New(s Settings, accountAttributes []string, opts ...httpx.Option) (*Conn, error) {
	cp, ps := validate(&s, nil, accountAttributes)
	ps = append(ps, s.Config.Check(nil, "")...)
	if len(ps) > 0 {
		ps.Sort()
		return nil, ps
	}
	opts = append([]httpx.Option{httpx.WithBaseURL(cp.base)}, opts...)
	hc, err := httpx.New(s.Config, opts...)
	if err != nil {
		return nil, err
	}
	c := &Conn{cp: cp, http: hc, attrs: accountAttributes, foldCase: s.EntitlementsCase == "insensitive"}
	if s.Auth.Type == httpx.AuthAPIKey {
		c.keyQuery = s.Auth.Query
	}
	return c, nil
}

// IdentityAttributes are the attributes find matches accounts by: the
// target's user name, which must never be sent empty.
func (c *Conn) IdentityAttributes() []string {
	if f := c.cp.ops[opFind]; f != nil {
		return f.match
	}
	return nil
}

// Capabilities follow from the operations configured.
func (c *Conn) Capabilities() connector.Capabilities {
	has := func(name string) bool { return c.cp.ops[name] != nil }
	caps := connector.Capabilities{
		Read: has(opGet), Find: has(opFind), List: has(opListAccounts),
		ListEntitlements: has(opListEntitlements), Delete: has(opDelete), MaxBatch: 1,
		GatesRequests:        true, // every request goes through httpx, which calls the gate
		EntitlementsFoldCase: c.foldCase,
	}
	for _, name := range []string{opGrant, opRevoke} {
		if o := c.cp.ops[name]; o != nil && o.batch > caps.MaxBatch {
			caps.MaxBatch = o.batch
		}
	}
	if o := c.cp.ops[opCreate]; o != nil {
		caps.CreateWithEntitlements = o.withEnts
	}
	if g := c.cp.ops[opGet]; g != nil && g.read.ents != nil {
		l := c.cp.ops[opListAccounts]
		caps.EntitlementsOnRead = l == nil || l.read.ents != nil
	}
	return caps
}

// Close logs out of a session auth's session and releases connections.
func (c *Conn) Close(ctx context.Context) error {
	return c.http.Close(ctx)
}

func (c *Conn) op(name string) (*op, error) {
	if o := c.cp.ops[name]; o != nil {
		return o, nil
	}
	return nil, connector.Errorf(connector.Unsupported, "rest: operation %s is not configured for this target", name)
}
