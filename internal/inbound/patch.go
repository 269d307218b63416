package inbound

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// PatchOp is one operation of a PATCH request (RFC 7644 3.5.2).
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Patch applies operations to a User in order. It stops at the first
// operation that cannot apply, naming it; the caller then keeps the User
// it had, since a PATCH is all or nothing.
func (m *Mapping) Patch(u *User, ops []PatchOp) *Error {
	if len(ops) == 0 {
		return errf("invalidValue", "Operations: a PATCH needs at least one operation")
	}
	for i, op := range ops {
		if err := m.patchOne(u, op); err != nil {
			err.Detail = fmt.Sprintf("Operations[%d] (%s %s): %s", i, op.Op, op.Path, err.Detail)
			return err
		}
	}
	return nil
}

func (m *Mapping) patchOne(u *User, op PatchOp) *Error {
	kind := strings.ToLower(op.Op)
	switch kind {
	case "add", "replace", "remove":
	default:
		return errf("invalidSyntax", "op must be add, replace or remove, not %q", op.Op)
	}
	path := strings.TrimSpace(op.Path)
	if path == "" {
		if kind == "remove" {
			return errf("noTarget", "remove needs a path")
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return errf("invalidValue", "without a path, the value must be an object of attributes, not %s", jsonKind(op.Value))
		}
		part, err := m.Parse(obj)
		if err != nil {
			return err
		}
		merge(u, part)
		return nil
	}
	if strings.EqualFold(path, "active") {
		if kind == "remove" {
			return errf("invalidValue", "active cannot be removed; replace it with false to end the employment")
		}
		b, ok := parseBool(op.Value)
		if !ok {
			return errf("invalidValue", "active: expected true or false, got %s", jsonKind(op.Value))
		}
		u.Active = &b
		return nil
	}
	if schema, ok := schemaOf(path); ok && schema != UserSchema {
		// The whole extension: {"department": ..., "manager": {...}}.
		if kind == "remove" {
			m.clear(u, func(s Slot) bool { return s.Schema == schema })
			return nil
		}
		part, err := m.Parse(map[string]any{path: op.Value})
		if err != nil {
			return err
		}
		merge(u, part)
		return nil
	}
	sel, err := m.parsePath(path, false)
	if err != nil {
		if sch, _ := schemaOf(path[:max(strings.LastIndexByte(path, ':'), 0)]); sch == HRSchema && strings.Contains(err.Detail, "no attribute") {
			err.ScimType = "invalidValue"
			err.Detail += " (no column is mapped from it)"
		}
		return err
	}
	if kind == "remove" {
		m.clear(u, sel.matches)
		return nil
	}
	if kind == "replace" && sel.def.multi() && sel.typ == "" && sel.sub == "" {
		m.clear(u, sel.matches) // a multi-valued attribute replaced as a whole
	}
	part := User{Values: map[Slot]any{}}
	if err := m.fill(&part, sel, op.Value, path); err != nil {
		return err
	}
	merge(u, part)
	return nil
}

func (m *Mapping) clear(u *User, match func(Slot) bool) {
	for sl := range m.column {
		if match(sl) {
			u.Values[sl] = nil
		}
	}
}

func merge(u *User, part User) {
	for sl, v := range part.Values {
		u.Values[sl] = v
	}
	if part.Active != nil {
		u.Active = part.Active
	}
}

// Match evaluates a filter against a User whose id is id. Supported:
// eq, ne, co, sw, ew and pr on id, active and every mapped attribute,
// combined with and, or and not.
func (m *Mapping) Match(e filter.Expression, id string, u User) (bool, *Error) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		l, err := m.Match(x.Left, id, u)
		if err != nil {
			return false, err
		}
		if x.Operator == filter.AND && !l || x.Operator == filter.OR && l {
			return l, nil
		}
		return m.Match(x.Right, id, u)
	case *filter.NotExpression:
		r, err := m.Match(x.Expression, id, u)
		return !r, err
	case *filter.AttributeExpression:
		vals, exact, err := m.valuesAt(x.AttributePath, id, u)
		if err != nil {
			return false, err
		}
		for _, v := range vals {
			if ok, err := compare(x.Operator, v, x.CompareValue, exact); err != nil || ok {
				return ok, err
			}
		}
		return x.Operator == filter.NE && len(vals) == 0, nil
	default:
		return false, errf("invalidFilter", "%v: accord filters on attributes with eq, ne, co, sw, ew and pr, combined with and, or and not", e)
	}
}

// valuesAt returns the values at a filter's attribute path, and whether
// they compare case-sensitively (id and externalId; RFC 7643 caseExact).
func (m *Mapping) valuesAt(p filter.AttributePath, id string, u User) ([]string, bool, *Error) {
	if p.URIPrefix == nil && p.SubAttribute == nil {
		switch strings.ToLower(p.AttributeName) {
		case "id":
			return []string{id}, true, nil
		case "active":
			if u.Active == nil {
				return nil, false, nil
			}
			return []string{strconv.FormatBool(*u.Active)}, false, nil
		}
	}
	sel, err := m.parsePath(p.String(), false)
	if err != nil {
		err.ScimType = "invalidFilter"
		return nil, false, err
	}
	var out []string
	for _, sl := range m.Slots() {
		if v := u.Values[sl]; v != nil && sel.matches(sl) {
			out = append(out, scalarText(v))
		}
	}
	return out, sel.schema == UserSchema && sel.def.name == "externalId", nil
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

func compare(op filter.CompareOperator, have string, want any, exact bool) (bool, *Error) {
	if op == filter.PR {
		return have != "", nil
	}
	w := scalarText(want)
	if !exact {
		have, w = strings.ToLower(have), strings.ToLower(w)
	}
	switch op {
	case filter.EQ:
		return have == w, nil
	case filter.NE:
		return have != w, nil
	case filter.CO:
		return strings.Contains(have, w), nil
	case filter.SW:
		return strings.HasPrefix(have, w), nil
	case filter.EW:
		return strings.HasSuffix(have, w), nil
	}
	return false, errf("invalidFilter", "operator %s is not supported (eq, ne, co, sw, ew, pr are)", op)
}

// KeyCandidates returns the ids a filter can only match among, when it
// pins the key (`externalId eq "E1"` where externalId is the key column,
// `id eq "E1"`, or and/or of those), so that the caller reads those
// persons instead of every one. ok is false when the filter does not pin.
func (m *Mapping) KeyCandidates(e filter.Expression) (ids []string, ok bool) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		l, lok := m.KeyCandidates(x.Left)
		r, rok := m.KeyCandidates(x.Right)
		switch {
		case x.Operator == filter.OR && lok && rok:
			return slices.Compact(slices.Sorted(slices.Values(append(l, r...)))), true
		case x.Operator == filter.AND && lok:
			return l, true
		case x.Operator == filter.AND && rok:
			return r, true
		}
	case *filter.AttributeExpression:
		s, isString := x.CompareValue.(string)
		if x.Operator != filter.EQ || !isString {
			return nil, false
		}
		if x.AttributePath.URIPrefix == nil && x.AttributePath.SubAttribute == nil && strings.EqualFold(x.AttributePath.AttributeName, "id") {
			return []string{s}, true
		}
		// Only externalId compares exactly (caseExact), as a key lookup does.
		sel, err := m.parsePath(x.AttributePath.String(), false)
		if err == nil && m.key == (Slot{Schema: UserSchema, Attr: "externalId"}) && sel.schema == UserSchema && sel.def.name == "externalId" {
			return []string{s}, true
		}
	}
	return nil, false
}
