package targetsim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCreateUserAnswersWithMetaLocationAndETag(t *testing.T) {
	clk := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clk.Now})
	r := c.do("POST", "/scim/v2/Users", userBody("alice@example.com", map[string]any{
		"externalId":  "E1",
		"name":        map[string]any{"givenName": "Alice", "familyName": "Liddell"},
		"displayName": "Alice Liddell",
		"active":      true,
		"password":    "s3cret",
		"emails":      []any{map[string]any{"value": "alice@example.com", "type": "work", "primary": true}},
		SchemaEnterprise: map[string]any{
			"employeeNumber": "0042", "department": "Wonder", "customField": "kept",
			"manager": map[string]any{"value": "boss-1"},
		},
	}))
	require.Equal(t, 201, r.status, "%s", r.raw)
	require.Equal(t, "application/scim+json", r.header.Get("Content-Type"))
	id := r.str("id")
	require.NotEmpty(t, id)
	require.Equal(t, s.URL()+"/scim/v2/Users/"+id, r.header.Get("Location"))
	meta := r.body["meta"].(map[string]any)
	require.Equal(t, r.header.Get("ETag"), meta["version"])
	require.Equal(t, "User", meta["resourceType"])
	require.Equal(t, "2025-03-01T09:00:00.000Z", meta["created"])
	require.Equal(t, meta["created"], meta["lastModified"])
	require.Equal(t, r.header.Get("Location"), meta["location"])
	require.Equal(t, []any{SchemaUser, SchemaEnterprise}, r.body["schemas"])
	require.Equal(t, "E1", r.body["externalId"])
	require.NotContains(t, r.body, "password", "password is write-only")
	ent := r.body[SchemaEnterprise].(map[string]any)
	require.Equal(t, "0042", ent["employeeNumber"])
	require.Equal(t, "kept", ent["customField"])

	got := c.do("GET", "/scim/v2/Users/"+id, nil)
	require.Equal(t, 200, got.status)
	require.JSONEq(t, string(r.raw), string(got.raw))
	require.Equal(t, r.header.Get("ETag"), got.header.Get("ETag"))

	u, ok := s.SCIM().User(id)
	require.True(t, ok)
	require.Equal(t, "Alice", u.Get("name.givenName"))
	require.Equal(t, "alice@example.com", u.Get(`emails[type eq "work"].value`))
	require.Equal(t, "Wonder", u.Get(SchemaEnterprise+":department"))
	require.Equal(t, "boss-1", u.Get(SchemaEnterprise+":manager.value"))
	require.Equal(t, "s3cret", u.Str("password"), "stored, only never returned")
}

func TestGetListPutDeleteUser(t *testing.T) {
	clk := NewManualClock(t0)
	_, c := startSim(t, Options{Now: clk.Now})
	id := c.createUser("bob", map[string]any{"title": "Builder", "nickName": "B"})
	clk.Advance(time.Minute)

	put := c.do("PUT", "/scim/v2/Users/"+id, userBody("bob", map[string]any{"displayName": "Bob", "id": "ignored"}))
	require.Equal(t, 200, put.status, "%s", put.raw)
	require.Equal(t, id, put.str("id"))
	require.Equal(t, "Bob", put.str("displayName"))
	require.NotContains(t, put.body, "title", "PUT replaces: attributes not sent are gone")
	meta := put.body["meta"].(map[string]any)
	require.Equal(t, "2025-03-01T09:00:00.000Z", meta["created"])
	require.Equal(t, "2025-03-01T09:01:00.000Z", meta["lastModified"])

	list := c.list("Users", "")
	require.Equal(t, float64(1), list.body["totalResults"])
	require.Equal(t, []any{msgList}, list.body["schemas"])

	del := c.do("DELETE", "/scim/v2/Users/"+id, nil)
	require.Equal(t, 204, del.status)
	require.Empty(t, del.raw)
	requireSCIMError(t, c.do("GET", "/scim/v2/Users/"+id, nil), 404, "")
	requireSCIMError(t, c.do("DELETE", "/scim/v2/Users/"+id, nil), 404, "")
	requireSCIMError(t, c.do("PUT", "/scim/v2/Users/"+id, userBody("bob", nil)), 404, "")
	requireSCIMError(t, c.do("PATCH", "/scim/v2/Users/"+id, patchBody(op("replace", "title", "x"))), 404, "")
	require.Equal(t, float64(0), c.list("Users", "").body["totalResults"])
}

func TestUniquenessIsCaseInsensitive(t *testing.T) {
	s, c := startSim(t, Options{})
	bob := c.createUser("Bob.Smith@Example.com", nil)
	other := c.createUser("other", nil)

	requireSCIMError(t, c.do("POST", "/scim/v2/Users", userBody("bob.smith@example.COM", nil)), 409, "uniqueness")
	requireSCIMError(t, c.do("PUT", "/scim/v2/Users/"+other, userBody("BOB.SMITH@example.com", nil)), 409, "uniqueness")
	requireSCIMError(t, c.do("PATCH", "/scim/v2/Users/"+other, patchBody(op("replace", "userName", "bob.smith@EXAMPLE.com"))), 409, "uniqueness")
	// renaming a user to a different case of its own name is fine
	r := c.do("PATCH", "/scim/v2/Users/"+bob, patchBody(op("replace", "userName", "bob.smith@example.com")))
	require.Equal(t, 200, r.status, "%s", r.raw)

	g := c.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{SchemaGroup}, "displayName": "Straße Admins"})
	require.Equal(t, 201, g.status, "%s", g.raw)
	// simple case folding, as strings.EqualFold: ß is not SS
	require.Equal(t, 201, c.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{SchemaGroup}, "displayName": "STRASSE admins"}).status)
	requireSCIMError(t, c.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{SchemaGroup}, "displayName": "straße ADMINS"}), 409, "uniqueness")

	_, err := s.SCIM().CreateUser("BOB.smith@example.com", nil)
	require.Equal(t, 409, err.(*SCIMError).Status)
	require.Len(t, s.SCIM().Users(), 2, "a refused create adds nothing")
}

func TestBadRequestsAreSCIMErrorsAndChangeNothing(t *testing.T) {
	s, c := startSim(t, Options{})
	id := c.createUser("carol", map[string]any{"active": true})
	before, _ := s.SCIM().User(id)
	tests := []struct {
		name     string
		method   string
		path     string
		body     any
		status   int
		scimType string
	}{
		{"not JSON", "POST", "/scim/v2/Users", `{"userName":`, 400, "invalidSyntax"},
		{"array body", "POST", "/scim/v2/Users", `[]`, 400, "invalidSyntax"},
		{"no schemas", "POST", "/scim/v2/Users", map[string]any{"userName": "x"}, 400, "invalidSyntax"},
		{"missing userName", "POST", "/scim/v2/Users", userBody("", nil), 400, "invalidValue"},
		{"wrong type", "POST", "/scim/v2/Users", userBody("x", map[string]any{"active": "true"}), 400, "invalidValue"},
		{"unknown attribute", "POST", "/scim/v2/Users", userBody("x", map[string]any{"shoeSize": 44}), 400, "invalidValue"},
		{"unknown sub-attribute", "POST", "/scim/v2/Users", userBody("x", map[string]any{"name": map[string]any{"nick": "x"}}), 400, "invalidValue"},
		{"single value for multi", "POST", "/scim/v2/Users", userBody("x", map[string]any{"emails": map[string]any{"value": "a@b"}}), 400, "invalidValue"},
		{"two primaries", "POST", "/scim/v2/Users", userBody("x", map[string]any{"emails": []any{
			map[string]any{"value": "a@b", "primary": true}, map[string]any{"value": "c@d", "primary": true}}}), 400, "invalidValue"},
		{"unknown schema", "POST", "/scim/v2/Users", userBody("x", map[string]any{"urn:example:ext:1.0:User": map[string]any{"a": 1}}), 400, "invalidValue"},
		{"PUT wrong type", "PUT", "/scim/v2/Users/" + id, userBody("carol", map[string]any{"active": 1}), 400, "invalidValue"},
		{"member does not exist", "POST", "/scim/v2/Groups", map[string]any{"schemas": []string{SchemaGroup}, "displayName": "g", "members": []any{map[string]any{"value": "nobody"}}}, 400, "invalidValue"},
		{"not json content type", "POST", "/scim/v2/Users", "userName=x", 415, ""},
		{"unknown endpoint", "GET", "/scim/v2/Widgets", nil, 404, ""},
		{"bulk", "POST", "/scim/v2/Bulk", `{}`, 501, ""},
		{"method", "PATCH", "/scim/v2/Users", `{}`, 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{}
			if tc.name == "not json content type" {
				hdr = []string{"Content-Type", "application/x-www-form-urlencoded"}
			}
			requireSCIMError(t, c.do(tc.method, tc.path, tc.body, hdr...), tc.status, tc.scimType)
		})
	}
	after, _ := s.SCIM().User(id)
	require.Equal(t, before, after)
	require.Len(t, s.SCIM().Users(), 1)
	require.Empty(t, s.SCIM().Groups())
}

func TestBearerToken(t *testing.T) {
	s, c := startSim(t, Options{Token: "t0ken"})
	c.createUser("dave", nil)
	for _, auth := range []string{"", "Bearer wrong", "Basic dDBrZW4=", "Bearer t0ken2"} {
		r := c.do("GET", "/scim/v2/Users", nil, "Authorization", auth)
		requireSCIMError(t, r, 401, "")
		require.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
	}
	require.Equal(t, 200, c.do("GET", "/scim/v2/Users", nil, "Authorization", "bearer t0ken").status)
	requireSCIMError(t, c.do("POST", "/scim/v2/Users", userBody("eve", nil), "Authorization", "Bearer nope"), 401, "")
	_, ok := s.SCIM().UserByName("eve")
	require.False(t, ok)
}

func TestETagPreconditions(t *testing.T) {
	_, c := startSim(t, Options{})
	id := c.createUser("erin", nil)
	etag := c.do("GET", "/scim/v2/Users/"+id, nil).header.Get("ETag")
	require.Equal(t, `W/"1"`, etag)

	nm := c.do("GET", "/scim/v2/Users/"+id, nil, "If-None-Match", etag)
	require.Equal(t, 304, nm.status)

	stale := `W/"999"`
	requireSCIMError(t, c.do("PUT", "/scim/v2/Users/"+id, userBody("erin", map[string]any{"title": "x"}), "If-Match", stale), 412, "")
	requireSCIMError(t, c.do("PATCH", "/scim/v2/Users/"+id, patchBody(op("replace", "title", "x")), "If-Match", stale), 412, "")
	requireSCIMError(t, c.do("DELETE", "/scim/v2/Users/"+id, nil, "If-Match", stale), 412, "")
	require.Equal(t, etag, c.do("GET", "/scim/v2/Users/"+id, nil).header.Get("ETag"), "a 412 changes nothing")

	p := c.do("PATCH", "/scim/v2/Users/"+id, patchBody(op("replace", "title", "x")), "If-Match", etag)
	require.Equal(t, 200, p.status, "%s", p.raw)
	require.NotEqual(t, etag, p.header.Get("ETag"))
	require.Equal(t, p.header.Get("ETag"), p.body["meta"].(map[string]any)["version"])
	require.Equal(t, 204, c.do("DELETE", "/scim/v2/Users/"+id, nil, "If-Match", "*").status)
}

func TestGroupsMembersAndUserGroupsAttribute(t *testing.T) {
	s, c := startSim(t, Options{})
	alice := c.createUser("alice", map[string]any{"displayName": "Alice A"})
	bob := c.createUser("bob", nil)
	g := c.do("POST", "/scim/v2/Groups", map[string]any{
		"schemas": []string{SchemaGroup}, "displayName": "Engineers",
		"members": []any{map[string]any{"value": alice}, map[string]any{"value": bob, "display": "Bobby"}, map[string]any{"value": alice}},
	})
	require.Equal(t, 201, g.status, "%s", g.raw)
	gid := g.str("id")
	members := g.body["members"].([]any)
	require.Len(t, members, 2, "duplicates collapse")
	m0 := members[0].(map[string]any)
	require.Equal(t, alice, m0["value"])
	require.Equal(t, "Alice A", m0["display"])
	require.Equal(t, "User", m0["type"])
	require.Equal(t, s.URL()+"/scim/v2/Users/"+alice, m0["$ref"])
	require.Equal(t, "Bobby", members[1].(map[string]any)["display"])

	require.Equal(t, []string{gid}, resourceIDs(t, c.list("Groups", `members[value eq "`+bob+`"]`)))
	require.Equal(t, []string{gid}, resourceIDs(t, c.list("Groups", `members.value eq "`+alice+`" and displayName eq "engineers"`)))
	require.Empty(t, resourceIDs(t, c.list("Groups", `members[value eq "nobody"]`)))

	u := c.do("GET", "/scim/v2/Users/"+alice, nil)
	require.Equal(t, []any{map[string]any{"value": gid, "display": "Engineers", "type": "direct", "$ref": s.URL() + "/scim/v2/Groups/" + gid}}, u.body["groups"])
	requireSCIMError(t, c.do("PATCH", "/scim/v2/Users/"+alice, patchBody(op("add", "groups", []any{map[string]any{"value": gid}}))), 400, "mutability")

	// renaming the group shows in the user's groups
	require.Equal(t, 200, c.do("PATCH", "/scim/v2/Groups/"+gid, patchBody(op("replace", "displayName", "Builders"))).status)
	u = c.do("GET", "/scim/v2/Users/"+alice, nil)
	require.Equal(t, "Builders", u.body["groups"].([]any)[0].(map[string]any)["display"])

	// deleting a user takes it out of the group
	require.Equal(t, 204, c.do("DELETE", "/scim/v2/Users/"+alice, nil).status)
	require.Equal(t, []string{bob}, s.SCIM().Members(gid))
	// deleting the group clears the user's groups
	require.Equal(t, []string{gid}, s.SCIM().GroupsOf(bob))
	require.Equal(t, 204, c.do("DELETE", "/scim/v2/Groups/"+gid, nil).status)
	require.Empty(t, s.SCIM().GroupsOf(bob))
	require.NotContains(t, c.do("GET", "/scim/v2/Users/"+bob, nil).body, "groups")
}

func TestNestedGroups(t *testing.T) {
	s, c := startSim(t, Options{})
	inner, err := s.SCIM().CreateGroup("inner")
	require.NoError(t, err)
	outer, err := s.SCIM().CreateGroup("outer", inner.ID)
	require.NoError(t, err)
	r := c.do("GET", "/scim/v2/Groups/"+outer.ID, nil)
	m := r.body["members"].([]any)[0].(map[string]any)
	require.Equal(t, "Group", m["type"])
	require.Equal(t, s.URL()+"/scim/v2/Groups/"+inner.ID, m["$ref"])
	requireSCIMError(t, c.do("PATCH", "/scim/v2/Groups/"+inner.ID, patchBody(op("add", "members", []any{map[string]any{"value": inner.ID}}))), 400, "invalidValue")
	require.NoError(t, s.SCIM().DeleteGroup(inner.ID))
	require.Empty(t, s.SCIM().Members(outer.ID))
}

func TestDiscoveryEndpoints(t *testing.T) {
	_, c := startSim(t, Options{MaxResults: 50})
	spc := c.do("GET", "/scim/v2/ServiceProviderConfig", nil)
	require.Equal(t, 200, spc.status)
	require.Equal(t, "application/scim+json", spc.header.Get("Content-Type"))
	require.Equal(t, true, spc.body["patch"].(map[string]any)["supported"])
	require.Equal(t, false, spc.body["bulk"].(map[string]any)["supported"])
	require.Equal(t, true, spc.body["etag"].(map[string]any)["supported"])
	require.Equal(t, float64(50), spc.body["filter"].(map[string]any)["maxResults"])

	schemas := c.do("GET", "/scim/v2/Schemas", nil)
	require.Equal(t, float64(3), schemas.body["totalResults"])
	user := c.do("GET", "/scim/v2/Schemas/"+SchemaUser, nil)
	require.Equal(t, 200, user.status, "%s", user.raw)
	var doc struct {
		Attributes []schemaAttrDoc `json:"attributes"`
	}
	require.NoError(t, json.Unmarshal(user.raw, &doc))
	byName := map[string]schemaAttrDoc{}
	for _, a := range doc.Attributes {
		byName[a.Name] = a
	}
	require.True(t, byName["userName"].Required)
	require.Equal(t, "server", byName["userName"].Uniqueness)
	require.Equal(t, tBoolean, byName["active"].Type)
	require.True(t, byName["emails"].MultiValued)
	require.Equal(t, "readOnly", byName["groups"].Mutability)
	require.Equal(t, "never", byName["password"].Returned)
	require.Equal(t, 200, c.do("GET", "/scim/v2/Schemas/"+SchemaEnterprise, nil).status)
	require.Equal(t, 404, c.do("GET", "/scim/v2/Schemas/urn:nope", nil).status)

	rts := c.do("GET", "/scim/v2/ResourceTypes", nil)
	require.Equal(t, float64(2), rts.body["totalResults"])
	g := c.do("GET", "/scim/v2/ResourceTypes/Group", nil)
	require.Equal(t, "/Groups", g.body["endpoint"])
}

func TestAccessorsSeedAndInspectState(t *testing.T) {
	s, c := startSim(t, Options{})
	u, err := s.SCIM().CreateUser("frank", map[string]any{"active": false, "emails": []map[string]any{{"value": "f@x", "type": "home"}}})
	require.NoError(t, err)
	require.Equal(t, false, u.Get("active"))
	g, err := s.SCIM().CreateGroup("Ops")
	require.NoError(t, err)
	require.NoError(t, s.SCIM().AddMember(g.ID, u.ID))
	require.NoError(t, s.SCIM().AddMember(g.ID, u.ID), "adding twice is harmless")
	require.Equal(t, []string{u.ID}, s.SCIM().Members(g.ID))

	require.NoError(t, s.SCIM().SetUserAttr(u.ID, "active", true))
	require.NoError(t, s.SCIM().SetUserAttr(u.ID, `emails[type eq "home"].value`, "frank@home"))
	require.NoError(t, s.SCIM().SetUserAttr(u.ID, SchemaEnterprise+":department", "Ops"))
	require.NoError(t, s.SCIM().SetUserAttr(u.ID, "nickName", "Frankie"))
	require.NoError(t, s.SCIM().SetUserAttr(u.ID, "nickName", nil))
	got := c.do("GET", "/scim/v2/Users/"+u.ID, nil)
	require.Equal(t, true, got.body["active"])
	require.Equal(t, "frank@home", got.body["emails"].([]any)[0].(map[string]any)["value"])
	require.NotContains(t, got.body, "nickName")
	require.Equal(t, "Ops", got.body[SchemaEnterprise].(map[string]any)["department"])

	byName, ok := s.SCIM().UserByName("FRANK")
	require.True(t, ok)
	require.Equal(t, u.ID, byName.ID)
	require.Equal(t, g.ID, byName.Get("groups").([]any)[0].(map[string]any)["value"])
	var viaJSON map[string]any
	require.NoError(t, json.Unmarshal(byName.JSON, &viaJSON))
	require.Equal(t, got.body, viaJSON)

	require.Error(t, s.SCIM().SetUserAttr(u.ID, "active", "yes"))
	require.NoError(t, s.SCIM().RemoveMember(g.ID, u.ID))
	require.Empty(t, s.SCIM().Members(g.ID))
	require.NoError(t, s.SCIM().DeleteUser(u.ID))
	require.Equal(t, 404, s.SCIM().DeleteUser(u.ID).(*SCIMError).Status)
	_, ok = s.SCIM().GroupByName("ops")
	require.True(t, ok)

	other, err := s.SCIM().CreateUser("gus", nil)
	require.NoError(t, err)
	require.NoError(t, s.SCIM().SetGroupAttr(g.ID, "displayName", "Operations"))
	require.NoError(t, s.SCIM().SetGroupAttr(g.ID, "members", []map[string]any{{"value": other.ID}}))
	grp, _ := s.SCIM().Group(g.ID)
	require.Equal(t, "Operations", grp.Str("displayName"))
	require.Equal(t, "gus", grp.Get(`members[value eq "`+other.ID+`"].display`))
	require.Equal(t, "User", grp.Get(`members[type eq "User"].type`))
	require.Nil(t, grp.Get(`members[value eq "nobody"]`))
}
