// Package inbound is what accord accepts from HR systems that push
// workers over SCIM 2.0 (RFC 7643/7644): the User schema with the
// enterprise extension, and the declared mapping from SCIM attributes to
// the typed columns of one source. It knows nothing of HTTP or the store:
// it turns a SCIM resource into a source record and back, applies PATCH
// operations and evaluates filters. internal/api serves it.
package inbound

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Schema URNs.
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// HRSchema is accord's own extension for HR attributes the User
	// schemas have no place for (start and end dates, employee type):
	// any attribute name may be mapped under it.
	HRSchema = "urn:accord:params:scim:schemas:extension:hr:1.0:User"
)

// Config is the `inbound` block of the config file.
type Config struct {
	SCIM *SCIM `yaml:"scim"`
}

// SCIM declares inbound SCIM: which source the workers belong to, and
// which SCIM attribute fills which of its columns.
type SCIM struct {
	// Source names a source with `format: scim`.
	Source string `yaml:"source"`
	// Attributes maps a column of the source to a SCIM attribute path:
	// `email: userName`, `first_name: name.givenName`,
	// `department: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`.
	// The key column must be mapped; it is the resource's id.
	Attributes map[string]string `yaml:"attributes"`
}

// attrDef describes one attribute of a schema accord accepts.
type attrDef struct {
	name  string
	subs  []string // sub-attributes of a complex attribute
	types []string // the type values of a multi-valued attribute
}

func (d attrDef) multi() bool   { return len(d.types) > 0 }
func (d attrDef) complex() bool { return len(d.subs) > 0 }

var coreAttrs = []attrDef{
	{name: "userName"}, {name: "externalId"}, {name: "displayName"}, {name: "nickName"}, {name: "profileUrl"},
	{name: "title"}, {name: "userType"}, {name: "preferredLanguage"}, {name: "locale"}, {name: "timezone"},
	{name: "name", subs: []string{"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"}},
	{name: "emails", subs: []string{"value"}, types: []string{"work", "home", "other"}},
	{name: "phoneNumbers", subs: []string{"value"}, types: []string{"work", "home", "mobile", "fax", "pager", "other"}},
	{name: "addresses", subs: []string{"formatted", "streetAddress", "locality", "region", "postalCode", "country"}, types: []string{"work", "home", "other"}},
}

// coreOther are core attributes accord accepts in a body but never maps:
// id and meta are the server's, active is the employment itself, and
// the rest (password, groups, roles, ...) are not HR's to set here.
var coreOther = []string{"id", "meta", "schemas", "active", "password", "ims", "photos", "groups", "entitlements", "roles", "x509Certificates"}

var enterpriseAttrs = []attrDef{
	{name: "employeeNumber"}, {name: "costCenter"}, {name: "organization"}, {name: "division"}, {name: "department"},
	{name: "manager", subs: []string{"value"}},
}

// Slot is one scalar place in a User resource that a column can fill.
type Slot struct {
	Schema string // UserSchema, EnterpriseSchema or HRSchema
	Attr   string // canonical attribute name
	Type   string // a multi-valued attribute's type value ("work")
	Sub    string // sub-attribute, "" for a simple attribute
}

// String is the slot's SCIM path, as a client would write it.
func (s Slot) String() string {
	p := s.Attr
	if s.Type != "" {
		p += `[type eq "` + s.Type + `"]`
	}
	if s.Sub != "" {
		p += "." + s.Sub
	}
	if s.Schema != UserSchema {
		p = s.Schema + ":" + p
	}
	return p
}

// Error is a SCIM client error: scimType (RFC 7644 3.12) and a detail
// that names the attribute and why.
type Error struct {
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return e.Detail }

func errf(scimType, format string, args ...any) *Error {
	return &Error{ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// lookup finds an attribute of a schema by name, case-insensitively as
// SCIM names are. The HR extension takes any name a mapping declares.
func (m *Mapping) lookup(schema, name string) (attrDef, bool) {
	var defs []attrDef
	switch schema {
	case UserSchema:
		defs = coreAttrs
	case EnterpriseSchema:
		defs = enterpriseAttrs
	case HRSchema:
		for _, sl := range m.slots {
			if sl.Schema == HRSchema && strings.EqualFold(sl.Attr, name) {
				return attrDef{name: sl.Attr}, true
			}
		}
		return attrDef{}, false
	}
	for _, d := range defs {
		if strings.EqualFold(d.name, name) {
			return d, true
		}
	}
	return attrDef{}, false
}

func schemaOf(uri string) (string, bool) {
	switch {
	case uri == "", strings.EqualFold(uri, UserSchema):
		return UserSchema, true
	case strings.EqualFold(uri, EnterpriseSchema):
		return EnterpriseSchema, true
	case strings.EqualFold(uri, HRSchema):
		return HRSchema, true
	}
	return "", false
}

// selector is a parsed attribute path: a whole attribute, one type of a
// multi-valued one, or one sub-attribute.
type selector struct {
	schema string
	def    attrDef
	typ    string // "" means every type
	sub    string // "" means every sub-attribute
}

func (sel selector) matches(s Slot) bool {
	return s.Schema == sel.schema && s.Attr == sel.def.name &&
		(sel.typ == "" || sel.typ == s.Type) && (sel.sub == "" || sel.sub == s.Sub)
}

// parsePath parses a SCIM attribute path into a selector. hrAny lets
// the HR extension take a name no mapping declares yet (while the
// mapping itself is read).
func (m *Mapping) parsePath(raw string, hrAny bool) (selector, *Error) {
	p, err := filter.ParsePath([]byte(raw))
	if err != nil {
		return selector{}, errf("invalidPath", "%q is not a SCIM attribute path: %v", raw, err)
	}
	schema, ok := schemaOf(p.AttributePath.URI())
	if !ok {
		return selector{}, errf("invalidPath", "%q: unknown schema %q (known: %s, %s, %s)", raw, p.AttributePath.URI(), UserSchema, EnterpriseSchema, HRSchema)
	}
	name := p.AttributePath.AttributeName
	def, ok := m.lookup(schema, name)
	if !ok && schema == HRSchema && hrAny && validHRName(name) {
		def, ok = attrDef{name: name}, true
	}
	if !ok {
		return selector{}, errf("invalidPath", "%q: %s has no attribute %q that accord accepts", raw, schema, name)
	}
	sel := selector{schema: schema, def: def}
	sub := p.AttributePath.SubAttributeName()
	if p.ValueExpression != nil {
		if !def.multi() {
			return selector{}, errf("invalidPath", "%q: %s is not multi-valued, so it takes no [filter]", raw, def.name)
		}
		e, ok := p.ValueExpression.(*filter.AttributeExpression)
		if !ok || !strings.EqualFold(e.AttributePath.AttributeName, "type") || e.Operator != filter.EQ {
			return selector{}, errf("invalidPath", `%q: the only filter accepted on %s is [type eq "..."]`, raw, def.name)
		}
		t, _ := e.CompareValue.(string)
		if !slices.Contains(def.types, t) {
			return selector{}, errf("invalidPath", "%q: %s has no type %q (known: %s)", raw, def.name, t, strings.Join(def.types, ", "))
		}
		sel.typ = t
		sub = p.SubAttributeName()
	}
	if sub != "" {
		i := slices.IndexFunc(def.subs, func(s string) bool { return strings.EqualFold(s, sub) })
		if i < 0 {
			return selector{}, errf("invalidPath", "%q: %s has no sub-attribute %q", raw, def.name, sub)
		}
		sel.sub = def.subs[i]
	}
	return sel, nil
}

func validHRName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '_')
		if !ok {
			return false
		}
	}
	return true
}

// Mapping is a checked SCIM config bound to its source.
type Mapping struct {
	Spec   *source.Spec
	slots  map[string]Slot // column -> slot
	column map[Slot]string // slot -> column
	key    Slot
}

// KeySlot is the slot that holds the person's key: the resource's id.
func (m *Mapping) KeySlot() Slot { return m.key }

// Column returns the column a slot fills.
func (m *Mapping) Column(s Slot) (string, bool) {
	c, ok := m.column[s]
	return c, ok
}

// Slots returns the mapped slots in column order.
func (m *Mapping) Slots() []Slot {
	out := make([]Slot, 0, len(m.slots))
	for _, c := range slices.Sorted(maps.Keys(m.slots)) {
		out = append(out, m.slots[c])
	}
	return out
}

// Compile checks the SCIM config against the sources and returns the
// mapping; problems carry paths relative to `inbound.scim`.
func (c *SCIM) Compile(sources []source.Spec) (*Mapping, yamlx.Problems) {
	var ps yamlx.Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, yamlx.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	m := &Mapping{slots: map[string]Slot{}, column: map[Slot]string{}}
	var names []string
	for i := range sources {
		names = append(names, sources[i].Name)
		if sources[i].Name == c.Source {
			m.Spec = &sources[i]
		}
	}
	switch {
	case c.Source == "":
		add("source", "name the source whose persons HR sends over SCIM (a source with format: scim)")
	case m.Spec == nil:
		add("source", "no source named %q (sources: %s)", c.Source, strings.Join(names, ", "))
	case m.Spec.Format != "scim":
		add("source", "source %q has format %s; inbound SCIM needs a source of its own with format: scim, so that no file import overwrites what HR sent", c.Source, m.Spec.Format)
	}
	if len(c.Attributes) == 0 {
		add("attributes", "map at least the source's key column to a SCIM attribute, e.g. employee_id: externalId")
	}
	cols := map[string]bool{}
	if m.Spec != nil {
		for _, col := range m.Spec.Columns {
			cols[col.Name] = true
		}
	}
	for _, col := range slices.Sorted(maps.Keys(c.Attributes)) {
		path := "attributes." + col
		raw := c.Attributes[col]
		if m.Spec != nil && !cols[col] {
			add(path, "source %q has no column %q", c.Source, col)
			continue
		}
		sel, err := m.parsePath(raw, true)
		if err != nil {
			add(path, "%s", err.Detail)
			continue
		}
		if sel.def.complex() && sel.sub == "" || sel.def.multi() && sel.typ == "" {
			add(path, "%q names more than one value; name one, such as %s", raw, example(sel))
			continue
		}
		sl := Slot{Schema: sel.schema, Attr: sel.def.name, Type: sel.typ, Sub: sel.sub}
		if prev, dup := m.column[sl]; dup {
			add(path, "%s is mapped to column %q already", sl, prev)
			continue
		}
		m.slots[col] = sl
		m.column[sl] = col
	}
	if m.Spec != nil {
		if sl, ok := m.slots[m.Spec.Key]; ok {
			m.key = sl
		} else if len(c.Attributes) > 0 {
			add("attributes", "the key column %q must be mapped (it is the SCIM id); externalId or employeeNumber are usual", m.Spec.Key)
		}
	}
	return m, ps
}

func example(sel selector) string {
	s := Slot{Schema: sel.schema, Attr: sel.def.name, Type: sel.typ, Sub: sel.sub}
	if sel.def.multi() && s.Type == "" {
		s.Type = sel.def.types[0]
	}
	if sel.def.complex() && s.Sub == "" {
		s.Sub = sel.def.subs[0]
		if slices.Contains(sel.def.subs, "value") {
			s.Sub = "value"
		}
	}
	return s.String()
}
