// Package ldap is the LDAP directory connector (go-ldap v3), registered
// as connector type "ldap". It speaks to OpenLDAP by default; a flavour
// (Settings.Flavour, see Flavour) adapts it to another server. See
// Settings for its configuration.
package ldap

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/tmpl"
)

func init() {
	connector.Register("ldap", connector.Settled(check, func(s Settings, spec connector.Spec) (connector.Connector, error) {
		return New(s, spec.AccountAttributes, spec.Logger)
	}))
}

// Conn is one configured directory. It is safe for concurrent use.
type Conn struct {
	set     Settings
	flavour Flavour
	pool    *pool
	log     *slog.Logger

	dn    *tmpl.Template
	find  *tmpl.Template
	attrs []string // the account mapping's attribute names
	// fromDN: attributes whose value is a whole RDN value of the DN
	// template, by RDN index, read back from the DN.
	fromDN     map[string]int
	multi      map[string]bool
	binary     map[string]bool
	notWritten map[string]bool

	listMu   sync.Mutex
	listings map[string]*listing

	groups groupCache // groups.by other than dn: names <-> DNs
}

var (
	_ connector.Connector = (*Conn)(nil)
)

// New builds a connector from checked settings; it does not connect yet.
func New(s Settings, accountAttributes []string, log *slog.Logger) (*Conn, error) {
	s = s.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	fl, err := newFlavour(s)
	if err != nil {
		return nil, err
	}
	env := templateEnv(accountAttributes)
	c := &Conn{set: s, flavour: fl, log: log, attrs: slices.Clone(accountAttributes),
		multi: set(s.MultiValued), binary: set(s.Binary), notWritten: set(s.NotWritten),
		listings: map[string]*listing{}}
	if c.dn, err = tmpl.Parse(s.DN, env); err != nil {
		return nil, fmt.Errorf("dn: %w", err)
	}
	findSrc := s.Find
	if findSrc == "" {
		findSrc = defaultFind(s.DN, accountAttributes)
	}
	if findSrc != "" {
		if c.find, err = tmpl.Parse(findSrc, env); err != nil {
			return nil, fmt.Errorf("find: %w", err)
		}
	}
	c.fromDN = rdnHoles(c.dn, accountAttributes)
	if c.pool, err = newPool(s, c.wrapError); err != nil {
		return nil, err
	}
	return c, nil
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

// rdnHoles finds the attributes that make a whole RDN value of the DN
// template, by rendering it with a marker for each and parsing the DN.
func rdnHoles(t *tmpl.Template, names []string) map[string]int {
	probe := make(map[string]any, len(names))
	back := map[string]string{}
	for i, n := range names {
		m := fmt.Sprintf("accordprobe%dx", i)
		probe[n] = m
		back[m] = n
	}
	out := map[string]int{}
	s, err := t.Render(probe, EscapeRDN)
	if err != nil {
		return out
	}
	dn, err := goldap.ParseDN(s)
	if err != nil {
		return out
	}
	for i, rdn := range dn.RDNs {
		if len(rdn.Attributes) == 1 {
			if n, ok := back[rdn.Attributes[0].Value]; ok {
				out[n] = i
			}
		}
	}
	return out
}

// Settings returns the connector's settings, defaults applied (for
// flavours).
func (c *Conn) Settings() Settings { return c.set }

// MaxBatch is how many groups one Grant or Revoke takes: the account is
// looked up once, then each group is modified.
const MaxBatch = 20

// Capabilities implements connector.Connector.
func (c *Conn) Capabilities() connector.Capabilities {
	return connector.Capabilities{
		Read: true, Find: c.find != nil, List: true, ListEntitlements: true,
		Delete: true, MaxBatch: MaxBatch, EntitlementsOnRead: c.set.Groups.Read == "member_of" || c.set.Groups.Read == "group",
		GatesRequests: true,
		// DNs and group names (cn, sAMAccountName) match without regard
		// to letter case in LDAP and Active Directory.
		EntitlementsFoldCase: true,
	}
}

// Close implements connector.Connector.
func (c *Conn) Close(context.Context) error {
	c.pool.close()
	c.listMu.Lock()
	for k, l := range c.listings {
		if l.conn != nil {
			_ = l.conn.Close()
		}
		delete(c.listings, k)
	}
	c.listMu.Unlock()
	return nil
}

// AccountDN renders the DN template for attrs, each value RDN-escaped.
func (c *Conn) AccountDN(attrs model.Attributes) (string, error) {
	env := make(map[string]any, len(c.attrs))
	for _, n := range c.attrs {
		env[n] = nil
	}
	for k, v := range attrs {
		env[k] = v
	}
	dn, err := c.dn.Render(env, EscapeRDN)
	if err != nil {
		return "", connector.Errorf(connector.Validation, "dn template: %v", err)
	}
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return "", connector.Errorf(connector.Validation, "dn template gave %q, not a DN: %v", dn, err)
	}
	for _, rdn := range parsed.RDNs {
		for _, a := range rdn.Attributes {
			if a.Value == "" {
				return "", connector.Errorf(connector.Validation, "dn template gave %q: the value of %s is empty", dn, a.Type)
			}
		}
	}
	return dn, nil
}

// readAttributes are the attributes every account search asks for.
func (c *Conn) readAttributes() []string {
	out := []string{c.flavour.IDAttribute(), c.flavour.DeltaAttribute()}
	for _, n := range c.attrs {
		if !c.notWritten[strings.ToLower(n)] {
			out = append(out, n)
		}
	}
	out = append(out, c.flavour.ReadAttributes()...)
	if c.set.DisableAttribute != nil {
		out = append(out, c.set.DisableAttribute.Name)
	}
	if c.set.Groups.Read == "member_of" {
		out = append(out, "memberOf")
	}
	return out
}

// values turns an attribute value into LDAP values; nil means none.
func (c *Conn) values(name string, v any) ([]string, error) {
	var vals []string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []string:
		vals = x
	case bool:
		if x {
			vals = []string{"TRUE"}
		} else {
			vals = []string{"FALSE"}
		}
	default:
		s := model.FormatValue(v)
		if s == "" {
			return nil, nil
		}
		vals = []string{s}
	}
	out := make([]string, 0, len(vals))
	for _, s := range vals {
		if s == "" {
			continue
		}
		if c.binary[strings.ToLower(name)] {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, connector.Errorf(connector.Validation, "attribute %s is binary: its value must be base64: %v", name, err)
			}
			s = string(b)
		}
		out = append(out, s)
	}
	return out, nil
}

// entryValues reads an attribute of an entry as accord holds it.
func (c *Conn) entryValues(e *goldap.Entry, name string) []string {
	if c.binary[strings.ToLower(name)] {
		var out []string
		for _, a := range e.Attributes {
			if strings.EqualFold(a.Name, name) {
				for _, b := range a.ByteValues {
					out = append(out, base64.StdEncoding.EncodeToString(b))
				}
			}
		}
		return out
	}
	return e.GetEqualFoldAttributeValues(name)
}

// toAccount reads an entry as an account; its entitlements are group
// DNs until withGroups names them.
func (c *Conn) toAccount(e *goldap.Entry) connector.Account {
	a := connector.Account{
		NativeID:   c.flavour.ID(e),
		Link:       map[string]string{"dn": e.DN},
		Attributes: model.Attributes{},
		Active:     c.active(e),
	}
	var dn *goldap.DN
	for _, n := range c.attrs {
		if c.notWritten[strings.ToLower(n)] {
			if i, ok := c.fromDN[n]; ok {
				if dn == nil {
					dn, _ = goldap.ParseDN(e.DN)
				}
				if dn != nil && i < len(dn.RDNs) && len(dn.RDNs[i].Attributes) == 1 {
					a.Attributes[n] = dn.RDNs[i].Attributes[0].Value
				}
			}
			continue
		}
		vals := c.entryValues(e, n)
		switch {
		case c.multi[strings.ToLower(n)]:
			if len(vals) > 0 {
				a.Attributes[n] = vals
			}
		case len(vals) > 0:
			a.Attributes[n] = vals[0]
		}
	}
	if c.set.Groups.Read == "member_of" {
		// Group DNs; withGroups names them.
		a.Entitlements = append([]string{}, e.GetEqualFoldAttributeValues("memberOf")...)
	}
	return a
}

// active reads whether an account is enabled: the flavour's say, else
// no disable_attribute and not under leavers_base.
func (c *Conn) active(e *goldap.Entry) bool {
	if act, known := c.flavour.Active(e); known {
		return act && !c.inLeavers(e.DN)
	}
	if d := c.set.DisableAttribute; d != nil && len(e.GetEqualFoldAttributeValues(d.Name)) > 0 {
		return false
	}
	return !c.inLeavers(e.DN)
}

func (c *Conn) inLeavers(dn string) bool {
	return c.set.LeaversBase != "" && under(dn, c.set.LeaversBase)
}

// under reports whether dn is base or below it.
func under(dn, base string) bool {
	d, err1 := goldap.ParseDN(dn)
	b, err2 := goldap.ParseDN(base)
	if err1 != nil || err2 != nil {
		return false
	}
	return b.Equal(d) || b.AncestorOfFold(d)
}

// sameDN compares DNs as the directory does (attribute types and values
// without regard to case).
func sameDN(a, b string) bool {
	x, err1 := goldap.ParseDN(a)
	y, err2 := goldap.ParseDN(b)
	if err1 != nil || err2 != nil {
		return strings.EqualFold(a, b)
	}
	return x.EqualFold(y)
}
