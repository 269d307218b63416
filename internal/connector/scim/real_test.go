package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Acceptance tests against a real third-party SCIM server (SCIMMY 1.3.5,
// see testdata/scimserver).

func scimmy(s *scim.Settings) { s.Quirks.FilterNoEscapes = true }

func TestRealAccountLifecycle(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, scimmy)
	ctx := context.Background()

	want := person("ann")
	a := create(t, c, want)
	require.True(t, a.Active)
	require.Equal(t, want, a.Attributes, "what was written reads back under the same names")
	require.Equal(t, []string{}, a.Entitlements)

	got, err := c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.Equal(t, a, got)

	// Change one, add a value whose element does not exist yet, remove one.
	changes := model.Attributes{
		"name.givenName":                       "Annie",
		`phoneNumbers[type eq "mobile"].value`: "+41 79 555 01 01",
		"displayName":                          nil,
		enterpriseEmployeeNumber:               "1002",
	}
	require.NoError(t, c.Update(ctx, ref(a), changes))
	got, err = c.Get(ctx, ref(a))
	require.NoError(t, err)
	for k, v := range changes {
		if v == nil {
			require.NotContains(t, got.Attributes, k)
			continue
		}
		require.Equal(t, v, got.Attributes[k], k)
	}
	require.Equal(t, "ann@example.com", got.Attributes[`emails[type eq "work"].value`], "untouched attributes stay")

	// The element exists now: the plain PATCH with a value filter works.
	require.NoError(t, c.Update(ctx, ref(a), model.Attributes{`phoneNumbers[type eq "mobile"].value`: "+41 79 555 02 02", `emails[type eq "work"].value`: ""}))
	got, err = c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.Equal(t, "+41 79 555 02 02", got.Attributes[`phoneNumbers[type eq "mobile"].value`])
	require.NotContains(t, got.Attributes, `emails[type eq "work"].value`)

	require.NoError(t, c.Disable(ctx, ref(a)))
	got, err = c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.False(t, got.Active)
	require.NoError(t, c.Enable(ctx, ref(a)))
	got, err = c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.True(t, got.Active)

	require.NoError(t, c.Delete(ctx, ref(a)))
	_, err = c.Get(ctx, ref(a))
	requireKind(t, connector.NotFound, err)
	requireKind(t, connector.NotFound, c.Delete(ctx, ref(a)))
}

func TestRealUpdateWithPut(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, func(s *scim.Settings) { scimmy(s); off := false; s.Patch = &off })
	ctx := context.Background()
	a := create(t, c, person("put"))
	require.NoError(t, c.Update(ctx, ref(a), model.Attributes{"name.givenName": "Pat", `phoneNumbers[type eq "mobile"].value`: "+1 555", "displayName": ""}))
	require.NoError(t, c.Disable(ctx, ref(a)))
	got, err := c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.False(t, got.Active)
	require.Equal(t, "Pat", got.Attributes["name.givenName"])
	require.Equal(t, "+1 555", got.Attributes[`phoneNumbers[type eq "mobile"].value`])
	require.NotContains(t, got.Attributes, "displayName")
	require.Equal(t, "ann@example.com", got.Attributes[`emails[type eq "work"].value`])
}

// hostile are userNames that break naive filter and URL building.
var hostile = []string{
	"with/slash",
	`with"quote`,
	`with"quote"2`,
	"with space",
	`back\slash`,
	"ünïcödé-名前",
	`"`,
	`mix / " \ é`,
	"plus+and&amp?=#",
}

func TestRealFindHostileUserNames(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, scimmy)
	ctx := context.Background()
	ids := map[string]string{}
	for _, n := range hostile {
		ids[n] = create(t, c, person(n)).NativeID
	}
	for _, n := range hostile {
		t.Run(n, func(t *testing.T) {
			a, err := c.Find(ctx, model.Attributes{"userName": n})
			require.NoError(t, err)
			require.Equal(t, ids[n], a.NativeID)
			require.Equal(t, n, a.Attributes["userName"])
			got, err := c.Get(ctx, connector.AccountRef{NativeID: a.NativeID})
			require.NoError(t, err)
			require.Equal(t, n, got.Attributes["userName"])
		})
	}
	_, err := c.Find(ctx, model.Attributes{"userName": `with"quote"3`})
	requireKind(t, connector.NotFound, err)
	_, err = c.Find(ctx, model.Attributes{"userName": "nobody"})
	requireKind(t, connector.NotFound, err)
	_, err = c.Find(ctx, model.Attributes{"displayName": "no userName"})
	requireKind(t, connector.Validation, err)
}

// Without the quirk, SCIMMY cannot read an escaped quote: the connector
// sends a correct filter and reports the target's refusal as validation.
func TestRealWithoutQuirkEscapedQuoteIsRefused(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, nil)
	create(t, c, person(`with"quote`))
	_, err := c.Find(context.Background(), model.Attributes{"userName": `with"quote`})
	e := requireKind(t, connector.Validation, err)
	require.Equal(t, http.StatusBadRequest, e.Status)
	require.Contains(t, e.Message, "invalidFilter")
}

func TestRealFindByTemplateFilter(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	_, err := scim.New(scim.Settings{URL: tg.url, UserFilter: `externalId eq "{{externalId}}" and emails[type eq "work" and value eq "{{emails[type eq "work"].value}}"]`}, nil)
	require.Error(t, err, "a placeholder cannot hold a quote")

	c := open(t, tg, func(s *scim.Settings) {
		scimmy(s)
		s.UserFilter = `externalId eq "{{externalId}}" and name.familyName eq "Example"`
	})
	a := create(t, c, person(`tem"plate`))
	got, err := c.Find(context.Background(), model.Attributes{"externalId": `ext-tem"plate`})
	require.NoError(t, err)
	require.Equal(t, a.NativeID, got.NativeID)
}

func TestRealCreateConflictThenFindLinks(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, scimmy)
	ctx := context.Background()
	first := create(t, c, person("dup"))
	_, err := c.Create(ctx, connector.CreateRequest{Attributes: person("dup")})
	e := requireKind(t, connector.Conflict, err)
	require.Equal(t, http.StatusConflict, e.Status)
	found, err := c.Find(ctx, person("dup"))
	require.NoError(t, err)
	require.Equal(t, first.NativeID, found.NativeID)
}

func TestRealGrantRevoke(t *testing.T) {
	t.Parallel()
	for _, by := range []string{"id", "displayName"} {
		t.Run(by, func(t *testing.T) {
			tg := realTarget(t)
			c := open(t, tg, func(s *scim.Settings) { scimmy(s); s.EntitlementBy = by })
			adm := admin{t, tg}
			ctx := context.Background()
			names := []string{"Sales", `R&D "Labs"`, "Ops/EMEA"}
			ids := map[string]string{}
			ents := map[string]string{}
			for _, n := range names {
				ids[n] = adm.group(n)
				ents[n] = ids[n]
				if by == "displayName" {
					ents[n] = n
				}
			}
			a := create(t, c, person("grantee"))
			other := create(t, c, person("bystander"))
			require.NoError(t, c.Grant(ctx, ref(other), []string{ents["Sales"]}))

			require.NoError(t, c.Grant(ctx, ref(a), []string{ents["Sales"], ents[`R&D "Labs"`]}))
			require.ElementsMatch(t, []string{other.NativeID, a.NativeID}, adm.members(ids["Sales"]))
			require.Equal(t, []string{a.NativeID}, adm.members(ids[`R&D "Labs"`]))
			got, err := c.Get(ctx, ref(a))
			require.NoError(t, err)
			want := []string{ents["Sales"], ents[`R&D "Labs"`]}
			sort.Strings(want)
			require.Equal(t, want, got.Entitlements)

			// Granting again is harmless.
			require.NoError(t, c.Grant(ctx, ref(a), []string{ents["Sales"]}))
			require.Len(t, adm.members(ids["Sales"]), 2)

			require.NoError(t, c.Revoke(ctx, ref(a), []string{ents["Sales"]}))
			require.Equal(t, []string{other.NativeID}, adm.members(ids["Sales"]))
			require.NoError(t, c.Revoke(ctx, ref(a), []string{ents["Sales"], ents["Ops/EMEA"]}), "revoking a non-member is done")
			got, err = c.Get(ctx, ref(a))
			require.NoError(t, err)
			require.Equal(t, []string{ents[`R&D "Labs"`]}, got.Entitlements)

			if by == "displayName" {
				requireKind(t, connector.NotFound, c.Grant(ctx, ref(a), []string{"No Such Group"}))
			} else {
				requireKind(t, connector.NotFound, c.Grant(ctx, ref(a), []string{"no-such-id"}))
			}
		})
	}
}

func TestRealMembersInBatches(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, func(s *scim.Settings) { scimmy(s); s.BatchMembers = 2 })
	adm := admin{t, tg}
	gid := adm.group("Batch")
	var ids []string
	for i := range 5 {
		ids = append(ids, create(t, c, person(fmt.Sprintf("m%d", i))).NativeID)
	}
	ctx := context.Background()
	outside := create(t, c, person("m-out")).NativeID
	require.NoError(t, c.AddMembers(ctx, gid, ids))
	require.ElementsMatch(t, ids, adm.members(gid))
	// The batch's read-back: one filter on the Users' ids, their groups
	// compared.
	among, err := c.MembersAmong(ctx, gid, append(slices.Clone(ids), outside))
	require.NoError(t, err)
	require.ElementsMatch(t, ids, among)
	// ids[4] is removed twice: the batch with a non-member (SCIMMY
	// answers noTarget) is narrowed by halves.
	require.NoError(t, c.RemoveMembers(ctx, gid, ids[3:]))
	require.NoError(t, c.RemoveMembers(ctx, gid, []string{ids[0], ids[4]}))
	require.ElementsMatch(t, ids[1:3], adm.members(gid))
	among, err = c.MembersAmong(ctx, gid, ids)
	require.NoError(t, err)
	require.ElementsMatch(t, ids[1:3], among)
}

func TestRealListPaging(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, func(s *scim.Settings) { scimmy(s); s.PageSize = 3 })
	adm := admin{t, tg}
	ctx := context.Background()
	want := map[string]string{}
	for i := range 7 {
		a := create(t, c, person(fmt.Sprintf("user%02d", i)))
		want[a.NativeID] = a.Attributes["userName"].(string)
	}
	for i := range 4 {
		adm.group(fmt.Sprintf("group%d", i))
	}

	got := map[string]string{}
	var sizes []int
	for cursor, first := "", true; first || cursor != ""; first = false {
		p, err := c.ListAccounts(ctx, cursor)
		require.NoError(t, err)
		require.Equal(t, 7, p.Total)
		sizes = append(sizes, len(p.Items))
		for _, a := range p.Items {
			got[a.NativeID] = a.Attributes["userName"].(string)
		}
		cursor = p.Next
	}
	require.Equal(t, []int{3, 3, 1}, sizes)
	require.Equal(t, want, got)

	var groups []string
	for cursor, first := "", true; first || cursor != ""; first = false {
		p, err := c.ListEntitlements(ctx, cursor)
		require.NoError(t, err)
		for _, e := range p.Items {
			groups = append(groups, e.DisplayName)
			require.NotNil(t, e.Members)
		}
		cursor = p.Next
	}
	require.Equal(t, []string{"group0", "group1", "group2", "group3"}, groups)

	_, err := c.ListAccounts(ctx, "not-a-number")
	requireKind(t, connector.Validation, err)
}

func TestRealDiscovery(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, nil)
	s, err := c.Schema(context.Background())
	require.NoError(t, err)
	require.True(t, s.ConfigOffered && s.SchemasOffered && s.ResourceTypesOffered)
	require.True(t, s.Patch)
	require.True(t, s.Filter)
	require.False(t, s.ETag)
	require.Equal(t, "/Users", s.UserEndpoint)
	require.Equal(t, "/Groups", s.GroupEndpoint)
	require.Contains(t, s.UserExtensions, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")

	un, ok := s.Lookup("userName")
	require.True(t, ok)
	require.True(t, un.Required)
	require.Equal(t, "string", un.Type)
	email, ok := s.Lookup(`emails[type eq "work"].value`)
	require.True(t, ok)
	require.Equal(t, "string", email.Type)
	emp, ok := s.Lookup(enterpriseEmployeeNumber)
	require.True(t, ok)
	require.Equal(t, "string", emp.Type)
	_, ok = s.Lookup("noSuchAttribute")
	require.False(t, ok)
}

func TestRealErrors(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, scimmy)
	ctx := context.Background()

	_, err := c.Get(ctx, connector.AccountRef{NativeID: "no/such id"})
	requireKind(t, connector.NotFound, err)

	a := create(t, c, person("err"))
	err = c.Update(ctx, ref(a), model.Attributes{"name.givenName": int64(5)})
	e := requireKind(t, connector.Validation, err)
	require.Equal(t, "name.givenName", e.Attribute, "%v", err)

	bad, err := scim.New(scim.Settings{URL: tg.url, Config: openConfig(tokenRef(t, "wrong-token-value"))}, mapping)
	require.NoError(t, err)
	_, err = bad.Get(ctx, ref(a))
	requireKind(t, connector.Auth, err)
}

func TestRealAuditAndCorrelation(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, scimmy)
	rec := &testkit.AuditLog{}
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "run-9", ActionID: 3, Sink: rec})
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: person("audited")})
	require.NoError(t, err)
	require.NoError(t, c.Disable(ctx, ref(a)))
	recs := rec.Records()
	require.NotEmpty(t, recs)
	var methods []string
	for _, r := range recs {
		methods = append(methods, r.Method)
		require.Equal(t, audit.KindExchange, r.Kind)
		require.Equal(t, "run-9/3", r.RequestHeaders["X-Correlation-Id"])
		require.Equal(t, secret.Mask, r.RequestHeaders["Authorization"])
		require.NotContains(t, fmt.Sprint(r), tg.token)
	}
	require.Equal(t, []string{"GET", "GET", "GET", "POST", "PATCH"}, methods, "discovery once, then the calls")
}

func TestOpenThroughRegistry(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	node, err := yamlx.Parse([]byte(fmt.Sprintf(`
url: %s
auth: {type: bearer, token: "%s"}
user_filter: userName
quirks: {filter_no_escapes: true}
`, tg.url, tokenRef(t, tg.token))))
	require.NoError(t, err)
	f, ok := connector.Lookup("scim")
	require.True(t, ok)
	require.Empty(t, f.Check(node, connector.CheckEnv{AccountAttributes: mapping}))
	conn, err := connector.Open(context.Background(), "scim", connector.Spec{Target: "real", Settings: node, AccountAttributes: mapping})
	require.NoError(t, err)
	a, err := conn.Create(context.Background(), connector.CreateRequest{Attributes: person("via-registry")})
	require.NoError(t, err)
	got, err := conn.Find(context.Background(), person("via-registry"))
	require.NoError(t, err)
	require.Equal(t, a.NativeID, got.NativeID)
	require.True(t, conn.Capabilities().EntitlementsOnRead)
}
