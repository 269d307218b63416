package httpx_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector/httpx"
)

// The session auth at work (one login shared by concurrent requests, one
// re-login after a 401, logout on close, nothing secret in the audit) is
// tested through the REST connector against the simulator's session
// login; here, its configuration.
func TestSessionConfigCheck(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"a cookie session", "auth:\n  type: session\n  username: svc\n  password: ${env:PW}\n  login: {url: /session, body: '{\"u\": {{ username }}, \"p\": {{ password }}}'}\n  logout: {url: /session}", nil},
		{"a token session", "auth: {type: session, login: {url: 'https://idp.example/login', form: {u: '{{ username }}'}}, token_path: $.token, header: X-Token, prefix: ''}", nil},
		{"login is required", "auth: {type: session, username: svc}", []string{
			"auth.login (line 1): is required for auth type session: the request that opens a session",
		}},
		{"login problems", "auth:\n  type: session\n  login:\n    url: session\n    method: 'P O'\n    body: '{\"u\": {{ user }}}'\n    success: [42]", []string{
			"auth.login.url (line 4): must be a path starting with / (under the connector's url) or an absolute http(s) URL",
			"auth.login.method (line 5): \"P O\" is not an HTTP method",
			"auth.login.body (line 6): unknown name \"user\" in {{ user }}",
			"auth.login.success[0] (line 7): 42 is not an HTTP status",
		}},
		{"a body that is not JSON", "auth: {type: session, login: {url: /s, body: '{\"u\": {{ username }}'}}", []string{
			"auth.login.body (line 1): body is not JSON: unexpected end of JSON input",
		}},
		{"body or form", "auth: {type: session, login: {url: /s, body: '{}', form: {a: b}}}", []string{
			"auth.login.form (line 1): give either body (JSON) or form, not both",
		}},
		{"cookie or token", "auth: {type: session, login: {url: /s}, cookie: sid, token_path: $.t}", []string{
			"auth.cookie (line 1): give either cookie (the session travels in a cookie) or token_path (in a header), not both",
		}},
		{"header needs a token", "auth: {type: session, login: {url: /s}, header: X-T, prefix: x}", []string{
			"auth.header (line 1): only applies with token_path",
			"auth.prefix (line 1): only applies with token_path",
		}},
		{"bad token path", "auth: {type: session, login: {url: /s}, token_path: '$['}", []string{
			"auth.token_path (line 1): not a JSONPath",
		}},
		{"keys of other types", "auth: {type: session, login: {url: /s}, client_id: x}", []string{
			"auth.client_id (line 1): does not apply to auth type session",
		}},
		{"logout problems", "auth: {type: session, login: {url: /s}, logout: {url: '/s/{{ sid }}'}}", []string{
			"auth.logout.url (line 1): unknown name \"sid\" in {{ sid }}",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := checkConfig(t, tc.yaml)
			require.Len(t, got, len(tc.want), "%q", got)
			for i := range got {
				require.Contains(t, got[i], tc.want[i])
			}
		})
	}
}

func TestSessionPathNeedsABaseURL(t *testing.T) {
	_, err := httpx.NewAuth(httpx.AuthConfig{Type: httpx.AuthSession, Login: &httpx.SessionRequest{URL: "/session"}}, nil)
	require.ErrorContains(t, err, "no base URL")
}
