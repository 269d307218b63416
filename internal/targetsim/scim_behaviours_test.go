package targetsim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBehaviourNoGroupsOnUser(t *testing.T) {
	_, c := startSim(t, Options{SCIM: Behaviours{NoGroupsOnUser: true}})
	u := c.do("POST", "/scim/v2/Users", userBody("ann", nil))
	require.Equal(t, 201, u.status, string(u.raw))
	g := c.do("POST", "/scim/v2/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "eng",
		"members": []any{map[string]any{"value": u.str("id")}},
	})
	require.Equal(t, 201, g.status, string(g.raw))

	got := c.do("GET", "/scim/v2/Users/"+u.str("id"), nil)
	require.Equal(t, 200, got.status)
	require.NotContains(t, got.body, "groups", "the user must not show its groups")
	members := c.do("GET", "/scim/v2/Groups/"+g.str("id"), nil).body["members"].([]any)
	require.Len(t, members, 1, "the group still shows the member")

	schema := c.do("GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil)
	require.Equal(t, 200, schema.status)
	for _, a := range schema.body["attributes"].([]any) {
		require.NotEqual(t, "groups", a.(map[string]any)["name"], "/Schemas must not declare groups on User")
	}
}

func TestBehaviourEmailsUniqueForever(t *testing.T) {
	_, c := startSim(t, Options{SCIM: Behaviours{EmailsUniqueForever: true}})
	withEmail := func(name string) map[string]any {
		return userBody(name, map[string]any{"emails": []any{map[string]any{"value": "Ann@Example.com", "type": "work"}}})
	}
	u := c.do("POST", "/scim/v2/Users", withEmail("ann"))
	require.Equal(t, 201, u.status, string(u.raw))
	require.Equal(t, 204, c.do("DELETE", "/scim/v2/Users/"+u.str("id"), nil).status)

	again := c.do("POST", "/scim/v2/Users", withEmail("ann.rehired"))
	require.Equal(t, 409, again.status, string(again.raw))
	require.Equal(t, emailTaken, again.str("detail"))

	// Without the behaviour the deleted user's email is free again.
	_, plain := startSim(t, Options{})
	u = plain.do("POST", "/scim/v2/Users", withEmail("ann"))
	require.Equal(t, 204, plain.do("DELETE", "/scim/v2/Users/"+u.str("id"), nil).status)
	require.Equal(t, 201, plain.do("POST", "/scim/v2/Users", withEmail("ann.rehired")).status)
}

func TestBehaviourOwnErrors(t *testing.T) {
	_, c := startSim(t, Options{SCIM: Behaviours{OwnErrors: true}})
	body := userBody("x", nil)
	delete(body, "userName")
	r := c.do("POST", "/scim/v2/Users", body)
	require.Equal(t, 400, r.status)
	require.Equal(t, map[string]any{"message": "userName is required", "field": "userName"}, r.body)

	nf := c.do("PATCH", "/scim/v2/Groups/no-such-group", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "u1"}}}},
	})
	require.Equal(t, 404, nf.status)
	require.NotEmpty(t, nf.str("message"))
	require.NotContains(t, nf.body, "schemas", "not a SCIM error")
}
