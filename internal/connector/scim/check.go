package scim

import (
	"context"
	"fmt"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// CheckAttributes checks mapped values against the User schema the target
// declares in /Schemas: known attribute, writable, of the declared type,
// and, for a create, every required attribute present. A target that does
// not offer /Schemas, or cannot be reached now, is not checked: the
// target's own answer will tell.
func (c *Conn) CheckAttributes(ctx context.Context, create bool, attrs model.Attributes) []connector.AttributeProblem {
	s, err := c.Schema(ctx)
	if err != nil || s == nil || !s.SchemasOffered {
		return nil
	}
	var out []connector.AttributeProblem
	add := func(attr, format string, args ...any) {
		out = append(out, connector.AttributeProblem{Attribute: attr, Message: fmt.Sprintf(format, args...)})
	}
	for _, name := range attrs.Keys() {
		a, ok := s.Lookup(name)
		if !ok {
			add(name, "the target's /Schemas does not declare this attribute")
			continue
		}
		if strings.EqualFold(a.Mutability, "readOnly") {
			add(name, "the target declares it read-only")
			continue
		}
		if msg := typeMismatch(a, attrs[name]); msg != "" {
			add(name, "%s", msg)
		}
		if a.Required && model.ValueEqual(attrs[name], nil) {
			add(name, "the target requires a value, and the mapping gives an empty one")
		}
	}
	if create {
		for _, a := range s.Attributes[coreUserURN] {
			if !a.Required || skipRequired[strings.ToLower(a.Name)] {
				continue
			}
			if !mapsTopLevel(attrs, a.Name) {
				add(a.Name, "the target requires it on create, and the account mapping does not set it")
			}
		}
	}
	return out
}

// skipRequired are required attributes the target or the connector sets.
var skipRequired = map[string]bool{"id": true, "schemas": true, "meta": true, "active": true}

func mapsTopLevel(attrs model.Attributes, name string) bool {
	for k := range attrs {
		head := k
		if i := strings.IndexAny(head, ".["); i >= 0 {
			head = head[:i]
		}
		if strings.EqualFold(head, name) {
			return true
		}
	}
	return false
}

// typeMismatch says why v cannot be a value of a, or "".
func typeMismatch(a Attribute, v any) string {
	if v == nil {
		return ""
	}
	want := strings.ToLower(a.Type)
	switch want {
	case "complex":
		return "the target declares a complex attribute here; map its sub-attributes (e.g. " + a.Name + ".value)"
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("the target declares a boolean, the mapping gives %s", kindOf(v))
		}
	case "integer":
		if _, ok := v.(int64); !ok {
			return fmt.Sprintf("the target declares an integer, the mapping gives %s", kindOf(v))
		}
	case "decimal":
		switch v.(type) {
		case int64, float64:
		default:
			return fmt.Sprintf("the target declares a decimal, the mapping gives %s", kindOf(v))
		}
	case "string", "reference", "datetime", "binary":
		switch v.(type) {
		case string, model.Date:
		default:
			return fmt.Sprintf("the target declares a %s, the mapping gives %s", a.Type, kindOf(v))
		}
	}
	return ""
}

func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a decimal"
	case []string:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}
