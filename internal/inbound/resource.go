package inbound

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/model"
)

// User is a SCIM User as accord holds it: the values of the mapped slots
// and whether the worker is active. Everything else a client sends is
// not kept.
type User struct {
	Values map[Slot]any
	// Active is nil when the client did not say.
	Active *bool
}

// FromPerson gives a person's mapped columns as a User. Dates are written
// in their column's layout, so that they read back the same.
func (m *Mapping) FromPerson(p *model.Person) User {
	u := User{Values: map[Slot]any{}}
	for col, sl := range m.slots {
		if v := m.wireValue(col, p.Attributes[col]); v != nil {
			u.Values[sl] = v
		}
	}
	return u
}

// Record gives the source record of a User: every mapped column, empty
// where the User has no value, and the unmapped columns of keep (the
// person as stored, or nil), which SCIM cannot change.
func (m *Mapping) Record(u User, keep *model.Person) map[string]any {
	rec := map[string]any{}
	if keep != nil {
		for _, c := range m.Spec.Columns {
			if _, mapped := m.slots[c.Name]; !mapped {
				if v := m.wireValue(c.Name, keep.Attributes[c.Name]); v != nil {
					rec[c.Name] = v
				}
			}
		}
	}
	for col, sl := range m.slots {
		rec[col] = u.Values[sl]
	}
	return rec
}

// Problem is a record problem named by the SCIM attribute that caused
// it, with the value sent (cut short), if any.
func (m *Mapping) Problem(column string, value any, reason string) *Error {
	if sl, ok := m.slots[column]; ok {
		if s, isString := value.(string); isString && s != "" {
			if r := []rune(s); len(r) > 40 {
				s = string(r[:40]) + "…"
			}
			return errf("invalidValue", "%s (column %s of source %s) %q: %s", sl, column, m.Spec.Name, s, reason)
		}
		return errf("invalidValue", "%s (column %s of source %s): %s", sl, column, m.Spec.Name, reason)
	}
	if column == "" {
		return errf("invalidValue", "%s", reason)
	}
	return errf("invalidValue", "column %s of source %s (not mapped from SCIM): %s", column, m.Spec.Name, reason)
}

func (m *Mapping) wireValue(col string, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case model.Date:
		if x.IsZero() {
			return nil
		}
		layout := "2006-01-02"
		for _, c := range m.Spec.Columns {
			if c.Name == col && c.Format != "" {
				layout = c.Format
			}
		}
		return x.Time().Format(layout)
	case string:
		if x == "" {
			return nil
		}
		return x
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case int:
		return json.Number(strconv.Itoa(x))
	default:
		return x
	}
}

// Parse reads a User resource as sent to create or replace (all of it)
// or as the value of a PATCH (partial): attributes of the schemas accord
// knows but does not map are ignored, anything else is refused, naming
// the attribute.
//
// An extension the body declares in "schemas" but accord does not know
// (Entra ID's inbound provisioning often carries one of the customer's
// own) is ignored like an unmapped attribute; an undeclared unknown URN
// is refused, as it is more likely a typo.
func (m *Mapping) Parse(body map[string]any) (User, *Error) {
	u := User{Values: map[Slot]any{}}
	declared := map[string]bool{}
	if list, ok := body["schemas"].([]any); ok {
		for _, x := range list {
			if s, ok := x.(string); ok {
				declared[strings.ToLower(s)] = true
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(body)) {
		v := body[k]
		if _, known := schemaOf(k); !known && declared[strings.ToLower(k)] {
			continue
		}
		if schema, ok := schemaOf(k); ok && k != "" && strings.HasPrefix(strings.ToLower(k), "urn:") {
			obj, ok := v.(map[string]any)
			if !ok {
				return u, errf("invalidValue", "%s: expected an object of the extension's attributes, got %s", k, jsonKind(v))
			}
			for _, ak := range slices.Sorted(maps.Keys(obj)) {
				if err := m.parseAttr(&u, schema, ak, obj[ak], k+":"+ak); err != nil {
					return u, err
				}
			}
			continue
		}
		if i := strings.LastIndexByte(k, ':'); i > 0 && strings.HasPrefix(strings.ToLower(k), "urn:") {
			// A fully qualified attribute as a key, as some clients send
			// in a PATCH value: "urn:...:enterprise:2.0:User:department".
			schema, ok := schemaOf(k[:i])
			if !ok {
				return u, errf("invalidSyntax", "%s: unknown schema %q (known: %s, %s, %s)", k, k[:i], UserSchema, EnterpriseSchema, HRSchema)
			}
			if err := m.parseAttr(&u, schema, k[i+1:], v, k); err != nil {
				return u, err
			}
			continue
		}
		if strings.EqualFold(k, "active") {
			b, ok := parseBool(v)
			if !ok {
				return u, errf("invalidValue", "active: expected true or false, got %s", jsonKind(v))
			}
			u.Active = &b
			continue
		}
		if slices.ContainsFunc(coreOther, func(s string) bool { return strings.EqualFold(s, k) }) {
			continue
		}
		if err := m.parseAttr(&u, UserSchema, k, v, k); err != nil {
			return u, err
		}
	}
	return u, nil
}

// parseAttr reads one attribute of a schema into the User's slots.
func (m *Mapping) parseAttr(u *User, schema, name string, v any, where string) *Error {
	def, ok := m.lookup(schema, name)
	if !ok {
		if schema == HRSchema {
			return errf("invalidValue", "%s: no column is mapped from this attribute (inbound.scim.attributes)", where)
		}
		return errf("invalidSyntax", "%s: unknown attribute of %s", where, schema)
	}
	sel := selector{schema: schema, def: def}
	return m.fill(u, sel, v, where)
}

// fill puts a value at a selector: a scalar for a simple attribute or
// sub-attribute, an object for a complex attribute, an array of objects
// for a multi-valued one. Slots the mapping does not use are skipped.
func (m *Mapping) fill(u *User, sel selector, v any, where string) *Error {
	switch {
	case sel.def.multi() && sel.typ == "":
		arr, ok := v.([]any)
		if !ok {
			if v == nil {
				return nil
			}
			return errf("invalidValue", "%s: expected an array, got %s", where, jsonKind(v))
		}
		for i, e := range arr {
			obj, ok := e.(map[string]any)
			at := fmt.Sprintf("%s[%d]", where, i)
			if !ok {
				return errf("invalidValue", "%s: expected an object, got %s", at, jsonKind(e))
			}
			t, _ := obj["type"].(string)
			if t == "" {
				if b, _ := parseBool(obj["primary"]); b || len(arr) == 1 {
					t = sel.def.types[0] // an untyped primary value is the first type, "work"
				}
			}
			if !slices.Contains(sel.def.types, t) {
				continue // a type accord does not map is ignored, as unmapped attributes are
			}
			s := sel
			s.typ = t
			if err := m.fill(u, s, withoutMeta(obj), at); err != nil {
				return err
			}
		}
		return nil
	case sel.def.complex() && sel.sub == "":
		obj, ok := v.(map[string]any)
		if !ok {
			if v == nil {
				for sl := range m.column {
					if sel.matches(sl) {
						u.Values[sl] = nil
					}
				}
				return nil
			}
			return errf("invalidValue", "%s: expected an object, got %s", where, jsonKind(v))
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			i := slices.IndexFunc(sel.def.subs, func(s string) bool { return strings.EqualFold(s, k) })
			if i < 0 {
				if sel.def.multi() || sel.def.name == "manager" {
					continue // type, primary, display, $ref, displayName
				}
				return errf("invalidSyntax", "%s.%s: %s has no sub-attribute %q", where, k, sel.def.name, k)
			}
			s := sel
			s.sub = sel.def.subs[i]
			if err := m.fill(u, s, obj[k], where+"."+s.sub); err != nil {
				return err
			}
		}
		return nil
	}
	sl := Slot{Schema: sel.schema, Attr: sel.def.name, Type: sel.typ, Sub: sel.sub}
	switch v.(type) {
	case map[string]any, []any:
		return errf("invalidValue", "%s: expected a single value, got %s", where, jsonKind(v))
	}
	if _, mapped := m.column[sl]; mapped {
		u.Values[sl] = v
	}
	return nil
}

func withoutMeta(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		switch strings.ToLower(k) {
		case "type", "primary", "display":
		default:
			out[k] = v
		}
	}
	return out
}

// parseBool reads a boolean, also as the strings "True"/"False" that
// some clients (Entra ID among them) send in PATCH values.
func parseBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", x)
	}
}

// Render writes a User as a SCIM resource (without id and meta, which
// are the caller's): nested objects, extensions under their URN, the
// schemas it uses.
func (m *Mapping) Render(u User) map[string]any {
	res := map[string]any{}
	schemas := []string{UserSchema}
	for _, sl := range m.Slots() {
		v, ok := u.Values[sl]
		if !ok || v == nil {
			continue
		}
		into := res
		if sl.Schema != UserSchema {
			ext, _ := res[sl.Schema].(map[string]any)
			if ext == nil {
				ext = map[string]any{}
				res[sl.Schema] = ext
				schemas = append(schemas, sl.Schema)
			}
			into = ext
		}
		switch {
		case sl.Type != "":
			arr, _ := into[sl.Attr].([]any)
			var elem map[string]any
			for _, e := range arr {
				if o := e.(map[string]any); o["type"] == sl.Type {
					elem = o
				}
			}
			if elem == nil {
				elem = map[string]any{"type": sl.Type}
				if len(arr) == 0 {
					elem["primary"] = true
				}
				into[sl.Attr] = append(arr, elem)
			}
			elem[sl.Sub] = v
		case sl.Sub != "":
			obj, _ := into[sl.Attr].(map[string]any)
			if obj == nil {
				obj = map[string]any{}
				into[sl.Attr] = obj
			}
			obj[sl.Sub] = v
		default:
			into[sl.Attr] = v
		}
	}
	slices.Sort(schemas[1:])
	res["schemas"] = schemas
	if u.Active != nil {
		res["active"] = *u.Active
	}
	return res
}
