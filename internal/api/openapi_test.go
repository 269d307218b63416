package api_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
)

// The OpenAPI document is written by hand, as the contract; these tests
// keep it true: every route is documented with its method and scope and
// nothing else is, every reference resolves, and every answer any test
// receives fits the schema documented for its route and status.

type openAPIDoc struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas   map[string]json.RawMessage `json:"schemas"`
		Responses map[string]struct {
			Content map[string]struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"components"`
}

type operation struct {
	OperationID string                `json:"operationId"`
	Security    []map[string][]string `json:"security"`
	Scope       string                `json:"x-scope"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Responses map[string]struct {
		Ref     string `json:"$ref"`
		Content map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

var loadDoc = sync.OnceValues(func() (*openAPIDoc, error) {
	var d openAPIDoc
	err := json.Unmarshal(api.OpenAPI(), &d)
	return &d, err
})

func doc(t testing.TB) *openAPIDoc {
	t.Helper()
	d, err := loadDoc()
	require.NoError(t, err)
	return d
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func TestOpenAPIDocumentsEveryRouteAndNothingElse(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	d := doc(t)
	routes := map[string]api.Route{}
	for _, rt := range w.srv.Routes() {
		key := strings.ToLower(rt.Method) + " " + rt.Path
		routes[key] = rt
		op, ok := d.Paths[rt.Path][strings.ToLower(rt.Method)]
		require.True(t, ok, "route %s %s is not in openapi.json", rt.Method, rt.Path)
		require.NotEmpty(t, op.OperationID, key)
		if rt.Scope == "" {
			require.Empty(t, op.Security, "%s is public", key)
		} else {
			require.Equal(t, []map[string][]string{{"apiKey": {rt.Scope}}}, op.Security, "%s needs scope %s", key, rt.Scope)
			require.Equal(t, rt.Scope, op.Scope, key)
			for _, code := range []string{"401", "403", "429"} {
				require.Contains(t, op.Responses, code, key)
			}
		}
		var inPath, documented []string
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			inPath = append(inPath, m[1])
		}
		for _, p := range op.Parameters {
			if p.In == "path" {
				documented = append(documented, p.Name)
			}
		}
		require.ElementsMatch(t, inPath, documented, "path parameters of %s", key)
		hasSuccess := false
		for code := range op.Responses {
			hasSuccess = hasSuccess || strings.HasPrefix(code, "2")
		}
		require.True(t, hasSuccess, "%s documents a success", key)
	}
	for path, ops := range d.Paths {
		for method := range ops {
			_, ok := routes[method+" "+path]
			require.True(t, ok, "openapi.json documents %s %s, which is not a route", strings.ToUpper(method), path)
		}
	}

	// Every reference resolves.
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				refs = append(refs, r)
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var raw any
	require.NoError(t, json.Unmarshal(api.OpenAPI(), &raw))
	walk(raw)
	require.NotEmpty(t, refs)
	for _, r := range refs {
		name, ok := strings.CutPrefix(r, "#/components/schemas/")
		if ok {
			require.Contains(t, d.Components.Schemas, name, r)
			continue
		}
		name, ok = strings.CutPrefix(r, "#/components/responses/")
		require.True(t, ok, "unexpected reference %s", r)
		require.Contains(t, d.Components.Responses, name, r)
	}

	// Every documented query parameter is taken by its route.
	samples := map[string]string{"limit": "10", "state": "pending", "kind": "event", "after": "1", "action": "1"}
	for _, rt := range w.srv.Routes() {
		op := d.Paths[rt.Path][strings.ToLower(rt.Method)]
		for _, p := range op.Parameters {
			if p.In != "query" {
				continue
			}
			v, ok := samples[p.Name]
			if !ok {
				v = "E1"
			}
			r := w.do(rt.Method, concrete(rt.Path)+"?"+p.Name+"="+v, w.keys[api.ScopeAdmin], nil)
			require.NotContains(t, r.text(), "unknown query parameter", "%s %s takes ?%s", rt.Method, rt.Path, p.Name)
		}
	}

	r := w.do("GET", "/api/v1/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, string(api.OpenAPI()), r.text())
}

// checkContract validates an answer against the schema documented for
// its route, method and status. An answer on a documented route with an
// undocumented status, or a body that does not fit, fails the test.
func checkContract(t testing.TB, method, path string, status int, body []byte, contentType string) {
	t.Helper()
	d := doc(t)
	tmpl, ok := matchPath(d, path)
	if !ok || !strings.Contains(contentType, "json") {
		return
	}
	op, ok := d.Paths[tmpl][strings.ToLower(method)]
	if !ok {
		return // 405
	}
	resp, ok := op.Responses[strconv.Itoa(status)]
	require.True(t, ok, "%s %s answered %d, which openapi.json does not document: %s", method, tmpl, status, body)
	var schema json.RawMessage
	if resp.Ref != "" {
		name := strings.TrimPrefix(resp.Ref, "#/components/responses/")
		schema = d.Components.Responses[name].Content["application/json"].Schema
		if schema == nil {
			schema = d.Components.Responses[name].Content["application/scim+json"].Schema
		}
	} else {
		schema = resp.Content["application/json"].Schema
		if schema == nil {
			schema = resp.Content["application/scim+json"].Schema
		}
	}
	require.NotNil(t, schema, "%s %s %d has no JSON schema", method, tmpl, status)
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	if err := validate(d, schema, v, "$"); err != nil {
		t.Fatalf("%s %s answered %d with a body that does not fit openapi.json: %v\n%s", method, tmpl, status, err, body)
	}
}

func matchPath(d *openAPIDoc, path string) (string, bool) {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	for tmpl := range d.Paths {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		ok := true
		for i := range ts {
			if !pathParam.MatchString(ts[i]) && ts[i] != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return tmpl, true
		}
	}
	return "", false
}

// validate checks v against the subset of JSON Schema the document uses.
func validate(d *openAPIDoc, raw json.RawMessage, v any, at string) error {
	var s struct {
		Ref        string                     `json:"$ref"`
		Type       any                        `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
		Additional json.RawMessage            `json:"additionalProperties"`
		Items      json.RawMessage            `json:"items"`
		Enum       []any                      `json:"enum"`
		OneOf      []json.RawMessage          `json:"oneOf"`
		AllOf      []json.RawMessage          `json:"allOf"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: bad schema: %w", at, err)
	}
	if s.Ref != "" {
		return validate(d, d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], v, at)
	}
	for _, sub := range s.AllOf {
		if err := validate(d, sub, v, at); err != nil {
			return err
		}
	}
	if len(s.OneOf) > 0 {
		n := 0
		var errs []string
		for _, sub := range s.OneOf {
			if err := validate(d, sub, v, at); err == nil {
				n++
			} else {
				errs = append(errs, err.Error())
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf (%s)", at, n, strings.Join(errs, "; "))
		}
	}
	if s.Type != nil {
		var types []string
		switch t := s.Type.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.Contains(types, jsonTypeOf(v)) && !(jsonTypeOf(v) == "integer" && slices.Contains(types, "number")) {
			return fmt.Errorf("%s: expected %v, got %s", at, types, jsonTypeOf(v))
		}
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, s.Enum)
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				return fmt.Errorf("%s: required property %q is missing", at, r)
			}
		}
		for k, e := range x {
			if p, ok := s.Properties[k]; ok {
				if err := validate(d, p, e, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch string(s.Additional) {
			case "", "true":
			case "false":
				if s.Properties != nil {
					return fmt.Errorf("%s: property %q is not documented", at, k)
				}
			default:
				if err := validate(d, s.Additional, e, at+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if s.Items != nil {
			for i, e := range x {
				if err := validate(d, s.Items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func jsonTypeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
