package rest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// withOp is a valid target with one operation replaced (or added).
func withOp(name, op string) string {
	base := `url: https://api.example.com/v1
auth: {type: bearer, token: "${env:T}"}
operations:
  create: {url: /users, body: '{"username": {{ account.username }}}'}
  get: {url: "/users/{{ native_id }}"}
  grant: {url: "/usergroups/{{ entitlement }}/members", body: '{"id": {{ native_id }}}'}
`
	lines := strings.Split(base, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  "+name+":") {
			lines[i] = "  " + name + ": " + op
			return strings.Join(lines, "\n")
		}
	}
	return base + "  " + name + ": " + op + "\n"
}

func TestCheckAcceptsAValidTarget(t *testing.T) {
	t.Parallel()
	require.Empty(t, problems(t, withOp("revoke", `{url: "/usergroups/{{ entitlement }}/members/{{ native_id }}"}`), mapping))
	require.Empty(t, problems(t, settings(jumpcloud, "https://api.example.com/v1", `{type: session, username: u, password: "${env:PW}",
    login: {url: /session, body: '{"username": {{ username }}, "password": {{ password }}}'}}`), mapping))
	require.Empty(t, problems(t, settings(batchTarget, "https://api.example.com/v1", `{type: none}`), mapping))
	// Literal braces in a body are JSON, not template syntax (issue 13).
	require.Empty(t, problems(t, withOp("disable", `{url: "/users/{{ native_id }}", method: PUT, body: '{"profile": {"suspended": true}}'}`), mapping))
	require.Empty(t, problems(t, withOp("enable", `{url: "/users/{{ native_id }}", method: PUT, body: '{"profile": {"suspended": {{ false }}}}'}`), mapping))
}

// entitlements_case says how the target compares entitlement ids; the
// capability follows it, sensitive unless configured.
func TestEntitlementsCaseSetsTheCapability(t *testing.T) {
	t.Parallel()
	src := withOp("revoke", `{url: "/usergroups/{{ entitlement }}/members/{{ native_id }}"}`)
	require.False(t, openYAML(t, src, mapping).Capabilities().EntitlementsFoldCase)
	require.True(t, openYAML(t, "entitlements_case: insensitive\n"+src, mapping).Capabilities().EntitlementsFoldCase)
}

func TestCheckProblems(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src  string
		want string
	}{
		"unknown name in a URL": {withOp("grant", `{url: "/usergroups/{{ groupid }}/members"}`),
			`operations.grant.url (line 6): unknown name "groupid" in {{ groupid }} (available: account, entitlement, link, native_id, person)`},
		"name not available in this operation": {withOp("create", `{url: "/users/{{ native_id }}"}`),
			`operations.create.url (line 4): "native_id" is not available in create (available: account, person)`},
		"entitlement in a batch": {withOp("grant", `{url: "/usergroups/{{ entitlement }}", batch: 5}`),
			`operations.grant.url (line 6): "entitlement" is not available in grant (available: account, entitlements, link, native_id, person)`},
		"unknown account attribute": {withOp("create", `{url: /users, body: '{"mail": {{ account.mail }}}'}`),
			`operations.create.body (line 4): unknown account attribute "mail" in {{ account.mail }} (the account mapping produces: email, firstname, username)`},
		"unknown account attribute by index": {withOp("get", `{url: "/users?u={{ account['user'] }}"}`),
			`operations.get.url (line 5): unknown account attribute "user"`},
		"unknown link value": {withOp("get", `{url: "/users/{{ link.dn }}"}`),
			`operations.get.url (line 5): unknown link value "dn" in {{ link.dn }} (response.link keeps: none)`},
		"body that is not JSON": {withOp("grant", `{url: "/g/{{ entitlement }}", body: '{"id": {{ native_id }}'}`),
			`operations.grant.body (line 6): body is not JSON: unexpected end of JSON input`},
		"trailing comma": {withOp("grant", `{url: "/g/{{ entitlement }}", body: '{"id": {{ native_id }},}'}`),
			`operations.grant.body (line 6): body is not JSON: invalid character '}'`},
		"unknown operation": {withOp("frobnicate", `{url: /x}`),
			`operations.frobnicate (line 7): unknown key (known keys: check_member, create, create_entitlement, delete, disable, enable, find, get, grant, list_accounts, list_entitlements, revoke, update)`},
		"unknown operation key": {withOp("get", `{url: "/users/{{ native_id }}", verb: GET}`),
			`operations.get.verb (line 5): unknown key`},
		"key of another operation": {withOp("create", `{url: /users, batch: 3}`),
			`operations.create.batch (line 4): does not apply to create`},
		"grant that ignores the entitlement": {withOp("grant", `{url: "/usergroups/g1/members"}`),
			`operations.grant (line 6): never uses {{ entitlement }}: every entitlement would get the same request`},
		"relative URL": {withOp("get", `{url: "users/{{ native_id }}"}`),
			`operations.get.url (line 5): must be a path starting with /`},
		"host from a value": {withOp("get", `{url: "https://{{ native_id }}.example.com/u"}`),
			`operations.get.url (line 5): the scheme and host of a URL template must be literal`},
		"bad JSONPath": {withOp("get", `{url: "/u/{{ native_id }}", response: {id: "$[" }}`),
			`operations.get.response.id (line 5): not a JSONPath`},
		"attribute that is not mapped": {withOp("get", `{url: "/u/{{ native_id }}", response: {attributes: {mail: $.mail}}}`),
			`operations.get.response.attributes.mail (line 5): "mail" is not an account attribute`},
		"bad regexp": {withOp("create", `{url: /users, exists: {status: [400], body: "dup("}}`),
			`operations.create.exists.body (line 4): not a regular expression`},
		"paging without its variable": {withOp("list_accounts", `{url: /users, paging: {style: offset}}`),
			`operations.list_accounts.paging.style (line 7): style offset needs {{ offset }} in the operation's url or body`},
		"cursor paging without a path": {withOp("list_accounts", `{url: "/users?c={{ cursor }}", paging: {style: cursor}}`),
			`operations.list_accounts.paging.cursor (line 7): style cursor needs cursor`},
		"header with a line break hole is fine, a bad name is not": {withOp("get", `{url: "/u/{{ native_id }}", headers: {"X Bad": v}}`),
			`operations.get.headers.X Bad (line 5): "X Bad" is not a valid HTTP header name`},
		"connection headers take no names": {"headers: {X-User: '{{ person }}'}\n" + withOp("get", `{url: "/u/{{ native_id }}"}`),
			`headers.X-User (line 1): "person" is not available in headers (available: none)`},
		"no url": {strings.Replace(withOp("get", `{url: "/u/{{ native_id }}"}`), "url: https://api.example.com/v1", "", 1),
			`url (line 2): is required`},
		"session login with an unknown name": {strings.Replace(withOp("get", `{url: "/u/{{ native_id }}"}`), `auth: {type: bearer, token: "${env:T}"}`,
			`auth: {type: session, username: u, password: "${env:P}", login: {url: /session, body: '{"u": {{ user }}}'}}`, 1),
			`auth.login.body (line 2): unknown name "user" in {{ user }}`},
		"session without login": {strings.Replace(withOp("get", `{url: "/u/{{ native_id }}"}`), `auth: {type: bearer, token: "${env:T}"}`,
			`auth: {type: session, username: u}`, 1),
			`auth.login (line 2): is required for auth type session`},
		"entitlements_case": {"entitlements_case: Insensitive\n" + withOp("get", `{url: "/u/{{ native_id }}"}`),
			`entitlements_case (line 1): must be sensitive or insensitive, not "Insensitive"`},
		"no operations": {"url: https://api.example.com\noperations: {}\n", `operations (line 2): no operations`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, tc.src, mapping)
			require.NotEmpty(t, got, "no problem found")
			for _, p := range got {
				if strings.HasPrefix(p, tc.want) {
					return
				}
			}
			require.Fail(t, "problem not reported", "want %q\ngot  %q", tc.want, got)
		})
	}
}

func TestCheckWithoutAMappingAcceptsAnyAttribute(t *testing.T) {
	t.Parallel()
	require.Empty(t, problems(t, withOp("create", `{url: /users, body: '{"mail": {{ account.mail }}}'}`), nil))
}
