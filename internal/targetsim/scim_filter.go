package targetsim

import (
	"encoding/json"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"
)

// pred decides whether a resource (elem nil) or, inside a value path such as
// emails[type eq "work"], one element of a multi-valued attribute matches.
type pred func(r *resource, elem map[string]any) bool

// visit calls fn for each value at a path and reports whether any call
// returned true; multi-valued attributes contribute each element.
type visit func(r *resource, elem map[string]any, fn func(any) bool) bool

func invalidFilter(format string, args ...any) *SCIMError {
	return scimErr(400, "invalidFilter", format, args...)
}

// fixHexEscapes upper-cases the hex digits of \uXXXX escapes inside string
// literals: the parser only accepts upper case, JSON (and so clients)
// accept both.
func fixHexEscapes(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	b := []byte(s)
	inStr := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			inStr = !inStr
		case inStr && b[i] == '\\' && i+1 < len(b):
			if b[i+1] == 'u' {
				for j := i + 2; j < i+6 && j < len(b); j++ {
					if b[j] >= 'a' && b[j] <= 'f' {
						b[j] -= 'a' - 'A'
					}
				}
			}
			i++
		}
	}
	return string(b)
}

// unquote decodes JSON escapes the parser leaves in string values.
func unquote(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return "", invalidFilter("bad escape in string %q", s)
	}
	return out, nil
}

// compiledFilter is a parsed filter plus, when the filter is a plain
// equality on the unique name or the id, the key for an index lookup.
type compiledFilter struct {
	match   pred
	byName  string // folded userName / displayName
	byID    string
	indexed bool
}

func compileFilter(rt *resourceType, src string) (*compiledFilter, error) {
	expr, err := parseFilterCached(src)
	if err != nil {
		return nil, invalidFilter("cannot parse filter %q: %v", src, err)
	}
	p, err := compileExpr(rt, expr, nil)
	if err != nil {
		return nil, err
	}
	cf := &compiledFilter{match: p}
	if ae, ok := expr.(*filter.AttributeExpression); ok && ae.Operator == filter.EQ && ae.AttributePath.SubAttribute == nil {
		uri := ae.AttributePath.URI()
		s, isStr := ae.CompareValue.(string)
		if isStr && (uri == "" || strings.EqualFold(uri, rt.core.ID)) {
			s, _ = unquote(s)
			switch {
			case strings.EqualFold(ae.AttributePath.AttributeName, rt.uniqueAttr):
				cf.byName, cf.indexed = fold(s), true
			case strings.EqualFold(ae.AttributePath.AttributeName, "id"):
				cf.byID, cf.indexed = s, true
			}
		}
	}
	return cf, nil
}

func compileExpr(rt *resourceType, e filter.Expression, parent *attrDef) (pred, error) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		return compileAttrExp(rt, x, parent)
	case *filter.LogicalExpression:
		l, err := compileExpr(rt, x.Left, parent)
		if err != nil {
			return nil, err
		}
		r, err := compileExpr(rt, x.Right, parent)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(string(x.Operator), string(filter.OR)) {
			return func(res *resource, el map[string]any) bool { return l(res, el) || r(res, el) }, nil
		}
		return func(res *resource, el map[string]any) bool { return l(res, el) && r(res, el) }, nil
	case *filter.NotExpression:
		inner, err := compileExpr(rt, x.Expression, parent)
		if err != nil {
			return nil, err
		}
		return func(res *resource, el map[string]any) bool { return !inner(res, el) }, nil
	case *filter.ValuePath:
		if parent != nil {
			return nil, invalidFilter("value paths cannot nest: %v", x)
		}
		v, def, err := resolvePath(rt, x.AttributePath, nil, false)
		if err != nil {
			return nil, err
		}
		if def == nil || def.Type != tComplex {
			return nil, invalidFilter("%v is not a complex attribute", x.AttributePath)
		}
		inner, err := compileExpr(rt, x.ValueFilter, def)
		if err != nil {
			return nil, err
		}
		return func(res *resource, _ map[string]any) bool {
			return v(res, nil, func(e any) bool {
				m, ok := e.(map[string]any)
				return ok && inner(res, m)
			})
		}, nil
	}
	return nil, invalidFilter("unsupported filter expression %v", e)
}

// resolvePath finds where an attribute path reads from. parent is the
// complex attribute of an enclosing value path; its sub-attributes are then
// the only names in scope. implicitValue makes a multi-valued complex
// attribute without a sub-attribute read its "value" (RFC 7644 §3.4.2.2),
// which comparisons want and value paths do not. A nil def means an undeclared attribute of an
// open extension: compared by the value's own JSON type.
func resolvePath(rt *resourceType, p filter.AttributePath, parent *attrDef, implicitValue bool) (visit, *attrDef, error) {
	name, uri := p.AttributeName, p.URI()
	var (
		def  *attrDef
		base func(r *resource, elem map[string]any) any
	)
	switch {
	case parent != nil:
		if uri != "" {
			return nil, nil, invalidFilter("%v: a schema URN is not allowed inside a value path", p)
		}
		if def = parent.sub(name); def == nil {
			return nil, nil, invalidFilter("%q is not a sub-attribute of %s", name, parent.Name)
		}
		key := def.Name
		base = func(_ *resource, elem map[string]any) any { return elem[key] }
	case uri == "" || strings.EqualFold(uri, rt.core.ID):
		var err error
		if def, base, err = resolveCore(rt, name); err != nil {
			return nil, nil, err
		}
	default:
		ext := rt.ext(uri)
		if ext == nil {
			return nil, nil, invalidFilter("unknown schema %q", uri)
		}
		def = ext.attr(name)
		if def == nil && !ext.open {
			return nil, nil, invalidFilter("%q is not an attribute of %s", name, ext.ID)
		}
		urn, key := ext.ID, name
		if def != nil {
			key = def.Name
		}
		base = func(r *resource, _ map[string]any) any {
			obj, _ := r.attrs[urn].(map[string]any)
			return lookupFold(obj, key)
		}
	}
	sub := p.SubAttributeName()
	if implicitValue && sub == "" && def != nil && def.Multi && def.Type == tComplex && def.sub("value") != nil {
		sub = "value"
	}
	if sub != "" {
		if def != nil {
			sd := def.sub(sub)
			if sd == nil {
				return nil, nil, invalidFilter("%q is not a sub-attribute of %s", sub, def.Name)
			}
			def, sub = sd, sd.Name
		}
	}
	return makeVisit(base, sub), def, nil
}

func resolveCore(rt *resourceType, name string) (*attrDef, func(*resource, map[string]any) any, error) {
	switch strings.ToLower(name) {
	case "id":
		return idDef, func(r *resource, _ map[string]any) any { return r.id }, nil
	case "externalid":
		return externalIDDef, func(r *resource, _ map[string]any) any { return r.attrs["externalId"] }, nil
	case "meta":
		return metaDef, func(r *resource, _ map[string]any) any { return metaOf(rt, r) }, nil
	}
	def := rt.core.attr(name)
	if def == nil {
		return nil, nil, invalidFilter("%q is not an attribute of %s", name, rt.Name)
	}
	key := def.Name
	return def, func(r *resource, _ map[string]any) any { return r.attrs[key] }, nil
}

var (
	idDef         = &attrDef{Name: "id", Type: tString, CaseExact: true}
	externalIDDef = &attrDef{Name: "externalId", Type: tString, CaseExact: true}
	metaDef       = func() *attrDef {
		a := complexAttr("meta", []*attrDef{
			attr("resourceType", tString, caseExact),
			attr("created", tDateTime),
			attr("lastModified", tDateTime),
			attr("location", tReference, caseExact),
			attr("version", tString, caseExact),
		})
		indexAttr(a)
		return a
	}()
)

func metaOf(rt *resourceType, r *resource) map[string]any {
	return map[string]any{
		"resourceType": rt.Name,
		"created":      r.created.UTC().Format(timeLayout),
		"lastModified": r.modified.UTC().Format(timeLayout),
		"version":      r.etag(),
	}
}

func lookupFold(obj map[string]any, key string) any {
	if v, ok := obj[key]; ok {
		return v
	}
	for k, v := range obj {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func makeVisit(base func(*resource, map[string]any) any, sub string) visit {
	return func(r *resource, elem map[string]any, fn func(any) bool) bool {
		return eachValue(base(r, elem), sub, fn)
	}
}

func eachValue(v any, sub string, fn func(any) bool) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if eachValue(e, sub, fn) {
				return true
			}
		}
		return false
	case map[string]any:
		if sub != "" {
			return eachValue(lookupFold(x, sub), "", fn)
		}
	}
	if sub != "" || v == nil {
		return false
	}
	return fn(v)
}

func compileAttrExp(rt *resourceType, ae *filter.AttributeExpression, parent *attrDef) (pred, error) {
	v, def, err := resolvePath(rt, ae.AttributePath, parent, true)
	if err != nil {
		return nil, err
	}
	op := filter.CompareOperator(strings.ToLower(string(ae.Operator)))
	if op == filter.PR || ae.CompareValue == nil {
		present := func(r *resource, el map[string]any) bool { return v(r, el, isPresent) }
		if op == filter.PR || op == filter.NE {
			return present, nil
		}
		if op == filter.EQ {
			return func(r *resource, el map[string]any) bool { return !present(r, el) }, nil
		}
		return nil, invalidFilter("%v: null can only be compared with eq or ne", ae)
	}
	cmp, err := compileCompare(ae, op, def)
	if err != nil {
		return nil, err
	}
	if op == filter.NE {
		// ne is "no value equals", so an absent attribute matches
		return func(r *resource, el map[string]any) bool { return !v(r, el, cmp) }, nil
	}
	return func(r *resource, el map[string]any) bool { return v(r, el, cmp) }, nil
}

func isPresent(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// compileCompare returns the per-value test for op; ne compiles as eq and
// is negated by the caller.
func compileCompare(ae *filter.AttributeExpression, op filter.CompareOperator, def *attrDef) (func(any) bool, error) {
	if op == filter.NE {
		op = filter.EQ
	}
	ordered := op == filter.GT || op == filter.GE || op == filter.LT || op == filter.LE
	switch cv := ae.CompareValue.(type) {
	case bool:
		if def != nil && def.Type != tBoolean {
			return nil, invalidFilter("%v: %s is a %s, not a boolean", ae, def.Name, def.Type)
		}
		if op != filter.EQ {
			return nil, invalidFilter("%v: booleans only support eq and ne", ae)
		}
		return func(v any) bool { b, ok := v.(bool); return ok && b == cv }, nil
	case int, float64:
		if def != nil && def.Type != tInteger && def.Type != tDecimal {
			return nil, invalidFilter("%v: %s is a %s, not a number", ae, def.Name, def.Type)
		}
		if op == filter.CO || op == filter.SW || op == filter.EW {
			return nil, invalidFilter("%v: numbers support eq, ne, gt, ge, lt and le", ae)
		}
		f := toFloat(cv)
		return func(v any) bool {
			n, ok := v.(json.Number)
			if !ok {
				return false
			}
			x, err := n.Float64()
			return err == nil && orderMatch(op, compareFloat(x, f))
		}, nil
	case string:
		s, err := unquote(cv)
		if err != nil {
			return nil, err
		}
		if def != nil && def.Type != tString && def.Type != tReference && def.Type != tDateTime && def.Type != tBinary && def.Type != tComplex {
			return nil, invalidFilter("%v: %s is a %s, not a string", ae, def.Name, def.Type)
		}
		if def != nil && def.Type == tDateTime {
			return compileTimeCompare(ae, op, s)
		}
		return stringCompare(op, s, def != nil && def.CaseExact, ordered), nil
	}
	return nil, invalidFilter("%v: unsupported comparison value", ae)
}

func stringCompare(op filter.CompareOperator, s string, exact, ordered bool) func(any) bool {
	norm := func(x string) string { return x }
	if !exact {
		norm = fold
	}
	want := norm(s)
	return func(v any) bool {
		str, ok := v.(string)
		if !ok {
			return false
		}
		switch op {
		case filter.EQ:
			if exact {
				return str == s
			}
			return strings.EqualFold(str, s)
		case filter.CO:
			return strings.Contains(norm(str), want)
		case filter.SW:
			return strings.HasPrefix(norm(str), want)
		case filter.EW:
			return strings.HasSuffix(norm(str), want)
		}
		return ordered && orderMatch(op, strings.Compare(norm(str), want))
	}
}

func compileTimeCompare(ae *filter.AttributeExpression, op filter.CompareOperator, s string) (func(any) bool, error) {
	want, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, invalidFilter("%v: %q is not a dateTime such as 2024-01-31T12:00:00Z", ae, s)
	}
	if op == filter.CO || op == filter.SW || op == filter.EW {
		return nil, invalidFilter("%v: dateTime values support eq, ne, gt, ge, lt and le", ae)
	}
	return func(v any) bool {
		str, ok := v.(string)
		if !ok {
			return false
		}
		t, err := time.Parse(time.RFC3339Nano, str)
		return err == nil && orderMatch(op, t.Compare(want))
	}, nil
}

func orderMatch(op filter.CompareOperator, c int) bool {
	switch op {
	case filter.EQ:
		return c == 0
	case filter.GT:
		return c > 0
	case filter.GE:
		return c >= 0
	case filter.LT:
		return c < 0
	case filter.LE:
		return c <= 0
	}
	return false
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	return 0
}
