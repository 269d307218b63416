package inbound_test

import (
	"encoding/json"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/inbound"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
)

const ent = inbound.EnterpriseSchema + ":"

func spec() source.Spec {
	s := source.Spec{Name: "hr", Format: "scim", Key: "id", End: "end", Columns: []source.Column{
		{Name: "id", Type: "string"}, {Name: "mail", Type: "email", Required: true}, {Name: "first", Type: "string"},
		{Name: "dept", Type: "string"}, {Name: "phone", Type: "string"}, {Name: "boss", Type: "string"},
		{Name: "grade", Type: "int"}, {Name: "end", Type: "date", Format: "02.01.2006"}, {Name: "secret_note", Type: "string"},
	}}
	if probs := s.Check(); len(probs) > 0 {
		panic(probs.Error())
	}
	return s
}

func mapping(t *testing.T) *inbound.Mapping {
	t.Helper()
	c := inbound.SCIM{Source: "hr", Attributes: map[string]string{
		"id": "externalId", "mail": "userName", "first": "name.givenName", "dept": ent + "department",
		"phone": `phoneNumbers[type eq "mobile"].value`, "boss": ent + "manager.value",
		"grade": inbound.HRSchema + ":grade", "end": inbound.HRSchema + ":endDate",
	}}
	m, probs := c.Compile([]source.Spec{spec()})
	require.Empty(t, probs)
	return m
}

func TestCompileNamesEveryProblem(t *testing.T) {
	t.Parallel()
	csv := spec()
	csv.Name, csv.Format, csv.Path = "file", "csv", "hr.csv"
	cases := []struct {
		source string
		attrs  map[string]string
		want   []string
	}{
		{"nope", map[string]string{"id": "externalId"}, []string{`source: no source named "nope" (sources: hr, file)`}},
		{"file", map[string]string{"id": "externalId"}, []string{"source: source \"file\" has format csv; inbound SCIM needs a source of its own"}},
		{"hr", nil, []string{"attributes: map at least the source's key column"}},
		{"hr", map[string]string{"mail": "userName"}, []string{`attributes: the key column "id" must be mapped`}},
		{"hr", map[string]string{"id": "externalId", "nope": "title"}, []string{`attributes.nope: source "hr" has no column "nope"`}},
		{"hr", map[string]string{"id": "externalId", "mail": "shoeSize"}, []string{`attributes.mail: "shoeSize": urn:ietf:params:scim:schemas:core:2.0:User has no attribute "shoeSize"`}},
		{"hr", map[string]string{"id": "externalId", "mail": "name"}, []string{`attributes.mail: "name" names more than one value; name one, such as name.formatted`}},
		{"hr", map[string]string{"id": "externalId", "mail": "emails.value"}, []string{`such as emails[type eq "work"].value`}},
		{"hr", map[string]string{"id": "externalId", "mail": `emails[type eq "pager"].value`}, []string{`emails has no type "pager"`}},
		{"hr", map[string]string{"id": "externalId", "mail": "urn:example:Foo:bar"}, []string{`unknown schema "urn:example:Foo"`}},
		{"hr", map[string]string{"id": "externalId", "mail": "externalId"}, []string{`is mapped to column "id" already`}},
		{"hr", map[string]string{"id": "externalId", "mail": "userName!"}, []string{`attributes.mail: "userName!" is not a SCIM attribute path`}},
	}
	for _, c := range cases {
		_, probs := (&inbound.SCIM{Source: c.source, Attributes: c.attrs}).Compile([]source.Spec{spec(), csv})
		text := probs.Error()
		for _, w := range c.want {
			require.Contains(t, text, w, "%v", c.attrs)
		}
	}
}

func TestParseRenderRoundTrip(t *testing.T) {
	t.Parallel()
	m := mapping(t)
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		"externalId": "E1", "userName": "Ann@Example.com", "password": "hunter2", "displayName": "ignored",
		"name": {"givenName": "Ann", "familyName": "not mapped"},
		"phoneNumbers": [{"type": "work", "value": "1"}, {"type": "mobile", "value": "+31 6"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "manager": {"value": "E0", "displayName": "Boss"}},
		"urn:accord:params:scim:schemas:extension:hr:1.0:User": {"grade": 7, "endDate": "31.12.2026"}
	}`), &body))
	u, err := m.Parse(body)
	require.Nil(t, err)
	rec := m.Record(u, nil)
	require.Equal(t, "+31 6", rec["phone"])
	require.Equal(t, "E0", rec["boss"])
	p, probs := m.Spec.ParseRecord(rec)
	require.Empty(t, probs)
	require.Equal(t, int64(7), p.Attributes["grade"])
	require.Equal(t, model.MustDate("2026-12-31"), p.End)

	// Back out: the same values, dates in their column's layout.
	res := m.Render(m.FromPerson(&p))
	require.Equal(t, "E1", res["externalId"])
	require.Equal(t, map[string]any{"givenName": "Ann"}, res["name"])
	require.Equal(t, []any{map[string]any{"type": "mobile", "value": "+31 6", "primary": true}}, res["phoneNumbers"])
	require.Equal(t, map[string]any{"department": "Sales", "manager": map[string]any{"value": "E0"}}, res[inbound.EnterpriseSchema])
	require.Equal(t, "31.12.2026", res[inbound.HRSchema].(map[string]any)["endDate"])
	require.Equal(t, []string{inbound.UserSchema, inbound.HRSchema, inbound.EnterpriseSchema}, res["schemas"])
	require.NotContains(t, res, "password")

	// An unmapped column survives a write through SCIM.
	p.Attributes["secret_note"] = "kept"
	require.Equal(t, "kept", m.Record(m.FromPerson(&p), &p)["secret_note"])
}

func TestParseRefusesWhatItCannotPlace(t *testing.T) {
	t.Parallel()
	m := mapping(t)
	cases := map[string]string{
		`{"shoeSize": 9}`:                  `shoeSize: unknown attribute of ` + inbound.UserSchema,
		`{"name": "Ann"}`:                  "name: expected an object, got a string",
		`{"name": {"nickname": "x"}}`:      `name.nickname: name has no sub-attribute "nickname"`,
		`{"userName": ["a"]}`:              "userName: expected a single value, got an array",
		`{"phoneNumbers": {"value": "1"}}`: "phoneNumbers: expected an array, got an object",
		`{"active": "maybe"}`:              "active: expected true or false, got a string",
		`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"}`:   "expected an object of the extension's attributes",
		`{"urn:accord:params:scim:schemas:extension:hr:1.0:User": {"shoe": 1}}`: "no column is mapped from this attribute",
		`{"urn:example:Other:thing": 1}`:                                        `unknown schema "urn:example:Other"`,
	}
	for in, want := range cases {
		var body map[string]any
		require.NoError(t, json.Unmarshal([]byte(in), &body))
		_, err := m.Parse(body)
		require.NotNil(t, err, in)
		require.Contains(t, err.Detail, want, in)
	}

	// An extension the body declares is ignored, as unmapped attributes are.
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:Other"],
		"externalId": "E1", "urn:example:Other": {"thing": 1}}`), &body))
	u, err := m.Parse(body)
	require.Nil(t, err)
	require.Equal(t, "E1", m.Record(u, nil)["id"])
}

func TestPatchOperations(t *testing.T) {
	t.Parallel()
	m := mapping(t)
	yes := true
	base := func() inbound.User {
		return inbound.User{Active: &yes, Values: map[inbound.Slot]any{
			{Schema: inbound.UserSchema, Attr: "externalId"}:             "E1",
			{Schema: inbound.UserSchema, Attr: "userName"}:               "a@example.com",
			{Schema: inbound.UserSchema, Attr: "name", Sub: "givenName"}: "Ann",
			{Schema: inbound.EnterpriseSchema, Attr: "department"}:       "Sales",
		}}
	}
	get := func(u inbound.User, col string) any { return m.Record(u, nil)[col] }
	cases := []struct {
		ops   string
		check func(inbound.User)
	}{
		{`[{"op": "Replace", "path": "name.givenName", "value": "Bea"}]`, func(u inbound.User) { require.Equal(t, "Bea", get(u, "first")) }},
		{`[{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "HR"}]`,
			func(u inbound.User) { require.Equal(t, "HR", get(u, "dept")) }},
		{`[{"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops", "active": "False"}}]`,
			func(u inbound.User) { require.Equal(t, "Ops", get(u, "dept")); require.False(t, *u.Active) }},
		{`[{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"manager": {"value": "E9"}}}]`,
			func(u inbound.User) {
				require.Equal(t, "E9", get(u, "boss"))
				require.Equal(t, "Sales", get(u, "dept"))
			}},
		{`[{"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "555"}]}]`,
			func(u inbound.User) { require.Equal(t, "555", get(u, "phone")) }},
		{`[{"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "556"}, {"op": "remove", "path": "name"}]`,
			func(u inbound.User) { require.Equal(t, "556", get(u, "phone")); require.Nil(t, get(u, "first")) }},
		{`[{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]`,
			func(u inbound.User) { require.Nil(t, get(u, "dept")) }},
		{`[{"op": "replace", "path": "active", "value": false}]`, func(u inbound.User) { require.False(t, *u.Active) }},
	}
	for _, c := range cases {
		var ops []inbound.PatchOp
		require.NoError(t, json.Unmarshal([]byte(c.ops), &ops))
		u := base()
		require.Nil(t, m.Patch(&u, ops), c.ops)
		c.check(u)
	}
	bad := map[string]string{
		`[]`:                                   "needs at least one operation",
		`[{"op": "copy", "path": "userName"}]`: "invalidSyntax",
		`[{"op": "remove"}]`:                   "noTarget",
		`[{"op": "remove", "path": "active"}]`: "invalidValue",
		`[{"op": "replace", "path": "emails[value eq \"x\"].value"}]`:                                      "invalidPath",
		`[{"op": "replace", "path": "userName", "value": {"a": 1}}]`:                                       "invalidValue",
		`[{"op": "replace", "value": "not an object"}]`:                                                    "invalidValue",
		`[{"op": "add", "path": "urn:accord:params:scim:schemas:extension:hr:1.0:User:nope", "value": 1}]`: "invalidValue",
	}
	for in, want := range bad {
		var ops []inbound.PatchOp
		require.NoError(t, json.Unmarshal([]byte(in), &ops))
		u := base()
		err := m.Patch(&u, ops)
		require.NotNil(t, err, in)
		require.True(t, err.ScimType == want || strings.Contains(err.Detail, want), "%s: %s %s", in, err.ScimType, err.Detail)
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	m := mapping(t)
	no := false
	u := inbound.User{Active: &no, Values: map[inbound.Slot]any{
		{Schema: inbound.UserSchema, Attr: "externalId"}:                                 "E1",
		{Schema: inbound.UserSchema, Attr: "userName"}:                                   "ann@example.com",
		{Schema: inbound.UserSchema, Attr: "phoneNumbers", Type: "mobile", Sub: "value"}: "555",
		{Schema: inbound.HRSchema, Attr: "grade"}:                                        json.Number("7"),
	}}
	cases := map[string]bool{
		`userName eq "ANN@example.com"`:                                   true,
		`externalId eq "e1"`:                                              false, // caseExact
		`externalId eq "E1" and active eq false`:                          true,
		`not (active eq false)`:                                           false,
		`userName sw "ann" or externalId eq "x"`:                          true,
		`phoneNumbers.value eq "555"`:                                     true,
		`urn:accord:params:scim:schemas:extension:hr:1.0:User:grade eq 7`: true,
		`title pr`:   false, // not mapped: never present
		`id eq "E9"`: false,
	}
	for f, want := range cases {
		e, err := filter.ParseFilter([]byte(f))
		require.NoError(t, err, f)
		got, ferr := m.Match(e, "E1", u)
		require.Nil(t, ferr, f)
		require.Equal(t, want, got, f)
	}
	e, _ := filter.ParseFilter([]byte(`userName gt "a"`))
	_, ferr := m.Match(e, "E1", u)
	require.NotNil(t, ferr)
	require.Equal(t, "invalidFilter", ferr.ScimType)

	pins := map[string][]string{
		`externalId eq "E1"`:                     {"E1"},
		`externalId eq "E2" or id eq "E1"`:       {"E1", "E2"},
		`userName eq "x" and externalId eq "E3"`: {"E3"},
		`userName eq "x"`:                        nil,
		`externalId eq "E1" or userName eq "x"`:  nil,
	}
	for f, want := range pins {
		e, err := filter.ParseFilter([]byte(f))
		require.NoError(t, err)
		ids, ok := m.KeyCandidates(e)
		require.Equal(t, want != nil, ok, f)
		require.Equal(t, want, ids, f)
	}
}
