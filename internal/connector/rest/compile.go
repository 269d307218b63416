package rest

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/ohler55/ojg/jp"

	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/connector/httpx/reqtmpl"
	"github.com/accord-iam/accord/internal/tmpl"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Operation names, as they appear under operations.
const (
	opCreate            = "create"
	opGet               = "get"
	opFind              = "find"
	opUpdate            = "update"
	opEnable            = "enable"
	opDisable           = "disable"
	opDelete            = "delete"
	opGrant             = "grant"
	opRevoke            = "revoke"
	opListAccounts      = "list_accounts"
	opListEntitlements  = "list_entitlements"
	opCheckMember       = "check_member"
	opCreateEntitlement = "create_entitlement"
)

// kind says what an operation may use and configure.
type kind struct {
	method string
	vars   []string // template names, besides those batch and with_entitlements add
	keys   []string // settings beyond method, url, headers, body, form, success
	reads  bool     // its answer is an account or a list of them
}

var (
	refVars  = []string{"account", "person", "native_id", "link"}
	listVars = []string{"limit", "page", "offset", "cursor"}
	kinds    = map[string]kind{
		opCreate:            {http.MethodPost, []string{"account", "person"}, []string{"response", "exists", "with_entitlements"}, true},
		opGet:               {http.MethodGet, refVars, []string{"response", "missing"}, true},
		opFind:              {http.MethodGet, []string{"account"}, []string{"response", "match"}, true},
		opUpdate:            {http.MethodPatch, append([]string{"changes"}, refVars...), []string{"missing"}, false},
		opEnable:            {http.MethodPatch, refVars, []string{"missing"}, false},
		opDisable:           {http.MethodPatch, refVars, []string{"missing"}, false},
		opDelete:            {http.MethodDelete, refVars, []string{"missing"}, false},
		opGrant:             {http.MethodPost, refVars, []string{"exists", "missing", "batch"}, false},
		opRevoke:            {http.MethodDelete, refVars, []string{"missing", "batch"}, false},
		opListAccounts:      {http.MethodGet, listVars, []string{"response", "paging"}, true},
		opListEntitlements:  {http.MethodGet, listVars, []string{"response", "paging"}, false},
		opCheckMember:       {http.MethodGet, append([]string{"entitlement"}, refVars...), []string{"missing"}, false},
		opCreateEntitlement: {http.MethodPost, []string{"entitlement"}, []string{"exists"}, false},
	}
	// zero values declare each name's type to the template compiler.
	zero = map[string]any{
		"account": map[string]any{}, "changes": map[string]any{}, "link": map[string]any{},
		"person": "", "native_id": "", "entitlement": "", "entitlements": []string{},
		"limit": 0, "page": 0, "offset": 0, "cursor": "",
	}
)

func (s *Operations) byName() map[string]*Operation {
	return map[string]*Operation{
		opCreate: s.Create, opGet: s.Get, opFind: s.Find, opUpdate: s.Update, opEnable: s.Enable,
		opDisable: s.Disable, opDelete: s.Delete, opGrant: s.Grant, opRevoke: s.Revoke,
		opListAccounts: s.ListAccounts, opListEntitlements: s.ListEntitlements,
		opCheckMember: s.CheckMember, opCreateEntitlement: s.CreateEntitlement,
	}
}

func (o *Operation) setKeys() []string {
	var ks []string
	add := func(k string, set bool) {
		if set {
			ks = append(ks, k)
		}
	}
	add("response", o.Response != nil)
	add("exists", o.Exists != nil)
	add("missing", o.Missing != nil)
	add("batch", o.Batch != 0)
	add("with_entitlements", o.WithEntitlements)
	add("match", len(o.Match) > 0)
	add("paging", o.Paging != nil)
	return ks
}

// op is a compiled operation.
type op struct {
	name     string
	method   string
	url      *reqtmpl.URL
	headers  []header
	json     *reqtmpl.JSON
	form     *reqtmpl.Form
	success  []int
	read     *reader
	exists   *matcher
	missing  *matcher
	batch    int
	withEnts bool
	match    []string
	paging   *paging
}

type header struct {
	name string
	t    *reqtmpl.Text
}

type matcher struct {
	status []int
	body   *regexp.Regexp
}

type paging struct {
	style        string
	size, start  int
	cursor, next jp.Expr
}

// compiled is a checked configuration, ready to run.
type compiled struct {
	base    string
	headers []header
	ops     map[string]*op
}

// compiler collects problems with their paths and lines.
type compiler struct {
	lines map[string]int
	ps    yamlx.Problems
	attrs []string // the account mapping's names; nil: not declared
	links []string
}

func (c *compiler) add(path, format string, args ...any) {
	c.ps = append(c.ps, yamlx.Problem{Path: path, Line: yamlx.LineOf(c.lines, path), Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) compile(s *Settings) *compiled {
	out := &compiled{base: strings.TrimRight(s.URL, "/"), ops: map[string]*op{}}
	c.links = linkNames(s)
	out.headers = c.headers("headers", s.Headers, reqtmpl.Env{Vars: map[string]any{}})
	ops := s.Operations.byName()
	names := make([]string, 0, len(ops))
	for name, o := range ops {
		if o != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		c.add("operations", "no operations: configure at least create, get, grant and revoke")
	}
	for _, name := range names {
		if o := c.operation(name, ops[name], s.Response); o != nil {
			out.ops[name] = o
		}
	}
	if s.Response != nil {
		if s.Response.Items != "" || s.Response.Total != "" || s.Response.Name != "" || s.Response.Members != "" {
			c.add("response", "items, total, name and members belong to an operation's response")
		}
		c.reader("response", s.Response, s.Response, false)
	}
	return out
}

// linkNames are the values any answer keeps for later operations.
func linkNames(s *Settings) []string {
	var names []string
	for _, r := range []*Response{s.Response, respOf(s.Operations.Create), respOf(s.Operations.Get), respOf(s.Operations.Find), respOf(s.Operations.ListAccounts)} {
		if r == nil {
			continue
		}
		for k := range r.Link {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	return names
}

func respOf(o *Operation) *Response {
	if o == nil {
		return nil
	}
	return o.Response
}

// env declares the names one operation's templates may use.
func (c *compiler) env(vars []string) reqtmpl.Env {
	e := reqtmpl.Env{Vars: map[string]any{}, Keys: map[string][]string{"link": c.links}}
	for _, v := range vars {
		e.Vars[v] = zero[v]
	}
	if c.attrs != nil {
		e.Keys["account"] = c.attrs
		e.Keys["changes"] = c.attrs
	}
	return e
}

// explain turns a template error into a problem message, naming the
// operations where a known name is available when this one lacks it.
func explain(err error, opName string, vars []string) string {
	var te *tmpl.Error
	if errors.As(err, &te) && te.Name != "" {
		if _, known := zero[te.Name]; known {
			return fmt.Sprintf("%q is not available in %s (available: %s)", te.Name, opName, strings.Join(vars, ", "))
		}
		return fmt.Sprintf("unknown name %q in {{ %s }} (available: %s)", te.Name, te.Expr, strings.Join(vars, ", "))
	}
	var ke *reqtmpl.KeyError
	if errors.As(err, &ke) {
		switch ke.Name {
		case "account", "changes":
			return fmt.Sprintf("unknown account attribute %q in {{ %s }} (the account mapping produces: %s)", ke.Key, ke.Expr, orNone(ke.Known))
		case "link":
			return fmt.Sprintf("unknown link value %q in {{ %s }} (response.link keeps: %s)", ke.Key, ke.Expr, orNone(ke.Known))
		}
	}
	return err.Error()
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func (c *compiler) headers(base string, hs map[string]string, env reqtmpl.Env) []header {
	var out []header
	for name, v := range hs {
		p := yamlx.Join(base, name)
		if !httpx.ValidHeaderName(name) {
			c.add(p, "%q is not a valid HTTP header name", name)
			continue
		}
		t, err := reqtmpl.ParseText(v, env)
		if err != nil {
			c.add(p, "%s", explain(err, "headers", sortedVars(env)))
			continue
		}
		out = append(out, header{name: http.CanonicalHeaderKey(name), t: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func sortedVars(env reqtmpl.Env) []string {
	vs := make([]string, 0, len(env.Vars))
	for v := range env.Vars {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	if len(vs) == 0 {
		return []string{"none"}
	}
	return vs
}
