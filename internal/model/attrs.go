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
	if b, ok := encodePlainAttrs(a); ok {
		return b, nil
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

// encodePlainAttrs writes attributes whose names and values are all
// plain strings (see AppendPlainJSON) without reflection, byte for byte
// as encoding/json would: a stored run holds one set per account
// created, and the reflection cost more than storing them.
func encodePlainAttrs(a Attributes) ([]byte, bool) {
	names := make([]string, 0, len(a))
	size := 2
	for k, v := range a {
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		names = append(names, k)
		size += len(k) + len(s) + 6
	}
	slices.Sort(names)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = AppendPlainJSON(b, k); !ok {
			return nil, false
		}
		b = append(b, ':')
		if b, ok = AppendPlainJSON(b, a[k].(string)); !ok {
			return nil, false
		}
	}
	return append(b, '}'), true
}

// AppendPlainJSON appends s as a JSON string when it is plain, printable
// ASCII that encoding/json writes as is (no quote, backslash or the
// characters it escapes for HTML), and says whether it did; otherwise b
// is returned unchanged and the caller encodes with encoding/json.
func AppendPlainJSON(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
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
