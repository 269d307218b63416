package targetsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SCIMError is a SCIM error (RFC 7644 §3.12). HTTP answers carry it as the
// standard error body; the Go accessors return it so tests can inspect the
// same status and scimType a client would see.
type SCIMError struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *SCIMError) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

func scimErr(status int, scimType, format string, args ...any) *SCIMError {
	return &SCIMError{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func invalidValue(path, format string, args ...any) *SCIMError {
	return scimErr(400, "invalidValue", "attribute %q: %s", path, fmt.Sprintf(format, args...))
}

// decodeJSON decodes a request body keeping numbers exact, so an
// employeeNumber sent as 00042 or a large integer is never rounded.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return scimErr(400, "invalidSyntax", "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return scimErr(400, "invalidSyntax", "request body has data after the JSON value")
	}
	return nil
}

// toJSONValues turns Go values given to the programmatic API (ints,
// []string, structs) into the same shapes a decoded request body has.
func toJSONValues(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, scimErr(400, "invalidValue", "value cannot be encoded as JSON: %v", err)
	}
	var out any
	if err := decodeJSON(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// normalizeResource validates a whole resource (POST, PUT, seed) and returns
// its attributes under canonical names. Common and read-only attributes (id,
// meta, schemas, groups) are ignored, as RFC 7644 §3.3 and §3.5.1 ask.
func (rt *resourceType) normalizeResource(obj map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if err := rt.setTop(out, k, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (rt *resourceType) setTop(out map[string]any, key string, v any) error {
	switch strings.ToLower(key) {
	case "schemas", "id", "meta":
		return nil
	case "externalid":
		if v == nil {
			delete(out, "externalId")
			return nil
		}
		if _, ok := v.(string); !ok {
			return invalidValue("externalId", "must be a string, got %s", jsonKind(v))
		}
		out["externalId"] = v
		return nil
	}
	if len(key) > 4 && strings.EqualFold(key[:4], "urn:") {
		return rt.setURN(out, key, v)
	}
	def := rt.core.attr(key)
	if def == nil {
		return invalidValue(key, "not an attribute of %s", rt.core.ID)
	}
	if def.readOnly() {
		return nil
	}
	nv, err := normalizeValue(def, v, def.Name)
	if err != nil {
		return err
	}
	setOrDelete(out, def.Name, nv)
	return nil
}

// setURN handles keys that name an extension object or a fully qualified
// attribute such as "urn:...:enterprise:2.0:User:department".
func (rt *resourceType) setURN(out map[string]any, key string, v any) error {
	if ext := rt.ext(key); ext != nil {
		if v == nil {
			delete(out, ext.ID)
			return nil
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return invalidValue(ext.ID, "must be an object, got %s", jsonKind(v))
		}
		nv, err := normalizeExt(ext, obj)
		if err != nil {
			return err
		}
		setOrDelete(out, ext.ID, nv)
		return nil
	}
	if name, ok := cutURN(key, rt.core.ID); ok {
		return rt.setTop(out, name, v)
	}
	for _, ext := range rt.exts {
		name, ok := cutURN(key, ext.ID)
		if !ok {
			continue
		}
		cur, _ := out[ext.ID].(map[string]any)
		merged := cloneMap(cur)
		if err := setExtAttr(ext, merged, name, v); err != nil {
			return err
		}
		setOrDelete(out, ext.ID, emptyToNil(merged))
		return nil
	}
	return invalidValue(key, "unknown schema; %s supports %s", rt.Name, strings.Join(rt.schemaIDs(), ", "))
}

func (rt *resourceType) schemaIDs() []string {
	ids := []string{rt.core.ID}
	for _, e := range rt.exts {
		ids = append(ids, e.ID)
	}
	return ids
}

func cutURN(key, urn string) (string, bool) {
	if len(key) > len(urn)+1 && strings.EqualFold(key[:len(urn)], urn) && key[len(urn)] == ':' {
		return key[len(urn)+1:], true
	}
	return "", false
}

func normalizeExt(ext *schemaDef, obj map[string]any) (any, error) {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if err := setExtAttr(ext, out, k, v); err != nil {
			return nil, err
		}
	}
	return emptyToNil(out), nil
}

func setExtAttr(ext *schemaDef, out map[string]any, name string, v any) error {
	def := ext.attr(name)
	if def == nil {
		if !ext.open {
			return invalidValue(ext.ID+":"+name, "not an attribute of %s", ext.ID)
		}
		key := existingKey(out, name)
		setOrDelete(out, key, emptyToNil(v))
		return nil
	}
	nv, err := normalizeValue(def, v, ext.ID+":"+def.Name)
	if err != nil {
		return err
	}
	setOrDelete(out, def.Name, nv)
	return nil
}

// normalizeValue checks v against def and returns it with canonical
// sub-attribute names; nil means unassigned.
func normalizeValue(def *attrDef, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if !def.Multi {
		return normalizeSingle(def, v, path)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, invalidValue(path, "is multi-valued and must be an array, got %s", jsonKind(v))
	}
	out := make([]any, 0, len(arr))
	primaries := 0
	for i, e := range arr {
		ne, err := normalizeSingle(def, e, path+"["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		if ne == nil {
			continue
		}
		if m, ok := ne.(map[string]any); ok && m["primary"] == true {
			primaries++
		}
		out = append(out, ne)
	}
	if primaries > 1 {
		return nil, invalidValue(path, "more than one value has primary set to true")
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func normalizeSingle(def *attrDef, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch def.Type {
	case tString, tReference, tBinary:
		if _, ok := v.(string); !ok {
			return nil, invalidValue(path, "must be a string, got %s", jsonKind(v))
		}
	case tDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, invalidValue(path, "must be a dateTime string, got %s", jsonKind(v))
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, invalidValue(path, "is not an xsd:dateTime such as 2024-01-31T12:00:00Z")
		}
	case tBoolean:
		if _, ok := v.(bool); !ok {
			return nil, invalidValue(path, "must be a boolean, got %s", jsonKind(v))
		}
	case tInteger:
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return nil, invalidValue(path, "must be an integer, got %s", jsonKind(v))
		}
	case tDecimal:
		n, ok := v.(json.Number)
		if _, err := n.Float64(); !ok || err != nil {
			return nil, invalidValue(path, "must be a number, got %s", jsonKind(v))
		}
	case tComplex:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, invalidValue(path, "must be an object, got %s", jsonKind(v))
		}
		out := make(map[string]any, len(obj))
		for k, sv := range obj {
			sd := def.sub(k)
			if sd == nil {
				return nil, invalidValue(path+"."+k, "not a sub-attribute of %s", def.Name)
			}
			nv, err := normalizeSingle(sd, sv, path+"."+sd.Name)
			if err != nil {
				return nil, err
			}
			setOrDelete(out, sd.Name, nv)
		}
		return emptyToNil(out), nil
	}
	return v, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func setOrDelete(m map[string]any, k string, v any) {
	if v == nil {
		delete(m, k)
		return
	}
	m[k] = v
}

// emptyToNil treats an empty object or array as unassigned, as RFC 7643
// §2.5 does.
func emptyToNil(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return nil
		}
	case []any:
		if len(x) == 0 {
			return nil
		}
	}
	return v
}

func existingKey(m map[string]any, name string) string {
	if _, ok := m[name]; ok {
		return name
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

// cloneMap copies one level: stored values are never mutated in place, so
// a writer clones only the containers it changes.
func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
