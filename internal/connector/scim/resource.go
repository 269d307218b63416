package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/accord-iam/accord/internal/model"
)

// resource is a SCIM resource as JSON objects, numbers kept as
// json.Number so that int64 values survive.
type resource = map[string]any

func decodeResource(b []byte) (resource, error) {
	var r resource
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("answer is not a JSON object: %v", err)
	}
	return r, nil
}

// lookup finds key in m ignoring case, as SCIM attribute names are
// case-insensitive; it returns the key as the target spells it.
func lookup(m map[string]any, key string) (string, any, bool) {
	if v, ok := m[key]; ok {
		return key, v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return k, v, true
		}
	}
	return "", nil, false
}

func str(m map[string]any, key string) string {
	_, v, _ := lookup(m, key)
	s, _ := v.(string)
	return s
}

// toJSON converts an attribute value for the wire. def, when known, lets
// a date become the dateTime the schema declares.
func toJSON(v any, def *Attribute) any {
	switch x := v.(type) {
	case model.Date:
		if def != nil && def.Type == "dateTime" {
			return x.String() + "T00:00:00Z"
		}
		return x.String()
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case int:
		return int64(x)
	}
	return v
}

// fromJSON converts a value read from the wire to an attribute value; ok
// is false for values with no flat form (an object).
func fromJSON(v any) (any, bool) {
	switch x := v.(type) {
	case string, bool:
		return x, true
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case nil:
		return nil, false
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := fromJSON(e)
			if !ok {
				return nil, false
			}
			out = append(out, model.FormatValue(s))
		}
		return out, true
	}
	return nil, false
}

// holder returns the object p's attribute lives in: r itself or the
// extension's object (created when create is set).
func holder(r resource, p attrPath, create bool) map[string]any {
	if p.urn == "" {
		return r
	}
	k, v, ok := lookup(r, p.urn)
	if m, isMap := v.(map[string]any); ok && isMap {
		return m
	}
	if !create {
		return nil
	}
	if k == "" {
		k = p.urn
	}
	m := map[string]any{}
	r[k] = m
	return m
}

// element finds the element of a multi-valued attribute that p's filter
// selects, and its index (-1 when none).
func element(list []any, p attrPath) (int, map[string]any) {
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if _, v, ok := lookup(m, p.fAttr); ok && strings.EqualFold(fmt.Sprint(v), p.fValue) {
			return i, m
		}
	}
	return -1, nil
}

// getValue reads p from r.
func getValue(r resource, p attrPath) (any, bool) {
	h := holder(r, p, false)
	if h == nil {
		return nil, false
	}
	_, v, ok := lookup(h, p.attr)
	if !ok {
		return nil, false
	}
	switch {
	case p.filtered():
		list, _ := v.([]any)
		_, el := element(list, p)
		if el == nil {
			return nil, false
		}
		_, v, ok = lookup(el, p.sub)
	case p.sub != "":
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		_, v, ok = lookup(m, p.sub)
	}
	if !ok {
		return nil, false
	}
	return fromJSON(v)
}

// setValue writes v at p in r, creating what is missing; a nil v removes.
func setValue(r resource, p attrPath, v any) {
	h := holder(r, p, v != nil)
	if h == nil {
		return
	}
	k, cur, ok := lookup(h, p.attr)
	if !ok {
		k = p.attr
	}
	switch {
	case p.filtered():
		list, _ := cur.([]any)
		i, el := element(list, p)
		if v == nil {
			if el != nil && strings.EqualFold(p.sub, "value") {
				h[k] = append(list[:i:i], list[i+1:]...)
			} else if el != nil {
				deleteKey(el, p.sub)
			}
			return
		}
		if el == nil {
			el = map[string]any{p.fAttr: p.fValue}
			list = append(list, el)
			h[k] = list
		}
		setKey(el, p.sub, v)
	case p.sub != "":
		m, isMap := cur.(map[string]any)
		if !isMap {
			if v == nil {
				return
			}
			m = map[string]any{}
			h[k] = m
		}
		if v == nil {
			deleteKey(m, p.sub)
			return
		}
		setKey(m, p.sub, v)
	default:
		if v == nil {
			delete(h, k)
			return
		}
		h[k] = v
	}
}

func setKey(m map[string]any, key string, v any) {
	if k, _, ok := lookup(m, key); ok {
		key = k
	}
	m[key] = v
}

func deleteKey(m map[string]any, key string) {
	if k, _, ok := lookup(m, key); ok {
		delete(m, k)
	}
}

// empty reports a value that means "no value" for the target.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	}
	return false
}

// ensureSchemas lists in r["schemas"] the core schema and every
// extension r carries.
func ensureSchemas(r resource, core string) {
	have := map[string]bool{}
	var list []any
	if _, v, ok := lookup(r, "schemas"); ok {
		if l, isList := v.([]any); isList {
			list = l
		}
	}
	for _, s := range list {
		have[strings.ToLower(fmt.Sprint(s))] = true
	}
	add := func(s string) {
		if !have[strings.ToLower(s)] {
			have[strings.ToLower(s)] = true
			list = append(list, s)
		}
	}
	add(core)
	var exts []string
	for k, v := range r {
		if _, isMap := v.(map[string]any); isMap && strings.HasPrefix(strings.ToLower(k), "urn:") {
			exts = append(exts, k)
		}
	}
	sort.Strings(exts)
	for _, e := range exts {
		add(e)
	}
	setKey(r, "schemas", list)
}

// flatten reads the account attributes out of r: the wanted paths, or,
// with none wanted, every simple value it can name.
func flatten(r resource, want []attrPath) model.Attributes {
	out := model.Attributes{}
	if len(want) > 0 {
		for _, p := range want {
			if v, ok := getValue(r, p); ok {
				out[p.name] = v
			}
		}
		return out
	}
	flattenInto(out, r, "")
	return out
}

// skipped are attributes that are not account attributes: they belong to
// the protocol or are managed by other operations (active, groups).
var skipped = map[string]bool{"schemas": true, "id": true, "meta": true, "groups": true, "active": true, "password": true}

func flattenInto(out model.Attributes, obj map[string]any, prefix string) {
	for k, v := range obj {
		if prefix == "" && skipped[strings.ToLower(k)] {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			if prefix == "" && strings.HasPrefix(strings.ToLower(k), "urn:") {
				flattenInto(out, x, k+":")
				continue
			}
			for sk, sv := range x {
				if fv, ok := fromJSON(sv); ok {
					out[prefix+k+"."+sk] = fv
				}
			}
		case []any:
			if fv, ok := fromJSON(x); ok {
				out[prefix+k] = fv
				continue
			}
			for _, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					continue
				}
				typ := str(m, "type")
				if typ == "" {
					continue
				}
				for sk, sv := range m {
					if strings.EqualFold(sk, "type") {
						continue
					}
					if fv, ok := fromJSON(sv); ok {
						out[prefix+k+"[type eq "+quote(typ)+"]."+sk] = fv
					}
				}
			}
		default:
			if fv, ok := fromJSON(x); ok {
				out[prefix+k] = fv
			}
		}
	}
}
