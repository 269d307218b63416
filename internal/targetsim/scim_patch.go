package targetsim

import (
	"reflect"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// patchOp is one operation of a PatchOp request (RFC 7644 §3.5.2).
type patchOp struct {
	Op       string // add, replace or remove
	Path     string
	Value    any
	HasValue bool
}

func invalidPath(format string, args ...any) *SCIMError {
	return scimErr(400, "invalidPath", format, args...)
}

// parsePatch reads a PatchOp body. Key names are matched case-insensitively
// because widely used clients send "Operations" and "Op" in varying case.
func parsePatch(body []byte) ([]patchOp, error) {
	var doc map[string]any
	if err := decodeJSON(body, &doc); err != nil {
		return nil, err
	}
	schemas, _ := lookupFold(doc, "schemas").([]any)
	if !containsFold(schemas, msgPatch) {
		return nil, scimErr(400, "invalidSyntax", "schemas must contain %s", msgPatch)
	}
	raw, ok := lookupFold(doc, "Operations").([]any)
	if !ok || len(raw) == 0 {
		return nil, scimErr(400, "invalidSyntax", "Operations must be a non-empty array")
	}
	ops := make([]patchOp, 0, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, scimErr(400, "invalidSyntax", "Operations[%d] must be an object", i)
		}
		var op patchOp
		for k, v := range m {
			switch strings.ToLower(k) {
			case "op":
				s, _ := v.(string)
				op.Op = strings.ToLower(s)
			case "path":
				s, ok := v.(string)
				if !ok {
					return nil, invalidPath("Operations[%d].path must be a string", i)
				}
				op.Path = strings.TrimSpace(s)
			case "value":
				op.Value, op.HasValue = v, true
			default:
				return nil, scimErr(400, "invalidSyntax", "Operations[%d] has unknown member %q", i, k)
			}
		}
		switch op.Op {
		case "add", "replace":
			if !op.HasValue {
				return nil, scimErr(400, "invalidValue", "Operations[%d]: %s needs a value", i, op.Op)
			}
		case "remove":
			if op.Path == "" {
				return nil, scimErr(400, "noTarget", "Operations[%d]: remove needs a path", i)
			}
		default:
			return nil, scimErr(400, "invalidSyntax", "Operations[%d].op must be add, replace or remove, got %q", i, op.Op)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func containsFold(list []any, s string) bool {
	for _, v := range list {
		if x, ok := v.(string); ok && strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// applyPatch applies every operation to a copy of attrs, or none: the
// first failure returns an error and the stored resource stays as it was.
func applyPatch(rt *resourceType, attrs map[string]any, ops []patchOp) (map[string]any, error) {
	out := cloneMap(attrs)
	for i, op := range ops {
		var err error
		if op.Path == "" {
			err = applyNoPath(rt, out, op)
		} else {
			err = applyPath(rt, out, op, op.Path)
		}
		if err != nil {
			if se, ok := err.(*SCIMError); ok && len(ops) > 1 {
				se.Detail = "Operations[" + strconv.Itoa(i) + "]: " + se.Detail
			}
			return nil, err
		}
	}
	if err := checkPrimaries(rt, out); err != nil {
		return nil, err
	}
	return out, nil
}

func applyNoPath(rt *resourceType, out map[string]any, op patchOp) error {
	obj, ok := op.Value.(map[string]any)
	if !ok {
		return scimErr(400, "invalidValue", "without a path, the value of %s must be an object, got %s", op.Op, jsonKind(op.Value))
	}
	for k, v := range obj {
		switch strings.ToLower(k) {
		case "schemas", "id", "meta":
			continue // read-only, ignored as in PUT
		}
		sub := op
		sub.Value, sub.Path = v, k
		if err := applyPath(rt, out, sub, k); err != nil {
			return err
		}
	}
	return nil
}

// target is where a PATCH path points.
type target struct {
	ext       *schemaDef // nil: core attribute
	whole     bool       // the path is the extension URN itself
	def       *attrDef   // nil: undeclared attribute of an open extension
	name      string
	sub       string // name.givenName
	subDef    *attrDef
	filter    pred // emails[type eq "work"]
	template  map[string]any
	filterSub string // emails[type eq "work"].value
	filterDef *attrDef
}

func resolveTarget(rt *resourceType, path string) (*target, error) {
	p, err := parsePathCached(path)
	if err != nil {
		return nil, invalidPath("cannot parse path %q: %v", path, err)
	}
	ap := p.AttributePath
	uri, name := ap.URI(), ap.AttributeName
	t := &target{name: name}
	switch {
	case uri != "" && rt.ext(uri+":"+name) != nil && ap.SubAttribute == nil && p.ValueExpression == nil:
		t.ext, t.whole = rt.ext(uri+":"+name), true
		return t, nil
	case uri == "" || strings.EqualFold(uri, rt.core.ID):
		switch strings.ToLower(name) {
		case "id", "meta":
			return nil, scimErr(400, "mutability", "%s is read-only", name)
		case "externalid":
			t.def, t.name = externalIDDef, "externalId"
		default:
			if t.def = rt.core.attr(name); t.def == nil {
				return nil, invalidPath("%q is not an attribute of %s", name, rt.Name)
			}
			t.name = t.def.Name
		}
	default:
		if t.ext = rt.ext(uri); t.ext == nil {
			return nil, invalidPath("unknown schema %q in path %q", uri, path)
		}
		if t.def = t.ext.attr(name); t.def == nil && !t.ext.open {
			return nil, invalidPath("%q is not an attribute of %s", name, t.ext.ID)
		}
		if t.def != nil {
			t.name = t.def.Name
		}
	}
	if t.def != nil && t.def.readOnly() {
		return nil, scimErr(400, "mutability", "%s is read-only", t.def.Name)
	}
	if s := ap.SubAttributeName(); s != "" {
		if t.sub, t.subDef, err = subOf(t.def, s, path); err != nil {
			return nil, err
		}
		if t.def != nil && t.def.Multi {
			return nil, invalidPath("%q: select values of multi-valued %s with a filter, e.g. %s[type eq \"work\"].%s", path, t.def.Name, t.def.Name, t.sub)
		}
	}
	if p.ValueExpression != nil {
		if t.def == nil || !t.def.Multi || t.def.Type != tComplex {
			return nil, invalidPath("%q: a filter needs a multi-valued complex attribute", path)
		}
		if t.filter, err = compileExpr(rt, p.ValueExpression, t.def); err != nil {
			return nil, invalidPath("%q: %s", path, err.(*SCIMError).Detail)
		}
		t.template = eqTemplate(p.ValueExpression, t.def)
		if s := p.SubAttributeName(); s != "" {
			if t.filterSub, t.filterDef, err = subOf(t.def, s, path); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

func subOf(def *attrDef, name, path string) (string, *attrDef, error) {
	if def == nil {
		return name, nil, nil
	}
	sd := def.sub(name)
	if sd == nil {
		return "", nil, invalidPath("%q: %q is not a sub-attribute of %s", path, name, def.Name)
	}
	return sd.Name, sd, nil
}

// eqTemplate returns the element a filter like [type eq "work"] describes,
// so that add and replace can create it when nothing matches yet: what
// widely used clients expect when they set emails[type eq "work"].value.
func eqTemplate(e filter.Expression, def *attrDef) map[string]any {
	out := map[string]any{}
	var walk func(filter.Expression) bool
	walk = func(e filter.Expression) bool {
		switch x := e.(type) {
		case *filter.AttributeExpression:
			sd := def.sub(x.AttributePath.AttributeName)
			if sd == nil || !strings.EqualFold(string(x.Operator), "eq") || x.AttributePath.SubAttribute != nil {
				return false
			}
			switch v := x.CompareValue.(type) {
			case string:
				s, err := unquote(v)
				if err != nil {
					return false
				}
				out[sd.Name] = s
			case bool:
				out[sd.Name] = v
			default:
				return false
			}
			return true
		case *filter.LogicalExpression:
			return strings.EqualFold(string(x.Operator), "and") && walk(x.Left) && walk(x.Right)
		}
		return false
	}
	if !walk(e) {
		return nil
	}
	return out
}

func applyPath(rt *resourceType, out map[string]any, op patchOp, path string) error {
	t, err := resolveTarget(rt, path)
	if err != nil {
		return err
	}
	if t.whole {
		if op.Op == "remove" {
			delete(out, t.ext.ID)
			return nil
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return invalidValue(t.ext.ID, "must be an object, got %s", jsonKind(op.Value))
		}
		cont, _ := out[t.ext.ID].(map[string]any)
		cont = cloneMap(cont)
		for k, v := range obj {
			if err := setExtAttr(t.ext, cont, k, v); err != nil {
				return err
			}
		}
		setOrDelete(out, t.ext.ID, emptyToNil(cont))
		return nil
	}
	if t.ext == nil {
		return t.apply(out, op)
	}
	cont, _ := out[t.ext.ID].(map[string]any)
	cont = cloneMap(cont)
	if t.def == nil {
		t.name = existingKey(cont, t.name)
	}
	if err := t.apply(cont, op); err != nil {
		return err
	}
	setOrDelete(out, t.ext.ID, emptyToNil(cont))
	return nil
}

func (t *target) label() string {
	if t.ext != nil {
		return t.ext.ID + ":" + t.name
	}
	return t.name
}

// normalize checks a value for the target; undeclared attributes of an
// open extension take any JSON value.
func normalizeFor(def *attrDef, v any, path string) (any, error) {
	if def == nil {
		return emptyToNil(v), nil
	}
	return normalizeValue(def, v, path)
}

func (t *target) apply(cont map[string]any, op patchOp) error {
	switch {
	case t.filter != nil:
		return t.applyFiltered(cont, op)
	case t.sub != "":
		m, _ := cont[t.name].(map[string]any)
		m = cloneMap(m)
		if op.Op == "remove" {
			delete(m, t.sub)
		} else {
			nv, err := normalizeFor(t.subDef, op.Value, t.label()+"."+t.sub)
			if err != nil {
				return err
			}
			setOrDelete(m, t.sub, nv)
		}
		setOrDelete(cont, t.name, emptyToNil(m))
		return nil
	}
	cur := cont[t.name]
	if op.Op == "remove" {
		if t.def != nil && t.def.Multi && op.Value != nil {
			setOrDelete(cont, t.name, removeValues(cur, op.Value))
		} else {
			delete(cont, t.name)
		}
		return nil
	}
	v := op.Value
	if t.def != nil && t.def.Multi {
		if _, isArr := v.([]any); !isArr && v != nil {
			v = []any{v} // a single value added to a multi-valued attribute
		}
	}
	nv, err := normalizeFor(t.def, v, t.label())
	if err != nil {
		return err
	}
	switch {
	case t.def == nil || nv == nil:
		setOrDelete(cont, t.name, nv)
	case t.def.Multi && op.Op == "add":
		setOrDelete(cont, t.name, appendNew(cur, nv.([]any), t.name == "members"))
	case !t.def.Multi && t.def.Type == tComplex:
		// RFC 7644 §3.5.2.1 and §3.5.2.3: sub-attributes not given stay
		m, _ := cur.(map[string]any)
		m = cloneMap(m)
		for k, sv := range nv.(map[string]any) {
			m[k] = sv
		}
		cont[t.name] = m
	default:
		cont[t.name] = nv
	}
	return nil
}

func (t *target) applyFiltered(cont map[string]any, op patchOp) error {
	elems, _ := cont[t.name].([]any)
	out := make([]any, 0, len(elems)+1)
	matched := 0
	for _, e := range elems {
		m, ok := e.(map[string]any)
		if !ok || !t.filter(nil, m) {
			out = append(out, e)
			continue
		}
		matched++
		if op.Op == "remove" && t.filterSub == "" {
			continue
		}
		nm, err := t.updateElem(m, op)
		if err != nil {
			return err
		}
		if nm != nil {
			out = append(out, nm)
		}
	}
	if matched == 0 {
		if op.Op == "remove" {
			return nil // removing what is not there leaves nothing to do
		}
		if t.template == nil {
			return scimErr(400, "noTarget", "no value of %s matches the filter", t.label())
		}
		nm, err := t.updateElem(t.template, patchOp{Op: "add", Value: op.Value})
		if err != nil {
			return err
		}
		out = append(out, nm)
	}
	setOrDelete(cont, t.name, emptyToNil(out))
	return nil
}

func (t *target) updateElem(m map[string]any, op patchOp) (map[string]any, error) {
	nm := cloneMap(m)
	if t.filterSub != "" {
		if op.Op == "remove" {
			delete(nm, t.filterSub)
		} else {
			v, err := normalizeSingle(t.filterDef, op.Value, t.label()+"."+t.filterSub)
			if err != nil {
				return nil, err
			}
			setOrDelete(nm, t.filterSub, v)
		}
	} else {
		v, err := normalizeSingle(t.def, op.Value, t.label())
		if err != nil {
			return nil, err
		}
		vm, _ := v.(map[string]any)
		if op.Op == "replace" {
			nm = cloneMap(vm)
		} else {
			for k, sv := range vm {
				nm[k] = sv
			}
		}
	}
	if len(nm) == 0 {
		return nil, nil
	}
	return nm, nil
}

// appendNew adds values not already present (RFC 7644 §3.5.2.1: adding an
// existing value changes nothing). Members are the same member when their
// value is, and groups can be large, so they are compared through a set.
func appendNew(cur any, add []any, byValue bool) any {
	old, _ := cur.([]any)
	out := make([]any, len(old), len(old)+len(add))
	copy(out, old)
	if byValue {
		have := make(map[string]bool, len(out))
		for _, o := range out {
			have[memberValue(o)] = true
		}
		for _, a := range add {
			if v := memberValue(a); !have[v] {
				have[v] = true
				out = append(out, a)
			}
		}
		return out
	}
	for _, a := range add {
		dup := false
		for _, o := range out {
			if reflect.DeepEqual(o, a) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

// removeValues drops the elements whose value is listed, the form
// {"op":"remove","path":"members","value":[{"value":"id"}]} some clients use.
func removeValues(cur, v any) any {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	drop := make(map[string]bool, len(list))
	for _, e := range list {
		if s := memberValue(e); s != "" {
			drop[s] = true
		} else if s, ok := e.(string); ok {
			drop[s] = true
		}
	}
	old, _ := cur.([]any)
	out := make([]any, 0, len(old))
	for _, e := range old {
		if !drop[memberValue(e)] {
			out = append(out, e)
		}
	}
	return emptyToNil(out)
}

func checkPrimaries(rt *resourceType, attrs map[string]any) error {
	for _, d := range rt.core.Attrs {
		if !d.Multi || d.sub("primary") == nil {
			continue
		}
		list, _ := attrs[d.Name].([]any)
		n := 0
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m["primary"] == true {
				n++
			}
		}
		if n > 1 {
			return invalidValue(d.Name, "more than one value has primary set to true")
		}
	}
	return nil
}
