package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	validationerrors "github.com/pb33f/libopenapi-validator/errors"
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

// contract validates requests and answers against openapi.json with a
// maintained OpenAPI 3.1 validator (pb33f/libopenapi-validator), which
// also checks the document against the OpenAPI specification.
var contract = sync.OnceValues(func() (validator.Validator, error) {
	d, err := libopenapi.NewDocument(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("openapi.json is not valid OpenAPI: %s", describe(verrs))
	}
	return v, nil
})

// contractMu serializes validations: the validator's caches are not
// documented as safe for concurrent use, and the API tests run in parallel.
var contractMu sync.Mutex

// checkContract validates an exchange on a documented route against
// openapi.json: the answer always (an undocumented status, or a body that
// does not fit, fails the test), the request when the server accepted it
// (a 2xx to a request the document calls invalid means one of them is
// wrong). Requests refused on purpose by other tests are not checked.
func checkContract(t testing.TB, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) {
	t.Helper()
	tmpl, ok := matchPath(doc(t), req.URL.Path)
	if !ok {
		return
	}
	if _, ok := doc(t).Paths[tmpl][strings.ToLower(req.Method)]; !ok {
		return // 405
	}
	v, err := contract()
	require.NoError(t, err)
	in := req.Clone(req.Context())
	in.Body = io.NopCloser(bytes.NewReader(reqBody))
	out := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: in}
	contractMu.Lock()
	defer contractMu.Unlock()
	if ok, errs := v.ValidateHttpResponse(in, out); !ok {
		t.Fatalf("%s %s answered %d, which does not fit openapi.json: %s\n%s", req.Method, tmpl, status, describe(errs), body)
	}
	if status >= 200 && status < 300 {
		in.Body = io.NopCloser(bytes.NewReader(reqBody))
		if len(reqBody) == 0 {
			// No body: a Content-Type names nothing (the API accepts that).
			in.Header = in.Header.Clone()
			in.Header.Del("Content-Type")
		}
		if ok, errs := v.ValidateHttpRequestSync(in); !ok {
			t.Fatalf("%s %s was accepted (%d), but the request does not fit openapi.json: %s\n%s", req.Method, tmpl, status, describe(errs), reqBody)
		}
	}
}

func describe(errs []*validationerrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    at %s: %s", se.FieldPath, se.Reason)
		}
	}
	return b.String()
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

// The validator behind checkContract refuses what does not fit: an answer
// of the wrong shape, an undocumented status, a request body with an
// unknown field. (Without this, a validator that accepted everything
// would pass every API test.)
func TestContractValidatorRefusesMisfits(t *testing.T) {
	t.Parallel()
	v, err := contract()
	require.NoError(t, err)
	answer := func(status int, body string) bool {
		req := httptest.NewRequest("GET", "/api/v1/runs", nil)
		resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req}
		contractMu.Lock()
		defer contractMu.Unlock()
		ok, _ := v.ValidateHttpResponse(req, resp)
		return ok
	}
	require.True(t, answer(200, `{"items": [], "next": ""}`))
	require.False(t, answer(200, `{"items": "not a list", "next": ""}`))
	require.False(t, answer(200, `{"items": []}`), "next is required")
	require.False(t, answer(418, `{}`))

	request := func(body string) bool {
		req := httptest.NewRequest("POST", "/api/v1/enforce", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer acc_k1_secret")
		contractMu.Lock()
		defer contractMu.Unlock()
		ok, _ := v.ValidateHttpRequestSync(req)
		return ok
	}
	require.True(t, request(`{}`))
	require.False(t, request(`{"no_such_field": true}`))
}
