package reqtmpl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/tmpl"
)

// JSON is a JSON body template. A hole where a JSON value stands is
// replaced by the expression's result encoded as JSON, keeping its type:
//
//	{"username": {{ account.username }}, "active": {{ true }},
//	 "groups": {{ entitlements }},
//	 "ops": {{ map(entitlements, ({"op": "add", "id": #})) }}}
//
// (expr reads braces right after a comma as a predicate, so a map literal
// given to map() is wrapped in parentheses.) A hole inside a JSON string is replaced by the value's text, escaped
// for a JSON string: {"note": "created for {{ person }}"}.
type JSON struct {
	src   string
	parts []jsonPart
}

type jsonPart struct {
	lit  string
	str  *tmpl.Template // a hole inside a string
	val  *vm.Program    // a hole in a value position
	code string
}

// ParseJSON compiles src against env and checks that it is JSON once its
// holes are filled.
func ParseJSON(src string, env Env) (*JSON, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty body")
	}
	if _, err := tmpl.Parse(src, env.Vars); err != nil {
		return nil, err // unbalanced braces and the like, reported as tmpl does
	}
	j := &JSON{src: src}
	pieces, _ := tmpl.Split(src) // tmpl.Parse has accepted src
	inString, escaped := false, false
	for i, p := range pieces {
		if i%2 == 0 {
			if p != "" {
				j.parts = append(j.parts, jsonPart{lit: p})
			}
			for k := 0; k < len(p); k++ {
				c := p[k]
				switch {
				case escaped:
					escaped = false
				case inString && c == '\\':
					escaped = true
				case c == '"':
					inString = !inString
				}
			}
			continue
		}
		if escaped {
			return nil, fmt.Errorf("{{ %s }} follows a backslash inside a JSON string", p)
		}
		hole := "{{ " + p + " }}"
		if inString {
			t, err := env.parse(hole)
			if err != nil {
				return nil, err
			}
			j.parts = append(j.parts, jsonPart{str: t, code: p})
			continue
		}
		if _, err := env.parse(hole); err != nil {
			return nil, err
		}
		prog, err := expr.Compile(p, append([]expr.Option{expr.Env(env.Vars)}, tmpl.Functions...)...)
		if err != nil {
			return nil, err
		}
		j.parts = append(j.parts, jsonPart{val: prog, code: p})
	}
	if err := j.checkShape(); err != nil {
		return nil, err
	}
	return j, nil
}

// checkShape fills value holes with null and string holes with nothing
// and asks whether the result is JSON.
func (j *JSON) checkShape() error {
	var b bytes.Buffer
	for _, p := range j.parts {
		switch {
		case p.val != nil:
			b.WriteString("null")
		case p.str != nil:
		default:
			b.WriteString(p.lit)
		}
	}
	var v any
	err := json.Unmarshal(b.Bytes(), &v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		at := int(se.Offset)
		from, to := max(0, at-20), min(b.Len(), at+10)
		return fmt.Errorf("body is not JSON: %v near %q (holes shown as null)", se, b.String()[from:to])
	}
	return fmt.Errorf("body is not JSON: %v", err)
}

// Render renders the body.
func (j *JSON) Render(vals map[string]any) ([]byte, error) {
	var b bytes.Buffer
	for _, p := range j.parts {
		switch {
		case p.val != nil:
			v, err := tmpl.Run(p.val, vals)
			if err != nil {
				return nil, fmt.Errorf("{{ %s }}: %w", p.code, err)
			}
			enc, err := encodeJSON(jsonValue(v))
			if err != nil {
				return nil, fmt.Errorf("{{ %s }}: %w", p.code, err)
			}
			b.Write(enc)
		case p.str != nil:
			s, err := p.str.Render(vals, nil)
			if err != nil {
				return nil, err
			}
			enc, err := encodeJSON(s)
			if err != nil {
				return nil, err
			}
			b.Write(enc[1 : len(enc)-1])
		default:
			b.WriteString(p.lit)
		}
	}
	return b.Bytes(), nil
}

// Source returns the template text.
func (j *JSON) Source() string { return j.src }

// encodeJSON encodes without HTML escaping: a target sees `<` as sent.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// jsonValue turns expression results into what a target expects: a date
// attribute as its calendar date, not a timestamp at midnight.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return nil
		}
		if x.Equal(model.DateOf(x).Time()) {
			return model.DateOf(x)
		}
		return x.Format(time.RFC3339)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	}
	return v
}
