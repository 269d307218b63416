package rest

import (
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/ohler55/ojg/jp"

	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/connector/httpx/reqtmpl"
	"github.com/accord-iam/accord/internal/yamlx"
)

// usesName finds a name inside the holes of a template source.
func usesName(src, name string) bool {
	re := regexp.MustCompile(`\{\{[^}]*\b` + regexp.QuoteMeta(name) + `\b[^}]*\}\}`)
	return re.MatchString(src)
}

func (c *compiler) operation(name string, o *Operation, base *Response) *op {
	k := kinds[name]
	p := yamlx.Join("operations", name)
	for _, key := range o.setKeys() {
		if !slices.Contains(k.keys, key) {
			c.add(yamlx.Join(p, key), "does not apply to %s (it takes: method, url, headers, body, form, success, %s)", name, strings.Join(k.keys, ", "))
		}
	}
	before := len(c.ps)
	vars := slices.Clone(k.vars)
	switch {
	case (name == opGrant || name == opRevoke) && o.Batch > 1:
		vars = append(vars, "entitlements")
	case name == opGrant || name == opRevoke:
		vars = append(vars, "entitlement")
	case name == opCreate && o.WithEntitlements:
		vars = append(vars, "entitlements")
	}
	sort.Strings(vars)
	env := c.env(vars)
	tmplProblem := func(path string, err error) { c.add(path, "%s", explain(err, name, vars)) }

	out := &op{name: name, method: strings.ToUpper(o.Method), success: o.Success, batch: o.Batch,
		withEnts: o.WithEntitlements, match: o.Match}
	if out.method == "" {
		out.method = k.method
	}
	if !httpx.ValidHeaderName(out.method) {
		c.add(yamlx.Join(p, "method"), "%q is not an HTTP method", o.Method)
	}
	switch {
	case o.URL == "":
		c.add(yamlx.Join(p, "url"), "is required")
	case !strings.HasPrefix(o.URL, "/") && !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://"):
		c.add(yamlx.Join(p, "url"), "must be a path starting with / (under url) or an absolute http(s) URL, not %q", o.URL)
	default:
		u, err := reqtmpl.ParseURL(o.URL, env)
		if err != nil {
			tmplProblem(yamlx.Join(p, "url"), err)
		}
		out.url = u
	}
	out.headers = c.headers(yamlx.Join(p, "headers"), o.Headers, env)
	if o.Body != "" && len(o.Form) > 0 {
		c.add(yamlx.Join(p, "form"), "give either body (JSON) or form, not both")
	}
	if o.Body != "" {
		j, err := reqtmpl.ParseJSON(o.Body, env)
		if err != nil {
			tmplProblem(yamlx.Join(p, "body"), err)
		}
		out.json = j
	}
	for _, f := range slices.Sorted(maps.Keys(o.Form)) {
		if _, err := reqtmpl.ParseText(o.Form[f], env); err != nil {
			tmplProblem(yamlx.Join(yamlx.Join(p, "form"), f), err)
		}
	}
	if len(o.Form) > 0 {
		out.form, _ = reqtmpl.ParseForm(o.Form, env)
	}
	for i, st := range o.Success {
		if st < 100 || st > 599 {
			c.add(yamlx.Index(yamlx.Join(p, "success"), i), "%d is not an HTTP status", st)
		}
	}
	all := o.URL + " " + o.Body + " " + strings.Join(mapValues(o.Form), " ") + " " + strings.Join(mapValues(o.Headers), " ")
	// Only worth saying when the templates compiled: a misspelt name has
	// been reported already.
	if (name == opGrant || name == opRevoke) && len(c.ps) == before && !usesName(all, "entitlement") && !usesName(all, "entitlements") {
		c.add(p, "never uses {{ %s }}: every entitlement would get the same request", vars[slices.IndexFunc(vars, func(v string) bool { return strings.HasPrefix(v, "entitlement") })])
	}
	if o.Batch < 0 {
		c.add(yamlx.Join(p, "batch"), "must not be negative")
	}
	out.exists = c.matcher(yamlx.Join(p, "exists"), o.Exists)
	out.missing = c.matcher(yamlx.Join(p, "missing"), o.Missing)
	if out.exists == nil && (name == opCreate || name == opGrant || name == opCreateEntitlement) {
		out.exists = &matcher{status: []int{http.StatusConflict}}
	}
	if out.missing == nil && (name == opDelete || name == opRevoke) {
		out.missing = &matcher{status: []int{http.StatusNotFound, http.StatusGone}}
	}
	if out.missing == nil && name == opCheckMember {
		out.missing = &matcher{status: []int{http.StatusNotFound}}
	}
	for i, m := range o.Match {
		if c.attrs != nil && !slices.Contains(c.attrs, m) {
			c.add(yamlx.Index(yamlx.Join(p, "match"), i), "%q is not an account attribute (the account mapping produces: %s)", m, orNone(c.attrs))
		}
	}
	switch {
	case name == opListEntitlements:
		out.read = c.reader(yamlx.Join(p, "response"), o.Response, nil, true)
	case k.reads:
		out.read = c.reader(yamlx.Join(p, "response"), merge(base, o.Response), o.Response, false)
	}
	if name == opListAccounts || name == opListEntitlements {
		out.paging = c.paging(yamlx.Join(p, "paging"), o.Paging, all)
	}
	return out
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

func (c *compiler) matcher(p string, m *Match) *matcher {
	if m == nil {
		return nil
	}
	out := &matcher{status: m.Status}
	for i, st := range m.Status {
		if st < 100 || st > 599 {
			c.add(yamlx.Index(yamlx.Join(p, "status"), i), "%d is not an HTTP status", st)
		}
	}
	if m.Body != "" {
		re, err := regexp.Compile(m.Body)
		if err != nil {
			c.add(yamlx.Join(p, "body"), "not a regular expression: %v", err)
		} else {
			out.body = re
		}
	}
	if len(m.Status) == 0 && m.Body == "" {
		c.add(p, "needs status, body or both")
	}
	return out
}

// merge lays an operation's response over the connection's.
func merge(base, own *Response) *Response {
	if base == nil {
		return own
	}
	if own == nil {
		return base
	}
	m := *base
	pick := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	pick(&m.Items, own.Items)
	pick(&m.Total, own.Total)
	pick(&m.ID, own.ID)
	pick(&m.Entitlements, own.Entitlements)
	if own.Attributes != nil {
		m.Attributes = own.Attributes
	}
	if own.Active != nil {
		m.Active = own.Active
	}
	if own.Link != nil {
		m.Link = own.Link
	}
	return &m
}

// reader is a compiled Response.
type reader struct {
	items, total, id, name, members, ents jp.Expr
	attrs                                 map[string]jp.Expr // nil: the key named like the attribute
	active                                jp.Expr
	equals                                any
	link                                  map[string]jp.Expr
}

// reader compiles r, the operation's response laid over the
// connection's. Problems are reported for what own (the operation's own
// response) sets; the connection's were reported at its own path.
func (c *compiler) reader(p string, r, own *Response, entitlement bool) *reader {
	out := &reader{}
	if r == nil {
		r = &Response{}
	}
	if own == nil {
		own = &Response{}
	}
	path := func(key, src, def string, report bool) jp.Expr {
		if src == "" {
			src = def
		}
		if src == "" {
			return nil
		}
		x, err := jp.ParseString(src)
		if err != nil {
			if report {
				c.add(yamlx.Join(p, key), "not a JSONPath: %v", err)
			}
			return nil
		}
		return x
	}
	out.items = path("items", r.Items, "", own.Items != "")
	out.total = path("total", r.Total, "", own.Total != "")
	out.id = path("id", r.ID, "$.id", own.ID != "")
	out.ents = path("entitlements", r.Entitlements, "", own.Entitlements != "")
	if entitlement {
		out.name = path("name", r.Name, "$.name", true)
		out.members = path("members", r.Members, "", true)
		for key, set := range map[string]bool{"attributes": r.Attributes != nil, "active": r.Active != nil, "entitlements": r.Entitlements != "", "link": r.Link != nil} {
			if set {
				c.add(yamlx.Join(p, key), "does not apply to entitlements")
			}
		}
		return out
	}
	if own.Name != "" || own.Members != "" {
		c.add(p, "name and members belong to list_entitlements")
	}
	if r.Attributes != nil {
		report := own.Attributes != nil
		out.attrs = map[string]jp.Expr{}
		for _, name := range slices.Sorted(maps.Keys(r.Attributes)) {
			key := yamlx.Join("attributes", name)
			if c.attrs != nil && !slices.Contains(c.attrs, name) {
				if report {
					c.add(yamlx.Join(p, key), "%q is not an account attribute (the account mapping produces: %s)", name, orNone(c.attrs))
				}
				continue
			}
			if x := path(key, r.Attributes[name], "", report); x != nil {
				out.attrs[name] = x
			}
		}
	}
	if r.Active != nil {
		out.active = path("active.path", r.Active.Path, "", own.Active != nil)
		out.equals = r.Active.Equals
		if out.equals == nil {
			out.equals = true
		}
	}
	if r.Link != nil {
		out.link = map[string]jp.Expr{}
		for _, name := range slices.Sorted(maps.Keys(r.Link)) {
			if x := path(yamlx.Join("link", name), r.Link[name], "", own.Link != nil); x != nil {
				out.link[name] = x
			}
		}
	}
	return out
}

// Paging styles.
const (
	pageNone   = "none"
	pageNumber = "page"
	pageOffset = "offset"
	pageCursor = "cursor"
	pageLink   = "link"
	pageNext   = "next"
)

func (c *compiler) paging(p string, pg *Paging, src string) *paging {
	if pg == nil {
		return &paging{style: pageNone, size: DefaultPageSize, start: 1}
	}
	out := &paging{style: pg.Style, size: pg.Size, start: 1}
	if out.style == "" {
		out.style = pageNone
	}
	if out.size == 0 {
		out.size = DefaultPageSize
	}
	if pg.Size < 0 {
		c.add(yamlx.Join(p, "size"), "must not be negative")
	}
	if pg.Start != nil {
		out.start = *pg.Start
		if out.style != pageNumber {
			c.add(yamlx.Join(p, "start"), "only applies to style page")
		}
	}
	expr := func(key, s string) jp.Expr {
		x, err := jp.ParseString(s)
		if err != nil {
			c.add(yamlx.Join(p, key), "not a JSONPath: %v", err)
		}
		return x
	}
	need := map[string]string{pageNumber: "page", pageOffset: "offset", pageCursor: "cursor"}
	switch out.style {
	case pageNone, pageLink:
	case pageNumber, pageOffset:
	case pageCursor:
		if pg.Cursor == "" {
			c.add(yamlx.Join(p, "cursor"), "style cursor needs cursor: the JSONPath of the next cursor in the answer")
		} else {
			out.cursor = expr("cursor", pg.Cursor)
		}
	case pageNext:
		if pg.Next == "" {
			c.add(yamlx.Join(p, "next"), "style next needs next: the JSONPath of the next page's URL in the answer")
		} else {
			out.next = expr("next", pg.Next)
		}
	default:
		c.add(yamlx.Join(p, "style"), "must be page, offset, cursor, link or next, not %q", pg.Style)
	}
	if pg.Cursor != "" && out.style != pageCursor {
		c.add(yamlx.Join(p, "cursor"), "only applies to style cursor")
	}
	if pg.Next != "" && out.style != pageNext {
		c.add(yamlx.Join(p, "next"), "only applies to style next")
	}
	if v, ok := need[out.style]; ok && !usesName(src, v) {
		c.add(yamlx.Join(p, "style"), "style %s needs {{ %s }} in the operation's url or body", out.style, v)
	}
	return out
}
