package source_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/yamlx"
)

func decodeSpec(t *testing.T, text string) *source.Spec {
	t.Helper()
	node, err := yamlx.Parse([]byte(text))
	require.NoError(t, err)
	var s source.Spec
	require.Empty(t, yamlx.Decode(node, &s, ""))
	return &s
}

func problemPaths(ps yamlx.Problems) map[string]string {
	out := map[string]string{}
	for _, p := range ps {
		out[p.Path] = p.Msg
	}
	return out
}

func TestHTTPSourceCheck(t *testing.T) {
	good := `
name: hr
format: http
key: id
columns: [{name: id, type: string}, {name: email, type: email}]
http:
  url: https://hr.example/api/employees
  records: $.employees[*]
  fields: {email: $.work.email}
  paging: {style: cursor, size: 200, cursor: $.next}
  delta: {param: updated_since, full_every: 24h}
`
	require.Empty(t, decodeSpec(t, good).Check())

	bad := `
name: hr
format: http
key: id
path: hr.csv
extra_columns: ignore
columns: [{name: id, type: string}]
http:
  url: ftp://hr.example/x
  method: DELETE
  body: '{"a": '
  headers: {Authorization: "Bearer abc", X-Token: "${env:HR_TOKEN}"}
  query: {api_key: "${file:/run/secrets/hr}"}
  auth: {type: basic, username: u}
  records: $.employees
  fields: {email: $.work.email, id: "$[["}
  paging: {style: offset, cursor: $.next, size: -1}
  delta: {param: "", full_every: 0s, format: "2006-01-02"}
  rate_limit: {per_second: -1}
  max_wait: -1s
`
	got := problemPaths(decodeSpec(t, bad).Check())
	for _, path := range []string{"path", "extra_columns", "http.url", "http.method", "http.body", "http.headers.Authorization",
		"http.auth.password", "http.records", "http.fields.email", "http.fields.id", "http.paging.cursor",
		"http.paging.size", "http.delta.param", "http.delta.full_every", "http.delta.format",
		"http.rate_limit.per_second", "http.max_wait", "http.headers.X-Token", "http.query.api_key"} {
		require.Contains(t, got, path, "problems: %v", got)
	}
	require.Contains(t, got["http.records"], "must end in [*]")
	require.Contains(t, got["http.paging.cursor"], "does not apply to paging style offset")
	require.Contains(t, got["http.fields.email"], `column "email", which is not declared`)

	noBlock := decodeSpec(t, "name: hr\nformat: http\nkey: id\ncolumns: [{name: id, type: string}]\n")
	require.Equal(t, "an http source needs an http block with at least url", problemPaths(noBlock.Check())["http"])
	fileWithBlock := decodeSpec(t, "name: hr\nformat: csv\npath: a.csv\nkey: id\ncolumns: [{name: id, type: string}]\nhttp: {url: https://x.example}\n")
	require.Equal(t, "only http sources have an http block", problemPaths(fileWithBlock.Check())["http"])
}

// A cursor style without the cursor's place in the page is refused.
func TestHTTPSourceCheckNeedsTheCursorPath(t *testing.T) {
	s := decodeSpec(t, "name: hr\nformat: http\nkey: id\ncolumns: [{name: id, type: string}]\nhttp: {url: https://x.example, paging: {style: cursor}}\n")
	require.Contains(t, problemPaths(s.Check())["http.paging.cursor"], "paging style cursor needs cursor")
}

func TestHTTPSourceHasNoFileToRead(t *testing.T) {
	s := decodeSpec(t, "name: hr\nformat: http\nkey: id\ncolumns: [{name: id, type: string}]\nhttp: {url: https://x.example}\n")
	require.Empty(t, s.Check())
	_, err := s.Read(t.Context(), strings.NewReader(`{"id": "E1"}`+"\n"))
	require.EqualError(t, err, `source "hr" pulls an HR API; it has no file to read`)
}
