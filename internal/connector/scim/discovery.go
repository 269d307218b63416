package scim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/connector"
)

// Schema is what the target says about itself (RFC 7644 §4): read once,
// on first use, from /ServiceProviderConfig, /Schemas and /ResourceTypes,
// each where offered.
type Schema struct {
	// Offered reports which discovery endpoints answered.
	ConfigOffered, SchemasOffered, ResourceTypesOffered bool

	// Features from /ServiceProviderConfig; true where unknown, since the
	// RFC makes PATCH and filtering the norm.
	Patch, Filter bool
	// ETag is false unless the target declares it.
	ETag bool
	// FilterMaxResults is the most a filtered query returns, 0 if unknown.
	FilterMaxResults int
	// Bulk is false unless the target declares /Bulk supported; its
	// limits are 0 where it gives none.
	Bulk                              bool
	BulkMaxOperations, BulkMaxPayload int

	// Endpoints of the User and Group resource types, relative to the
	// base URL.
	UserEndpoint, GroupEndpoint string
	// UserExtensions are the schema extensions of the User resource type.
	UserExtensions []string

	// Attributes by schema URN (as the target spells it).
	Attributes map[string][]Attribute

	// userGroups: the User schema declares groups, or is not offered
	// (the RFC's User is assumed). Set once the schema is read: every
	// request's capabilities ask it.
	userGroups bool
}

// Attribute is one attribute definition from /Schemas (RFC 7643 §7).
type Attribute struct {
	Name            string      `json:"name"`
	Type            string      `json:"type"`
	MultiValued     bool        `json:"multiValued"`
	Required        bool        `json:"required"`
	CaseExact       bool        `json:"caseExact"`
	Mutability      string      `json:"mutability"`
	Returned        string      `json:"returned"`
	Uniqueness      string      `json:"uniqueness"`
	CanonicalValues []string    `json:"canonicalValues"`
	SubAttributes   []Attribute `json:"subAttributes"`
}

func defaultSchema() *Schema {
	return &Schema{Patch: true, Filter: true, UserEndpoint: "/Users", GroupEndpoint: "/Groups", Attributes: map[string][]Attribute{}, userGroups: true}
}

// Lookup finds the definition of a flat account attribute name such as
// `emails[type eq "work"].value`: the sub-attribute's definition where
// the name has one. ok is false when the target did not declare it.
func (s *Schema) Lookup(name string) (Attribute, bool) {
	p, err := parseAttrPath(name)
	if err != nil {
		return Attribute{}, false
	}
	a := s.lookup(p)
	if a == nil {
		return Attribute{}, false
	}
	return *a, true
}

func (s *Schema) lookup(p attrPath) *Attribute {
	if s == nil {
		return nil
	}
	urn := p.urn
	if urn == "" {
		urn = coreUserURN
	}
	for schemaID, attrs := range s.Attributes {
		if !strings.EqualFold(schemaID, urn) {
			continue
		}
		a := findAttr(attrs, p.attr)
		if a == nil || p.sub == "" {
			return a
		}
		return findAttr(a.SubAttributes, p.sub)
	}
	return nil
}

func findAttr(attrs []Attribute, name string) *Attribute {
	for i := range attrs {
		if strings.EqualFold(attrs[i].Name, name) {
			return &attrs[i]
		}
	}
	return nil
}

// DefaultDiscoveryRefresh is how often what a target says about itself
// is read again (discovery_refresh): a target's schema changes with its
// releases, not between requests.
const DefaultDiscoveryRefresh = time.Hour

// discovery is the state of a connector's discovery: one in flight at a
// time, shared by every caller.
type discovery struct {
	schema *Schema
	at     time.Time     // when schema was read
	flight chan struct{} // closed when the discovery in flight ends
	err    error         // the outcome of the last flight, for its waiters
	// notBefore: the last flight was refused with a Retry-After; none
	// starts before it ends, whoever calls (a caller without the
	// engine's pacing in its context included).
	notBefore time.Time
}

// Schema returns what the target declared about itself. Discovery runs
// once per target, single-flight: concurrent callers wait for the one
// discovery in flight and share its result (a failure too; the next
// call tries again), its requests are paced like any other (they pass
// the gate in ctx), and a schema older than discovery_refresh is read
// again in the background while callers go on with the one they have.
func (c *Conn) Schema(ctx context.Context) (*Schema, error) {
	if !c.set.discover() {
		return defaultSchema(), nil
	}
	for {
		c.discMu.Lock()
		d := &c.disc
		if d.schema != nil {
			s := d.schema
			if time.Since(d.at) >= c.set.discoveryRefresh() && d.flight == nil {
				c.startDiscovery(ctx)
			}
			c.discMu.Unlock()
			return s, nil
		}
		if d.flight == nil {
			if wait := time.Until(d.notBefore); wait > 0 {
				c.discMu.Unlock()
				err := connector.Errorf(connector.RateLimited, "discovery of %s: the target asked to wait %s", c.base, wait.Round(time.Millisecond))
				err.RetryAfter = wait
				return nil, err
			}
			c.startDiscovery(ctx)
		}
		flight := d.flight
		c.discMu.Unlock()
		select {
		case <-flight:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c.discMu.Lock()
		s, err := d.schema, d.err
		c.discMu.Unlock()
		if s != nil {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// startDiscovery starts the one discovery in flight. It runs with the
// starting caller's pacing and audit call, but not its cancellation:
// the others wait for it too. Called with discMu held.
func (c *Conn) startDiscovery(ctx context.Context) {
	flight := make(chan struct{})
	c.disc.flight = flight
	dctx := context.WithoutCancel(ctx)
	go func() {
		s, err := c.discoverAll(dctx)
		c.discMu.Lock()
		defer c.discMu.Unlock()
		var ce *connector.Error
		switch {
		case err == nil:
			c.disc.schema, c.disc.at = s, time.Now()
		case errors.As(err, &ce) && ce.RetryAfter > 0:
			c.disc.notBefore = time.Now().Add(ce.RetryAfter)
		}
		c.disc.err, c.disc.flight = err, nil
		close(flight)
	}()
}

// discoverAll reads the three discovery endpoints.
func (c *Conn) discoverAll(ctx context.Context) (*Schema, error) {
	s := defaultSchema()
	var spc struct {
		Patch  struct{ Supported bool } `json:"patch"`
		Filter struct {
			Supported  bool `json:"supported"`
			MaxResults int  `json:"maxResults"`
		} `json:"filter"`
		ETag struct{ Supported bool } `json:"etag"`
		Bulk struct {
			Supported      bool `json:"supported"`
			MaxOperations  int  `json:"maxOperations"`
			MaxPayloadSize int  `json:"maxPayloadSize"`
		} `json:"bulk"`
	}
	ok, err := c.discover(ctx, "/ServiceProviderConfig", &spc)
	if err != nil {
		return nil, err
	}
	if ok {
		s.ConfigOffered = true
		s.Patch, s.Filter, s.ETag, s.FilterMaxResults = spc.Patch.Supported, spc.Filter.Supported, spc.ETag.Supported, spc.Filter.MaxResults
		s.Bulk, s.BulkMaxOperations, s.BulkMaxPayload = spc.Bulk.Supported, max(spc.Bulk.MaxOperations, 0), max(spc.Bulk.MaxPayloadSize, 0)
	}

	var schemas []struct {
		ID         string      `json:"id"`
		Attributes []Attribute `json:"attributes"`
	}
	if ok, err = c.discoverList(ctx, "/Schemas", &schemas); err != nil {
		return nil, err
	}
	if ok {
		s.SchemasOffered = true
		for _, sc := range schemas {
			s.Attributes[sc.ID] = sc.Attributes
		}
		s.userGroups = s.userSchemaHasGroups()
	}

	var types []struct {
		Name       string `json:"name"`
		Endpoint   string `json:"endpoint"`
		Schema     string `json:"schema"`
		Extensions []struct {
			Schema string `json:"schema"`
		} `json:"schemaExtensions"`
	}
	if ok, err = c.discoverList(ctx, "/ResourceTypes", &types); err != nil {
		return nil, err
	}
	if ok {
		s.ResourceTypesOffered = true
		for _, t := range types {
			ep := "/" + strings.TrimPrefix(t.Endpoint, "/")
			switch {
			case strings.EqualFold(t.Schema, coreUserURN) && t.Endpoint != "":
				s.UserEndpoint = ep
				for _, e := range t.Extensions {
					s.UserExtensions = append(s.UserExtensions, e.Schema)
				}
			case strings.EqualFold(t.Schema, coreGroupURN) && t.Endpoint != "":
				s.GroupEndpoint = ep
			}
		}
	}
	return s, nil
}

// discover GETs one discovery endpoint. An endpoint the target does not
// offer (any 4xx but 401 and 403) is not an error; an outage or refused
// credentials are, and discovery is tried again on the next call.
func (c *Conn) discover(ctx context.Context, path string, into any) (bool, error) {
	resp, err := c.raw(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return false, err
	}
	if !resp.OK() {
		if resp.Status >= 400 && resp.Status < 500 && resp.Status != 401 && resp.Status != 403 && resp.Status != 429 {
			return false, nil
		}
		return false, c.failure(resp, nil)
	}
	if err := json.Unmarshal(resp.Body, into); err != nil {
		return false, nil
	}
	return true, nil
}

// discoverList reads a ListResponse, or the bare array some targets
// answer with.
func (c *Conn) discoverList(ctx context.Context, path string, into any) (bool, error) {
	var raw json.RawMessage
	ok, err := c.discover(ctx, path, &raw)
	if !ok || err != nil {
		return ok, err
	}
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
		return json.Unmarshal(raw, into) == nil, nil
	}
	var lr struct {
		Resources json.RawMessage `json:"Resources"`
	}
	if json.Unmarshal(raw, &lr) != nil || lr.Resources == nil {
		return false, nil
	}
	return json.Unmarshal(lr.Resources, into) == nil, nil
}
