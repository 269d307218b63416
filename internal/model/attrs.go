package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Attributes are typed values keyed by name. A value is one of string,
// int64, float64, bool, Date, []string, or nil. Anything else is a
// programming error and is rejected by EncodeAttrs.
type Attributes map[string]any

// dateTag marks a Date inside encoded attributes so that a round trip
// through the store gives back a Date, not a string that looks like one.
const dateTag = "$date"

// EncodeAttrs writes attributes as JSON, keeping dates typed.
func EncodeAttrs(a Attributes) ([]byte, error) {
	if len(a) == 0 {
		return []byte("{}"), nil
	}
	out := make(map[string]any, len(a))
	for k, v := range a {
		switch x := v.(type) {
		case Date:
			out[k] = map[string]string{dateTag: x.String()}
		case int:
			out[k] = int64(x)
		case string, int64, float64, bool, nil, []string:
			out[k] = x
		default:
			return nil, fmt.Errorf("attribute %q: unsupported value type %T", k, v)
		}
	}
	return json.Marshal(out)
}

// DecodeAttrs reads what EncodeAttrs wrote.
func DecodeAttrs(b []byte) (Attributes, error) {
	if len(b) == 0 {
		return Attributes{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	out := make(Attributes, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				out[k] = i
			} else if f, err := x.Float64(); err == nil {
				out[k] = f
			} else {
				return nil, fmt.Errorf("attribute %q: bad number %s", k, x)
			}
		case map[string]any:
			s, ok := x[dateTag].(string)
			if !ok || len(x) != 1 {
				return nil, fmt.Errorf("attribute %q: unexpected object", k)
			}
			d, err := ParseDate(s)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", k, err)
			}
			out[k] = d
		case []any:
			ss := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("attribute %q: list of non-strings", k)
				}
				ss[i] = s
			}
			out[k] = ss
		default:
			out[k] = x
		}
	}
	return out, nil
}

// Clone returns a shallow copy (values are immutable by convention).
func (a Attributes) Clone() Attributes {
	if a == nil {
		return nil
	}
	return maps.Clone(a)
}

// Keys returns the attribute names, sorted.
func (a Attributes) Keys() []string {
	return slices.Sorted(maps.Keys(a))
}

// ValueEqual compares two attribute values the way a target sees them: an
// int and an int64 of the same number are equal, and so are nil and "".
func ValueEqual(a, b any) bool {
	a, b = normalise(a), normalise(b)
	switch x := a.(type) {
	case []string:
		y, ok := b.([]string)
		return ok && slices.Equal(x, y)
	default:
		return a == b
	}
}

func normalise(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	case nil:
		return ""
	case []any:
		ss := make([]string, len(x))
		for i, e := range x {
			ss[i] = FormatValue(e)
		}
		return ss
	}
	return v
}

// FormatValue renders a value for humans and for templates.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case Date:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	default:
		return fmt.Sprint(x)
	}
}
