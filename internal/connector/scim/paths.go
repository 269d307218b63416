package scim

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	filter "github.com/scim2/filter-parser/v2"
)

// Schema URNs accord writes.
const (
	coreUserURN  = "urn:ietf:params:scim:schemas:core:2.0:User"
	coreGroupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchOpURN   = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listURN      = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	enterpriseNS = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// attrPath is one flat account attribute name, as the account mapping
// produces it, in one of the forms:
//
//	userName                      a simple attribute
//	name.givenName                a sub-attribute of a complex attribute
//	emails[type eq "work"].value  one value of a multi-valued attribute
//	urn:…:enterprise:2.0:User:employeeNumber   any of these in an extension
type attrPath struct {
	name   string // as the mapping spells it
	urn    string // extension schema URN; "" for the core User schema
	attr   string
	sub    string // sub-attribute; "value" is implied after a filter
	fAttr  string // value filter: attr[fAttr eq "fValue"]
	fValue string
}

// parsedPaths caches parseAttrPath: a mapping has a handful of attribute
// names, parsed again for every person planned and every request, and the
// filter parser costs far more than the lookup.
var parsedPaths sync.Map // name -> attrPath

// parseAttrPath reads a flat name. Only what accord can write and read
// back unambiguously is accepted: a value filter must be one equality on
// a sub-attribute with a string value.
func parseAttrPath(name string) (attrPath, error) {
	if p, ok := parsedPaths.Load(name); ok {
		return p.(attrPath), nil
	}
	p, err := parseAttrPathUncached(name)
	if err == nil {
		parsedPaths.Store(name, p)
	}
	return p, err
}

func parseAttrPathUncached(name string) (attrPath, error) {
	p, err := filter.ParsePath([]byte(name))
	if err != nil {
		return attrPath{}, fmt.Errorf("not a SCIM attribute path: %v", err)
	}
	ap := attrPath{name: name, attr: p.AttributePath.AttributeName, urn: extURN(p.AttributePath.URI())}
	ap.sub = p.AttributePath.SubAttributeName()
	if p.ValueExpression != nil {
		ae, ok := p.ValueExpression.(*filter.AttributeExpression)
		if !ok || ae.Operator != filter.EQ || ae.AttributePath.SubAttribute != nil || ae.AttributePath.URIPrefix != nil {
			return attrPath{}, fmt.Errorf("a value filter must be a single equality such as emails[type eq \"work\"].value")
		}
		raw, ok := ae.CompareValue.(string)
		if !ok {
			return attrPath{}, fmt.Errorf("a value filter must compare with a string such as \"work\"")
		}
		v, err := unquote(raw)
		if err != nil {
			return attrPath{}, err
		}
		ap.fAttr, ap.fValue = ae.AttributePath.AttributeName, v
		ap.sub = p.SubAttributeName()
		if ap.sub == "" {
			ap.sub = "value"
		}
	}
	return ap, nil
}

// extURN is urn unless it names the core User schema, whose attributes
// are written without it.
func extURN(urn string) string {
	if strings.EqualFold(urn, coreUserURN) {
		return ""
	}
	return urn
}

func (p attrPath) filtered() bool { return p.fAttr != "" }

// patchPath is the path of p in a PATCH operation.
func (p attrPath) patchPath() string {
	s := p.attr
	if p.urn != "" {
		s = p.urn + ":" + s
	}
	if p.filtered() {
		s += "[" + p.fAttr + " eq " + quote(p.fValue) + "]"
	}
	if p.sub != "" {
		s += "." + p.sub
	}
	return s
}

// removePath is what a PATCH removes when p's value goes away. Removing
// only .value from emails[type eq "work"] would leave a typed element
// without a value, which targets reject or show as an empty address.
func (p attrPath) removePath() string {
	if p.filtered() && strings.EqualFold(p.sub, "value") {
		q := p
		q.sub = ""
		return q.patchPath()
	}
	return p.patchPath()
}

// container is the attribute p's complex value lives under, for PATCH
// "add" with a whole element.
func (p attrPath) container() string {
	if p.urn != "" {
		return p.urn + ":" + p.attr
	}
	return p.attr
}

// key identifies p whatever the spelling: SCIM names are case-insensitive,
// and so are the canonical values used in value filters (type "work").
func (p attrPath) key() string {
	return strings.ToLower(p.urn + "|" + p.attr + "|" + p.fAttr + "|" + p.fValue + "|" + p.sub)
}

// quote renders s as a SCIM filter string, which is a JSON string.
// Only what JSON requires is escaped: '/' and non-ASCII text travel as
// they are, which every parser we know reads.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				// Upper-case hex: the RFC grammar's HEXDIG, which is all
				// that filter-parser accepts.
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// needsEscape reports whether quote(s) escapes anything.
func needsEscape(s string) bool { return quote(s) != `"`+s+`"` }

// unquote decodes the body of a filter string as the parser hands it
// over (still escaped, without the quotes).
func unquote(raw string) (string, error) {
	var s string
	if err := json.Unmarshal([]byte(`"`+raw+`"`), &s); err != nil {
		return "", fmt.Errorf("bad string in filter: %v", err)
	}
	return s, nil
}
