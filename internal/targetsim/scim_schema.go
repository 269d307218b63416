package targetsim

import (
	"strings"
)

// SCIM schema and message URNs (RFC 7643, RFC 7644).
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

	msgList   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	msgPatch  = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	msgError  = "urn:ietf:params:scim:api:messages:2.0:Error"
	msgSearch = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

type attrType string

const (
	tString    attrType = "string"
	tBoolean   attrType = "boolean"
	tDecimal   attrType = "decimal"
	tInteger   attrType = "integer"
	tDateTime  attrType = "dateTime"
	tReference attrType = "reference"
	tComplex   attrType = "complex"
	tBinary    attrType = "binary"
)

// attrDef is one attribute of a schema. The same definitions drive input
// validation, filter semantics (caseExact) and the /Schemas document, so
// what the sim enforces is exactly what it advertises.
type attrDef struct {
	Name       string
	Type       attrType
	Multi      bool
	Required   bool
	CaseExact  bool
	Mutability string // readWrite, readOnly, immutable, writeOnly
	Returned   string // default, always, never, request
	Uniqueness string // none, server
	RefTypes   []string
	Canonical  []string
	Sub        []*attrDef

	subIdx map[string]*attrDef
}

func (a *attrDef) sub(name string) *attrDef {
	if a == nil {
		return nil
	}
	return a.subIdx[strings.ToLower(name)]
}

func (a *attrDef) readOnly() bool { return a.Mutability == "readOnly" }

type schemaDef struct {
	ID          string
	Name        string
	Description string
	Attrs       []*attrDef
	// open schemas accept attributes they do not define; the enterprise
	// extension is open so that demos can map custom fields into it.
	open bool
	idx  map[string]*attrDef
}

func (s *schemaDef) attr(name string) *attrDef {
	if s == nil {
		return nil
	}
	return s.idx[strings.ToLower(name)]
}

func indexSchema(s *schemaDef) *schemaDef {
	s.idx = make(map[string]*attrDef, len(s.Attrs))
	for _, a := range s.Attrs {
		indexAttr(a)
		s.idx[strings.ToLower(a.Name)] = a
	}
	return s
}

func indexAttr(a *attrDef) {
	if a.Mutability == "" {
		a.Mutability = "readWrite"
	}
	if a.Returned == "" {
		a.Returned = "default"
	}
	if a.Uniqueness == "" {
		a.Uniqueness = "none"
	}
	if len(a.Sub) == 0 {
		return
	}
	a.subIdx = make(map[string]*attrDef, len(a.Sub))
	for _, s := range a.Sub {
		indexAttr(s)
		a.subIdx[strings.ToLower(s.Name)] = s
	}
}

type attrOpt func(*attrDef)

func required(a *attrDef)  { a.Required = true }
func caseExact(a *attrDef) { a.CaseExact = true }
func multi(a *attrDef)     { a.Multi = true }
func readOnly(a *attrDef)  { a.Mutability = "readOnly" }
func immutable(a *attrDef) { a.Mutability = "immutable" }
func writeOnly(a *attrDef) { a.Mutability = "writeOnly"; a.Returned = "never" }
func serverUnique(a *attrDef) {
	a.Uniqueness = "server"
}
func refs(types ...string) attrOpt { return func(a *attrDef) { a.RefTypes = types } }
func canonical(values ...string) attrOpt {
	return func(a *attrDef) { a.Canonical = values }
}

func attr(name string, t attrType, opts ...attrOpt) *attrDef {
	a := &attrDef{Name: name, Type: t}
	for _, o := range opts {
		o(a)
	}
	return a
}

func complexAttr(name string, subs []*attrDef, opts ...attrOpt) *attrDef {
	a := attr(name, tComplex, opts...)
	a.Sub = subs
	return a
}

// multiValue builds the usual value/display/type/primary shape of a
// multi-valued complex attribute such as emails or phoneNumbers.
func multiValue(name string, valueType attrType, types ...string) *attrDef {
	return complexAttr(name, []*attrDef{
		attr("value", valueType),
		attr("display", tString),
		attr("type", tString, canonical(types...)),
		attr("primary", tBoolean),
	}, multi)
}

func memberSubs(refTypes ...string) []*attrDef {
	return []*attrDef{
		attr("value", tString, immutable, caseExact),
		attr("$ref", tReference, immutable, refs(refTypes...)),
		attr("display", tString),
		attr("type", tString, immutable, canonical("User", "Group")),
	}
}

var userSchema = indexSchema(&schemaDef{
	ID: SchemaUser, Name: "User", Description: "User Account",
	Attrs: []*attrDef{
		attr("userName", tString, required, serverUnique),
		complexAttr("name", []*attrDef{
			attr("formatted", tString),
			attr("familyName", tString),
			attr("givenName", tString),
			attr("middleName", tString),
			attr("honorificPrefix", tString),
			attr("honorificSuffix", tString),
		}),
		attr("displayName", tString),
		attr("nickName", tString),
		attr("profileUrl", tReference, refs("external")),
		attr("title", tString),
		attr("userType", tString),
		attr("preferredLanguage", tString),
		attr("locale", tString),
		attr("timezone", tString),
		attr("active", tBoolean),
		attr("password", tString, writeOnly),
		multiValue("emails", tString, "work", "home", "other"),
		multiValue("phoneNumbers", tString, "work", "home", "mobile", "fax", "pager", "other"),
		complexAttr("addresses", []*attrDef{
			attr("formatted", tString),
			attr("streetAddress", tString),
			attr("locality", tString),
			attr("region", tString),
			attr("postalCode", tString),
			attr("country", tString),
			attr("type", tString, canonical("work", "home", "other")),
			attr("primary", tBoolean),
		}, multi),
		complexAttr("groups", []*attrDef{
			attr("value", tString, readOnly, caseExact),
			attr("$ref", tReference, readOnly, refs("User", "Group")),
			attr("display", tString, readOnly),
			attr("type", tString, readOnly, canonical("direct", "indirect")),
		}, multi, readOnly),
		multiValue("entitlements", tString),
		multiValue("roles", tString),
	},
})

var groupSchema = indexSchema(&schemaDef{
	ID: SchemaGroup, Name: "Group", Description: "Group",
	Attrs: []*attrDef{
		attr("displayName", tString, required, serverUnique),
		complexAttr("members", memberSubs("User", "Group"), multi),
	},
})

var enterpriseSchema = indexSchema(&schemaDef{
	ID: SchemaEnterprise, Name: "EnterpriseUser", Description: "Enterprise User",
	open: true,
	Attrs: []*attrDef{
		attr("employeeNumber", tString),
		attr("costCenter", tString),
		attr("organization", tString),
		attr("division", tString),
		attr("department", tString),
		complexAttr("manager", []*attrDef{
			attr("value", tString, caseExact),
			attr("$ref", tReference, refs("User")),
			attr("displayName", tString, readOnly),
		}),
	},
})

// resourceType ties an endpoint to its core schema and extensions.
type resourceType struct {
	Name     string
	Endpoint string
	core     *schemaDef
	exts     []*schemaDef
	// uniqueAttr is the core attribute whose folded value must be unique.
	uniqueAttr string
}

func (rt *resourceType) ext(urn string) *schemaDef {
	for _, e := range rt.exts {
		if strings.EqualFold(e.ID, urn) {
			return e
		}
	}
	return nil
}

var (
	userType  = &resourceType{Name: "User", Endpoint: "/Users", core: userSchema, exts: []*schemaDef{enterpriseSchema}, uniqueAttr: "userName"}
	groupType = &resourceType{Name: "Group", Endpoint: "/Groups", core: groupSchema, uniqueAttr: "displayName"}
)
