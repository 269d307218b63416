package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/textsafe"
)

// Input hygiene at the API's door: the same characters an HR feed may not
// carry (internal/textsafe) are refused in every path parameter and in
// every string of a JSON body, so that no route has to remember it.

// checkPath refuses a path parameter holding a refused character, such
// as a person key with a bidi override that would print as another key.
func checkPath(r *http.Request, pattern string) *Error {
	for _, name := range wildcards(pattern) {
		v := r.PathValue(name)
		if bad, ok := textsafe.Check(v, false); !ok {
			return &Error{Status: http.StatusBadRequest, Code: CodeValidation,
				Message: "path parameter " + name + " " + bad.Reason(),
				Details: map[string]any{"fields": []FieldError{{Field: name, Reason: bad.Reason()}}}}
		}
	}
	return nil
}

// wildcards lists the {name} parts of a route pattern.
func wildcards(pattern string) []string {
	var out []string
	for rest := pattern; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, strings.TrimSuffix(rest[i+1:i+j], "..."))
		rest = rest[i+j+1:]
	}
}

// checkStrings refuses a JSON body with a refused character in any key or
// string value, naming the field by its path (attributes.first_name,
// persons[2]). Tabs pass: free text such as a note may hold one; person
// keys are checked without them by the source schema.
func checkStrings(data []byte) *Error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil // the strict decode has reported it already
	}
	field, bad, found := firstBad(v, "")
	if !found {
		return nil
	}
	if field == "" {
		field = "body"
	}
	return invalid(field, bad.Reason())
}

func firstBad(v any, path string) (string, textsafe.Bad, bool) {
	switch x := v.(type) {
	case string:
		b, ok := textsafe.Check(x, true)
		return path, b, !ok
	case []any:
		for i, e := range x {
			if f, b, found := firstBad(e, path+"["+strconv.Itoa(i)+"]"); found {
				return f, b, true
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if b, ok := textsafe.Check(k, true); !ok {
				return p, b, true
			}
			if f, b, found := firstBad(x[k], p); found {
				return f, b, true
			}
		}
	}
	return "", textsafe.Bad{}, false
}
