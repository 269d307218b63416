package sqlstore

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/model"
)

// Column encodings shared by both dialects. Empty values are stored as
// 0 or '' and read back as zero values (nil maps and slices), so a round
// trip gives back what a caller would build by hand.

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func parseDate(s, what string) (model.Date, error) {
	if s == "" {
		return model.Date{}, nil
	}
	d, err := model.ParseDate(s)
	if err != nil {
		return model.Date{}, fmt.Errorf("stored %s: %w", what, err)
	}
	return d, nil
}

func encAttrs(a model.Attributes) (string, error) {
	if len(a) == 0 {
		return "", nil
	}
	b, err := model.EncodeAttrs(a)
	return string(b), err
}

func decAttrs(s string) (model.Attributes, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	return model.DecodeAttrs([]byte(s))
}

// encJSON writes v as JSON text, "" for an empty slice or map.
func encJSON[T any](v T, empty bool) (string, error) {
	if empty {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func decJSON[T any](s string, v *T) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

func encStrings(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	// Plain names are written without reflection, as encoding/json would.
	b := make([]byte, 0, 16*len(ss))
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = model.AppendPlainJSON(b, s); !ok {
			s, _ := encJSON(ss, false) // []string always marshals
			return s
		}
	}
	return string(append(b, ']'))
}

func decStrings(s string) ([]string, error) {
	// What encStrings wrote without a backslash holds no escaped quote, so
	// the elements are exactly the text between '","': the common case,
	// read without the reflection of encoding/json (EachAccount reads
	// millions of entitlements).
	if n := len(s); n >= 4 && s[:2] == `["` && s[n-2:] == `"]` && !strings.Contains(s, `\`) {
		return strings.Split(s[2:n-2], `","`), nil
	}
	var ss []string
	if err := decJSON(s, &ss); err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, nil
	}
	return ss, nil
}

func encMap(m map[string]string) string {
	s, _ := encJSON(m, len(m) == 0) // map[string]string always marshals
	return s
}

func decMap(s string) (map[string]string, error) {
	var m map[string]string
	if err := decJSON(s, &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// sortedSet returns ss sorted with duplicates and empty names removed.
func sortedSet(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// strs converts string-like values (states, kinds) for IN lists.
func strs[T ~string](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
