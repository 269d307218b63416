package rest_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// Every auth kind drives the same target: create, grant, read back,
// list with a link (an API key in the query must not end up in the
// cursor), close. No audit record holds a secret.
func TestEveryAuthKind(t *testing.T) {
	t.Parallel()
	const (
		key    = "key-Hq3-secret-Zx9"
		bearer = "bearer-Pq2-secret-Mn4"
		client = "client-Vb8-secret-Kd1"
	)
	type tc struct {
		opts targetsim.RESTOptions
		auth func(t *testing.T, base string) string
	}
	cases := map[string]tc{
		"none": {targetsim.RESTOptions{}, func(*testing.T, string) string { return "{type: none}" }},
		"basic": {targetsim.RESTOptions{Basic: true, Username: simUser, Password: simPassword}, func(t *testing.T, _ string) string {
			return `{type: basic, username: ` + simUser + `, password: "` + secretRef(t, simPassword) + `"}`
		}},
		"bearer": {targetsim.RESTOptions{Bearer: bearer}, func(t *testing.T, _ string) string {
			return `{type: bearer, token: "` + secretRef(t, bearer) + `"}`
		}},
		"api key header": {targetsim.RESTOptions{APIKey: key, APIKeyHeader: "x-api-key"}, func(t *testing.T, _ string) string {
			return `{type: api_key, header: x-api-key, key: "` + secretRef(t, key) + `"}`
		}},
		"api key query": {targetsim.RESTOptions{APIKey: key, APIKeyQuery: "api_key"}, func(t *testing.T, _ string) string {
			return `{type: api_key, query: api_key, key: "` + secretRef(t, key) + `"}`
		}},
		"oauth2": {targetsim.RESTOptions{ClientID: "accord", ClientSecret: client}, func(t *testing.T, base string) string {
			return `{type: oauth2, token_url: "` + base + `/oauth/token", client_id: accord, client_secret: "` + secretRef(t, client) + `"}`
		}},
		"session cookie": {sessionOptions(), func(t *testing.T, _ string) string { return sessionAuth(t) }},
		"session token in a header": {sessionOptions(), func(t *testing.T, _ string) string {
			return `{type: session, username: ` + simUser + `, password: "` + secretRef(t, simPassword) + `",
    login: {url: /session, form: {username: "{{ username }}", password: "{{ password }}"}},
    logout: {method: DELETE, url: /session}, token_path: $.token, header: X-Session-Token, prefix: ""}`
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sim, base := startSim(t, tc.opts)
			_, err := sim.REST().AddGroup("g1", "")
			require.NoError(t, err)
			src := settings(jumpcloud, base, tc.auth(t, base))
			src = strings.Replace(src, `paging: {style: offset, size: 2}`, `paging: {style: link}`, 1)
			src = strings.Replace(src, `"/users?limit={{ limit }}&skip={{ offset }}"`, `"/users?limit=1"`, 1)
			c := openYAML(t, src, mapping)
			ctx, rec := callCtx()

			ref := create(t, ctx, c, "ann")
			create(t, ctx, c, "bob")
			require.NoError(t, c.Grant(ctx, ref, []string{"g1"}))
			got, err := c.Get(ctx, ref)
			require.NoError(t, err)
			require.Equal(t, []string{"g1"}, got.Entitlements)
			p, err := c.ListAccounts(ctx, "")
			require.NoError(t, err)
			require.Len(t, p.Items, 1)
			require.NotEmpty(t, p.Next)
			require.NotContains(t, p.Next, key, "the cursor is stored: no key in it")
			p, err = c.ListAccounts(ctx, p.Next)
			require.NoError(t, err)
			require.Equal(t, "bob", p.Items[0].Attributes["username"])
			require.NoError(t, c.Close(ctx))

			for _, r := range sim.RequestsTo("", "/rest/v1/") {
				require.NotEqual(t, http.StatusUnauthorized, r.Status, "%s %s", r.Method, r.Path)
			}
			secrets := append([]string{simPassword, key, bearer, client}, issued(sim)...)
			testkit.RequireNoSecrets(t, rec.Records(), secrets...)
			for _, r := range rec.Records() {
				require.Equal(t, "run-7/3", r.RequestHeaders["X-Correlation-Id"], "%s %s", r.Method, r.URL)
			}
		})
	}
}

var (
	bearerRe = regexp.MustCompile(`^Bearer (.+)$`)
	sidRe    = regexp.MustCompile(`sid=([0-9a-f]+)`)
)

// issued collects the session ids and tokens the simulator handed out,
// from what the client sent back.
func issued(sim *targetsim.Sim) []string {
	var out []string
	for _, r := range sim.Requests() {
		if m := bearerRe.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			out = append(out, m[1])
		}
		if m := sidRe.FindStringSubmatch(r.Header.Get("Cookie")); m != nil {
			out = append(out, m[1])
		}
		if v := r.Header.Get("X-Session-Token"); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func TestSessionLoginRefused(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, targetsim.RESTOptions{Session: true, Username: simUser, Password: "another-password"})
	c := openYAML(t, settings(jumpcloud, base, sessionAuth(t)), mapping)
	ctx, rec := callCtx()
	_, err := c.Create(ctx, connector.CreateRequest{Attributes: person("ann")})
	require.Equal(t, connector.Auth, connector.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), "session login")
	require.NotContains(t, err.Error(), simPassword)
	require.Len(t, sim.RequestsTo("POST", "/rest/v1/session"), 1, "a refused login is not repeated")
	require.Empty(t, sim.RequestsTo("POST", "/rest/v1/users"), "nothing is sent without a session")
	testkit.RequireNoSecrets(t, rec.Records(), simPassword)
	for _, r := range rec.Records() {
		if strings.HasSuffix(r.URL, "/session") {
			require.Contains(t, r.RequestBody, `"password":"[REDACTED]"`)
		}
	}
}

func TestSessionAlreadyOpenIsAnAuthProblem(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, sessionOptions())
	// Another client holds the one session the account may have.
	other := openYAML(t, settings(jumpcloud, base, sessionAuth(t)), mapping)
	ctx := context.Background()
	create(t, ctx, other, "ann")

	c := openYAML(t, settings(jumpcloud, base, sessionAuth(t)), mapping)
	_, err := c.Create(ctx, connector.CreateRequest{Attributes: person("bob")})
	require.Equal(t, connector.Auth, connector.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), "409")
	require.Equal(t, 1, sim.REST().Logins())
}
