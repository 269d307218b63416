package reqtmpl_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector/httpx/reqtmpl"
	"github.com/accord-iam/accord/internal/model"
)

var env = reqtmpl.Env{
	Vars: map[string]any{
		"account": map[string]any{}, "native_id": "", "entitlement": "", "entitlements": []string{}, "page": 0,
	},
	Keys: map[string][]string{"account": {"username", "email", "start", "level"}},
}

func TestURLEscapesEachHoleForItsPlace(t *testing.T) {
	u, err := reqtmpl.ParseURL("/usergroups/{{ entitlement }}/members?user={{ native_id }}&page={{ page }}", env)
	require.NoError(t, err)
	cases := []struct {
		ent, id string
		want    string
	}{
		{"g1", "u1", "/usergroups/g1/members?user=u1&page=2"},
		{"../admin", "u1", "/usergroups/..%2Fadmin/members?user=u1&page=2"},
		{"a/b", "u&page=9", "/usergroups/a%2Fb/members?user=u%26page%3D9&page=2"},
		{"x?y=1", "u#f", "/usergroups/x%3Fy=1/members?user=u%23f&page=2"},
		{`"quoted"`, "u", "/usergroups/%22quoted%22/members?user=u&page=2"},
		{"Grüße ☃", "ü", "/usergroups/Gr%C3%BC%C3%9Fe%20%E2%98%83/members?user=%C3%BC&page=2"},
		{"..", "u", "/usergroups/%2E%2E/members?user=u&page=2"},
		{".", "u", "/usergroups/%2E/members?user=u&page=2"},
		{"a;b", "u", "/usergroups/a%3Bb/members?user=u&page=2"},
	}
	for _, c := range cases {
		got, err := u.Render(map[string]any{"entitlement": c.ent, "native_id": c.id, "page": 2})
		require.NoError(t, err, c.ent)
		require.Equal(t, c.want, got, c.ent)
		p, err := url.Parse("http://h" + got)
		require.NoError(t, err)
		require.Equal(t, "/usergroups/"+c.ent+"/members", p.Path, "the value lands in one segment")
		require.Equal(t, c.id, p.Query().Get("user"))
	}
}

func TestURLRefusesEmptyPathValuesAndDotSegments(t *testing.T) {
	u, err := reqtmpl.ParseURL("/users/{{ native_id }}", env)
	require.NoError(t, err)
	_, err = u.Render(map[string]any{"native_id": ""})
	require.ErrorContains(t, err, "empty")

	u, err = reqtmpl.ParseURL("/users/{{ native_id }}{{ entitlement }}", env)
	require.NoError(t, err)
	_, err = u.Render(map[string]any{"native_id": "a", "entitlement": "b"})
	require.NoError(t, err)
}

func TestURLParseProblems(t *testing.T) {
	for src, want := range map[string]string{
		"/users/{{ nativeid }}":                `unknown name "nativeid"`,
		"/users/{{ account.mail }}":            `unknown key "mail" of account`,
		"/users?q={{ account['mail'] }}":       `unknown key "mail" of account`,
		"/users#frag":                          "fragment",
		"https://{{ native_id }}.example/x":    "literal",
		"{{ native_id }}/users":                "literal path",
		"ftp://example.com/x":                  "scheme",
		"/a/../b":                              `".."`,
		"":                                     "empty",
		"/users/{{ native_id":                  "unclosed",
		"/users?x={{ entitlements + 1 }}":      "in {{ entitlements + 1 }}",
		"https://example.com/users/{{ page }}": "",
	} {
		_, err := reqtmpl.ParseURL(src, env)
		if want == "" {
			require.NoError(t, err, src)
			continue
		}
		require.ErrorContains(t, err, want, src)
	}
}

func TestJSONKeepsTypesAndEscapesStrings(t *testing.T) {
	j, err := reqtmpl.ParseJSON(`{"username": {{ account.username }}, "note": "for {{ account.username }}!",
		"level": {{ account.level }}, "start": {{ account.start }}, "active": {{ true }},
		"groups": {{ entitlements }}, "ops": {{ map(entitlements, ({"op": "add", "id": #})) }}}`, env)
	require.NoError(t, err)
	hostile := "x\", \"admin\": true, \"y\": \"</script>\n☃"
	out, err := j.Render(map[string]any{
		"account":      map[string]any{"username": hostile, "level": int64(3), "start": model.MustDate("2026-01-02")},
		"entitlements": []string{"g1", "../g2"},
	})
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got), string(out))
	require.Equal(t, map[string]any{
		"username": hostile, "note": "for " + hostile + "!", "level": 3.0, "start": "2026-01-02", "active": true,
		"groups": []any{"g1", "../g2"},
		"ops":    []any{map[string]any{"op": "add", "id": "g1"}, map[string]any{"op": "add", "id": "../g2"}},
	}, got)
	require.Contains(t, string(out), "</script>", "no HTML escaping")
}

func TestJSONMissingValueIsNull(t *testing.T) {
	j, err := reqtmpl.ParseJSON(`{"email": {{ account.email }}}`, env)
	require.NoError(t, err)
	out, err := j.Render(map[string]any{"account": map[string]any{}})
	require.NoError(t, err)
	require.JSONEq(t, `{"email": null}`, string(out))
}

func TestJSONParseProblems(t *testing.T) {
	for src, want := range map[string]string{
		`{"id": {{ native_id }}`:               "not JSON",
		`{"id": {{ native_id }}, }`:            "not JSON",
		`{ {{ native_id }}: 1 }`:               "not JSON",
		`{"id": "{{ nativeid }}"}`:             `unknown name "nativeid"`,
		`{"id": {{ account.mail }}}`:           `unknown key "mail" of account`,
		`{"id": "a\{{ native_id }}"}`:          "backslash",
		`{"id": {{ native_id }`:                "unclosed",
		``:                                     "empty",
		`[{{ entitlement }}, "{{ page }}"]`:    "",
		`{"a": "}", "b": {{ native_id }}}`:     "",
		`{"a": "\"{{ native_id }}\"", "b": 1}`: "",
	} {
		_, err := reqtmpl.ParseJSON(src, env)
		if want == "" {
			require.NoError(t, err, src)
			continue
		}
		require.ErrorContains(t, err, want, src)
	}
}

func TestJSONStringHoleAfterEscapedQuote(t *testing.T) {
	j, err := reqtmpl.ParseJSON(`{"a": "\"{{ native_id }}\"", "b": {{ entitlement }}}`, env)
	require.NoError(t, err)
	out, err := j.Render(map[string]any{"native_id": `q"`, "entitlement": "e"})
	require.NoError(t, err)
	require.JSONEq(t, `{"a": "\"q\"\"", "b": "e"}`, string(out))
}

func TestHeaderRefusesLineBreaks(t *testing.T) {
	h, err := reqtmpl.ParseText("user {{ native_id }}", env)
	require.NoError(t, err)
	got, err := h.Header(map[string]any{"native_id": "u1"})
	require.NoError(t, err)
	require.Equal(t, "user u1", got)
	_, err = h.Header(map[string]any{"native_id": "u1\r\nX-Admin: yes"})
	require.ErrorContains(t, err, "line break")
}

func TestFormEscapesValues(t *testing.T) {
	f, err := reqtmpl.ParseForm(map[string]string{"username": "{{ native_id }}", "grant_type": "password"}, env)
	require.NoError(t, err)
	out, err := f.Render(map[string]any{"native_id": "a&b=c d"})
	require.NoError(t, err)
	require.Equal(t, "grant_type=password&username=a%26b%3Dc+d", string(out))
	_, err = reqtmpl.ParseForm(map[string]string{"u": "{{ nope }}"}, env)
	require.ErrorContains(t, err, "u: ")
}
