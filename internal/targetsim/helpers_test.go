package targetsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// startSim serves a simulator on loopback for the test.
func startSim(t *testing.T, opts Options) (*Sim, *client) {
	t.Helper()
	s := New(opts)
	base, err := s.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, &client{t: t, base: base, token: opts.Token, hc: &http.Client{Timeout: 30 * time.Second}}
}

type client struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// do sends a request to path (relative to the base URL); body may be a
// string (sent as is) or a value (sent as JSON). hdr is key, value pairs.
func (c *client) do(method, path string, body any, hdr ...string) response {
	c.t.Helper()
	resp, err := c.send(method, path, body, hdr...)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		var v any
		require.NoError(c.t, json.Unmarshal(raw, &v), "body: %s", raw)
		out.body, _ = v.(map[string]any)
	}
	return out
}

func (c *client) send(method, path string, body any, hdr ...string) (*http.Response, error) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.hc.Do(req)
}

func userBody(userName string, extra map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{SchemaUser}, "userName": userName}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func patchBody(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{msgPatch}, "Operations": ops}
}

func op(kind, path string, value any) map[string]any {
	m := map[string]any{"op": kind}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

// createUser POSTs a user and returns its id.
func (c *client) createUser(userName string, extra map[string]any) string {
	c.t.Helper()
	r := c.do("POST", "/scim/v2/Users", userBody(userName, extra))
	require.Equal(c.t, 201, r.status, "%s", r.raw)
	return r.str("id")
}

// list GETs a list endpoint with a filter and returns the response.
func (c *client) list(endpoint, filter string, params ...string) response {
	c.t.Helper()
	q := url.Values{}
	if filter != "" {
		q.Set("filter", filter)
	}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return c.do("GET", "/scim/v2/"+endpoint+"?"+q.Encode(), nil)
}

func resourceIDs(t *testing.T, r response) []string {
	t.Helper()
	require.Equal(t, 200, r.status, "%s", r.raw)
	ids := []string{}
	for _, res := range r.body["Resources"].([]any) {
		ids = append(ids, res.(map[string]any)["id"].(string))
	}
	return ids
}

// quote makes a SCIM filter string literal of s.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func requireSCIMError(t *testing.T, r response, status int, scimType string) {
	t.Helper()
	require.Equal(t, status, r.status, "%s", r.raw)
	require.Equal(t, "application/scim+json", r.header.Get("Content-Type"))
	require.Equal(t, []any{msgError}, r.body["schemas"])
	require.Equal(t, strconv.Itoa(status), r.body["status"])
	if scimType != "" {
		require.Equal(t, scimType, r.body["scimType"], "%s", r.raw)
	}
	require.NotEmpty(t, r.body["detail"])
}

func jsonReader(t *testing.T, v any) io.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return bytes.NewReader(b)
}
