package targetsim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPatchUser(t *testing.T) {
	ent := SchemaEnterprise
	base := map[string]any{
		"name":         map[string]any{"givenName": "Gina", "familyName": "Old"},
		"title":        "Analyst",
		"active":       true,
		"emails":       []any{map[string]any{"value": "g@work", "type": "work", "primary": true}, map[string]any{"value": "g@home", "type": "home"}},
		"phoneNumbers": []any{map[string]any{"value": "1", "type": "work"}},
		ent:            map[string]any{"department": "Ops", "employeeNumber": "7"},
	}
	tests := []struct {
		name  string
		ops   []map[string]any
		check func(t *testing.T, u Resource)
	}{
		{"replace simple", []map[string]any{op("replace", "title", "Lead")}, func(t *testing.T, u Resource) {
			require.Equal(t, "Lead", u.Get("title"))
		}},
		{"replace Op in capitals, path in other case", []map[string]any{{"op": "Replace", "path": "TITLE", "value": "Boss"}}, func(t *testing.T, u Resource) {
			require.Equal(t, "Boss", u.Get("title"))
		}},
		{"replace boolean", []map[string]any{op("replace", "active", false)}, func(t *testing.T, u Resource) {
			require.Equal(t, false, u.Get("active"))
		}},
		{"replace sub-attribute", []map[string]any{op("replace", "name.familyName", "New")}, func(t *testing.T, u Resource) {
			require.Equal(t, "New", u.Get("name.familyName"))
			require.Equal(t, "Gina", u.Get("name.givenName"))
		}},
		{"replace complex merges", []map[string]any{op("replace", "name", map[string]any{"middleName": "M"})}, func(t *testing.T, u Resource) {
			require.Equal(t, "M", u.Get("name.middleName"))
			require.Equal(t, "Gina", u.Get("name.givenName"))
		}},
		{"replace filtered value", []map[string]any{op("replace", `emails[type eq "work"].value`, "gina@work")}, func(t *testing.T, u Resource) {
			require.Equal(t, "gina@work", u.Get(`emails[type eq "work"].value`))
			require.Equal(t, "g@home", u.Get(`emails[type eq "home"].value`))
			require.Equal(t, true, u.Get(`emails[type eq "work"].primary`))
		}},
		{"replace filtered value that is not there creates it", []map[string]any{op("replace", `emails[type eq "other"].value`, "g@other")}, func(t *testing.T, u Resource) {
			require.Equal(t, "g@other", u.Get(`emails[type eq "other"].value`))
			require.Len(t, u.Get("emails"), 3)
		}},
		{"add filtered value that is not there creates it", []map[string]any{op("add", `phoneNumbers[type eq "mobile"].value`, "555")}, func(t *testing.T, u Resource) {
			require.Equal(t, "555", u.Get(`phoneNumbers[type eq "mobile"].value`))
			require.Equal(t, "1", u.Get(`phoneNumbers[type eq "work"].value`))
		}},
		{"replace whole filtered element", []map[string]any{op("replace", `emails[type eq "home"]`, map[string]any{"value": "new@home", "type": "home"})}, func(t *testing.T, u Resource) {
			require.Equal(t, "new@home", u.Get(`emails[type eq "home"].value`))
		}},
		{"replace multi-valued whole", []map[string]any{op("replace", "emails", []any{map[string]any{"value": "only@one"}})}, func(t *testing.T, u Resource) {
			require.Equal(t, []any{map[string]any{"value": "only@one"}}, u.Get("emails"))
		}},
		{"add to multi-valued appends, single value accepted", []map[string]any{op("add", "emails", map[string]any{"value": "third@x", "type": "other"})}, func(t *testing.T, u Resource) {
			require.Len(t, u.Get("emails"), 3)
		}},
		{"add existing value changes nothing", []map[string]any{op("add", "emails", []any{map[string]any{"value": "g@home", "type": "home"}})}, func(t *testing.T, u Resource) {
			require.Len(t, u.Get("emails"), 2)
		}},
		{"remove attribute", []map[string]any{op("remove", "title", nil)}, func(t *testing.T, u Resource) {
			require.Nil(t, u.Get("title"))
		}},
		{"remove sub-attribute", []map[string]any{op("remove", "name.familyName", nil)}, func(t *testing.T, u Resource) {
			require.Nil(t, u.Get("name.familyName"))
			require.Equal(t, "Gina", u.Get("name.givenName"))
		}},
		{"remove filtered element", []map[string]any{op("remove", `emails[type eq "home"]`, nil)}, func(t *testing.T, u Resource) {
			require.Len(t, u.Get("emails"), 1)
			require.Equal(t, "g@work", u.Get(`emails[type eq "work"].value`))
		}},
		{"remove filtered nothing is a no-op", []map[string]any{op("remove", `emails[type eq "pager"]`, nil)}, func(t *testing.T, u Resource) {
			require.Len(t, u.Get("emails"), 2)
		}},
		{"remove last element unassigns", []map[string]any{op("remove", `phoneNumbers[value eq "1"]`, nil)}, func(t *testing.T, u Resource) {
			require.NotContains(t, u.Attrs, "phoneNumbers")
		}},
		{"extension attribute by URN path", []map[string]any{op("replace", ent+":department", "Eng"), op("add", ent+":manager", map[string]any{"value": "m-9"})}, func(t *testing.T, u Resource) {
			require.Equal(t, "Eng", u.Get(ent+":department"))
			require.Equal(t, "m-9", u.Get(ent+":manager.value"))
			require.Equal(t, "7", u.Get(ent+":employeeNumber"))
		}},
		{"extension sub-attribute by URN path", []map[string]any{op("replace", ent+":manager.value", "m-2")}, func(t *testing.T, u Resource) {
			require.Equal(t, "m-2", u.Get(ent+":manager.value"))
		}},
		{"extension object by URN path merges", []map[string]any{op("add", ent, map[string]any{"costCenter": "CC1"})}, func(t *testing.T, u Resource) {
			require.Equal(t, "CC1", u.Get(ent+":costCenter"))
			require.Equal(t, "Ops", u.Get(ent+":department"))
		}},
		{"remove extension attribute", []map[string]any{op("remove", ent+":department", nil), op("remove", ent+":employeeNumber", nil)}, func(t *testing.T, u Resource) {
			require.NotContains(t, u.Attrs, ent, "an empty extension is unassigned")
		}},
		{"no path replace with plain, dotted and URN keys", []map[string]any{op("replace", "", map[string]any{
			"title": "Chief", "name.givenName": "G", ent + ":department": "Legal", "active": false, "id": "ignored",
		})}, func(t *testing.T, u Resource) {
			require.Equal(t, "Chief", u.Get("title"))
			require.Equal(t, "G", u.Get("name.givenName"))
			require.Equal(t, "Legal", u.Get(ent+":department"))
			require.Equal(t, false, u.Get("active"))
		}},
		{"no path add with extension object", []map[string]any{op("add", "", map[string]any{
			"nickName": "gg", ent: map[string]any{"division": "D"},
		})}, func(t *testing.T, u Resource) {
			require.Equal(t, "gg", u.Get("nickName"))
			require.Equal(t, "D", u.Get(ent+":division"))
			require.Equal(t, "Ops", u.Get(ent+":department"))
		}},
		{"several operations in order", []map[string]any{
			op("add", "nickName", "one"), op("replace", "nickName", "two"), op("replace", "userName", "gina2"),
		}, func(t *testing.T, u Resource) {
			require.Equal(t, "two", u.Get("nickName"))
			require.Equal(t, "gina2", u.Get("userName"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := startSim(t, Options{})
			id := c.createUser("gina", base)
			r := c.do("PATCH", "/scim/v2/Users/"+id, patchBody(tc.ops...))
			require.Equal(t, 200, r.status, "%s", r.raw)
			u, ok := s.SCIM().User(id)
			require.True(t, ok)
			require.JSONEq(t, string(u.JSON), string(r.raw), "PATCH answers the resource as stored")
			tc.check(t, u)
		})
	}
}

func TestPatchErrorsChangeNothing(t *testing.T) {
	s, c := startSim(t, Options{})
	id := c.createUser("hank", map[string]any{"title": "T", "emails": []any{map[string]any{"value": "h@x", "type": "work"}}})
	c.createUser("taken", nil)
	before, _ := s.SCIM().User(id)
	tests := []struct {
		name     string
		body     any
		status   int
		scimType string
	}{
		{"no PatchOp schema", map[string]any{"Operations": []any{op("replace", "title", "x")}}, 400, "invalidSyntax"},
		{"no operations", patchBody(), 400, "invalidSyntax"},
		{"bad op", patchBody(op("merge", "title", "x")), 400, "invalidSyntax"},
		{"remove without path", patchBody(op("remove", "", nil)), 400, "noTarget"},
		{"add without value", patchBody(map[string]any{"op": "add", "path": "title"}), 400, "invalidValue"},
		{"unparsable path", patchBody(op("replace", "title!!", "x")), 400, "invalidPath"},
		{"unknown attribute", patchBody(op("replace", "shoeSize", "x")), 400, "invalidPath"},
		{"unknown sub-attribute", patchBody(op("replace", "name.nick", "x")), 400, "invalidPath"},
		{"filter on simple attribute", patchBody(op("replace", `title[value eq "x"]`, "x")), 400, "invalidPath"},
		{"multi-valued sub without filter", patchBody(op("replace", "emails.value", "x")), 400, "invalidPath"},
		{"read-only id", patchBody(op("replace", "id", "x")), 400, "mutability"},
		{"read-only meta", patchBody(op("replace", "meta", map[string]any{})), 400, "mutability"},
		{"wrong type", patchBody(op("replace", "active", "False")), 400, "invalidValue"},
		{"complex filter without match", patchBody(op("replace", `emails[type eq "home" or type eq "other"].value`, "x")), 400, "noTarget"},
		{"remove required", patchBody(op("remove", "userName", nil)), 400, "invalidValue"},
		{"duplicate userName", patchBody(op("replace", "userName", "TAKEN")), 409, "uniqueness"},
		{"second op fails, first is undone", patchBody(op("replace", "title", "changed"), op("replace", "active", 3)), 400, "invalidValue"},
		{"two primaries", patchBody(op("add", "emails", map[string]any{"value": "p@x", "primary": true}), op("replace", `emails[type eq "work"].primary`, true)), 400, "invalidValue"},
		{"unknown member of operation", patchBody(map[string]any{"op": "add", "path": "title", "value": "x", "extra": 1}), 400, "invalidSyntax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireSCIMError(t, c.do("PATCH", "/scim/v2/Users/"+id, tc.body), tc.status, tc.scimType)
			after, _ := s.SCIM().User(id)
			require.Equal(t, before, after)
		})
	}
}

func TestPatchGroupMembers(t *testing.T) {
	s, c := startSim(t, Options{})
	u := make([]string, 5)
	for i := range u {
		u[i] = c.createUser("member"+string(rune('a'+i)), nil)
	}
	gid := c.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{SchemaGroup}, "displayName": "Team"}).str("id")
	members := func() []string { return s.SCIM().Members(gid) }
	patch := func(ops ...map[string]any) response {
		t.Helper()
		return c.do("PATCH", "/scim/v2/Groups/"+gid, patchBody(ops...))
	}
	val := func(ids ...string) []any {
		out := []any{}
		for _, id := range ids {
			out = append(out, map[string]any{"value": id})
		}
		return out
	}

	r := patch(op("add", "members", val(u[0], u[1], u[2])))
	require.Equal(t, 200, r.status, "%s", r.raw)
	require.Equal(t, []string{u[0], u[1], u[2]}, members())

	require.Equal(t, 200, patch(op("add", "members", val(u[1], u[3]))).status, "re-adding a member is harmless")
	require.Equal(t, []string{u[0], u[1], u[2], u[3]}, members())

	require.Equal(t, 200, patch(op("remove", `members[value eq "`+u[1]+`"]`, nil)).status)
	require.Equal(t, []string{u[0], u[2], u[3]}, members())

	require.Equal(t, 200, patch(op("remove", "members", val(u[0], u[3]))).status, "remove by value list")
	require.Equal(t, []string{u[2]}, members())

	require.Equal(t, 200, patch(op("remove", `members[value eq "not-a-member"]`, nil)).status)
	require.Equal(t, 200, patch(op("add", "members", val(u[4])), op("remove", `members[value eq "`+u[2]+`"]`, nil), op("replace", "displayName", "Team 2")).status)
	require.Equal(t, []string{u[4]}, members())
	g, _ := s.SCIM().Group(gid)
	require.Equal(t, "Team 2", g.Get("displayName"))

	require.Equal(t, 200, patch(op("replace", "members", val(u[0], u[1]))).status)
	require.Equal(t, []string{u[0], u[1]}, members())
	require.Equal(t, []string{gid}, s.SCIM().GroupsOf(u[0]))
	require.Empty(t, s.SCIM().GroupsOf(u[4]))

	requireSCIMError(t, patch(op("add", "members", val("ghost"))), 400, "invalidValue")
	require.Equal(t, []string{u[0], u[1]}, members())

	require.Equal(t, 200, patch(op("remove", "members", nil)).status)
	require.Empty(t, members())
	require.Empty(t, s.SCIM().GroupsOf(u[0]))

	require.Equal(t, 200, c.do("PUT", "/scim/v2/Groups/"+gid, map[string]any{
		"schemas": []string{SchemaGroup}, "displayName": "Team 3", "members": val(u[2]),
	}).status)
	require.Equal(t, []string{u[2]}, members())
}

func TestPatchNoContent(t *testing.T) {
	_, c := startSim(t, Options{PatchNoContent: true})
	id := c.createUser("ivy", nil)
	r := c.do("PATCH", "/scim/v2/Users/"+id, patchBody(op("replace", "title", "x")))
	require.Equal(t, 204, r.status)
	require.Equal(t, `W/"2"`, r.header.Get("ETag"))
	require.Empty(t, r.raw)
}
