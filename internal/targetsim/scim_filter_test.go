package targetsim

import (
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// filterFixture creates users whose ids are returned by userName.
func filterFixture(t *testing.T, c *client, clk *ManualClock) map[string]string {
	t.Helper()
	ids := map[string]string{}
	add := func(name string, extra map[string]any) {
		ids[name] = c.createUser(name, extra)
		clk.Advance(time.Hour)
	}
	add("alice@example.com", map[string]any{
		"name": map[string]any{"givenName": "Alice", "familyName": "Liddell"}, "title": "Engineer", "active": true,
		"emails":   []any{map[string]any{"value": "alice@example.com", "type": "work", "primary": true}, map[string]any{"value": "alice@home.org", "type": "home"}},
		"userType": "Employee", "externalId": "EXT-1",
		SchemaEnterprise: map[string]any{"employeeNumber": "100", "department": "R&D", "manager": map[string]any{"value": "m-1"}, "level": 3},
	})
	add("bob@example.com", map[string]any{
		"name": map[string]any{"givenName": "Bob"}, "title": "Manager", "active": false,
		"emails":   []any{map[string]any{"value": "bob@example.org", "type": "home"}},
		"userType": "Contractor", "externalId": "ext-2",
		SchemaEnterprise: map[string]any{"employeeNumber": "200", "department": "Sales", "level": 5},
	})
	add("carol@example.net", map[string]any{"active": true, "userType": "Employee"})
	return ids
}

func TestFilterOperators(t *testing.T) {
	clk := NewManualClock(t0)
	_, c := startSim(t, Options{Now: clk.Now})
	ids := filterFixture(t, c, clk)
	a, b, cc := ids["alice@example.com"], ids["bob@example.com"], ids["carol@example.net"]
	ent := SchemaEnterprise + ":"
	tests := []struct {
		filter string
		want   []string
	}{
		{`userName eq "alice@example.com"`, []string{a}},
		{`USERNAME EQ "ALICE@EXAMPLE.COM"`, []string{a}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com"`, []string{b}},
		{`userName ne "alice@example.com"`, []string{b, cc}},
		{`userName co "EXAMPLE.C"`, []string{a, b}},
		{`userName sw "car"`, []string{cc}},
		{`userName ew ".net"`, []string{cc}},
		{`userName gt "b"`, []string{b, cc}},
		{`userName ge "bob@example.com"`, []string{b, cc}},
		{`userName lt "b"`, []string{a}},
		{`userName le "bob@example.com"`, []string{a, b}},
		{`title pr`, []string{a, b}},
		{`not (title pr)`, []string{cc}},
		{`active eq true`, []string{a, cc}},
		{`active eq false`, []string{b}},
		{`active ne true`, []string{b}},
		{`name.givenName eq "alice"`, []string{a}},
		{`name.familyName pr`, []string{a}},
		{`emails co "example.org"`, []string{b}},
		{`emails.value ew "@home.org"`, []string{a}},
		{`emails[type eq "work"]`, []string{a}},
		{`emails[type eq "home" and value co "example"]`, []string{b}},
		{`emails[type eq "work" or value ew ".org"]`, []string{a, b}},
		{`emails.type eq "work"`, []string{a}},
		{`externalId eq "EXT-1"`, []string{a}},
		{`externalId eq "ext-1"`, []string{}},
		{`id eq "` + b + `"`, []string{b}},
		{`meta.created lt "2025-03-01T09:30:00Z"`, []string{a}},
		{`meta.lastModified ge "2025-03-01T10:00:00Z"`, []string{b, cc}},
		{`meta.resourceType eq "User"`, []string{a, b, cc}},
		{`userType eq "Employee" and active eq true`, []string{a, cc}},
		{`userType eq "Contractor" or title eq "engineer"`, []string{a, b}},
		{`userType eq "Employee" and not (emails co "example.com" or title pr)`, []string{cc}},
		{`(title eq "Engineer" or title eq "Manager") and active eq true`, []string{a}},
		{ent + `employeeNumber eq "200"`, []string{b}},
		{ent + `department eq "r&d"`, []string{a}},
		{ent + `manager.value eq "m-1"`, []string{a}},
		{ent + `level gt 4`, []string{b}},
		{ent + `level le 3`, []string{a}},
		{ent + `department pr`, []string{a, b}},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			got := resourceIDs(t, c.list("Users", tc.filter))
			sort.Strings(got)
			want := append([]string{}, tc.want...)
			sort.Strings(want)
			require.Equal(t, want, got)
		})
	}
}

func TestFilterHostileValues(t *testing.T) {
	s, c := startSim(t, Options{})
	names := []string{
		`o"brien`, `back\slash`, `a/b/c`, `with  two  spaces `, `tab	here`, `Ünïcødé-ユーザー`, `emoji-🙂`,
		`and or not eq "x"`, `50% off & more?`, `paren(s)[brackets]`, `+plus=equals#hash`,
	}
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = c.createUser(n, nil)
		_, err := s.SCIM().CreateGroup("grp "+n, ids[n])
		require.NoError(t, err)
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			require.Equal(t, []string{ids[n]}, resourceIDs(t, c.list("Users", "userName eq "+quote(n))))
			r := c.list("Groups", "displayName eq "+quote("GRP "+n))
			require.Len(t, r.body["Resources"], 1, "%s", r.raw)
			require.Equal(t, "grp "+n, r.body["Resources"].([]any)[0].(map[string]any)["displayName"])
			// not indexed: the full scan must agree with the index
			require.Equal(t, []string{ids[n]}, resourceIDs(t, c.list("Users", "userName sw "+quote(n)+" and userName ew "+quote(n))))
			got := c.do("GET", "/scim/v2/Users/"+ids[n], nil)
			require.Equal(t, n, got.str("userName"))
		})
	}
	// lower-case \u escapes, which JSON allows
	require.Equal(t, []string{ids[`Ünïcødé-ユーザー`]}, resourceIDs(t, c.list("Users", `userName eq "\u00dcn\u00efc\u00f8d\u00e9-\u30e6\u30fc\u30b6\u30fc"`)))
	requireSCIMError(t, c.list("Users", `userName eq "unterminated`), 400, "invalidFilter")
}

func TestFilterErrors(t *testing.T) {
	_, c := startSim(t, Options{})
	c.createUser("x", nil)
	for _, f := range []string{
		`userName eq`,
		`userName xx "a"`,
		`userName eq "a" and`,
		`shoeSize eq 44`,
		`name.nick eq "x"`,
		`urn:example:nope:1.0:User:x eq "y"`,
		`active eq "true"`,
		`active gt true`,
		`userName eq 12`,
		`meta.created gt "yesterday"`,
		`emails[nope eq "x"]`,
		`(userName eq "x"`,
	} {
		t.Run(f, func(t *testing.T) {
			requireSCIMError(t, c.list("Users", f), 400, "invalidFilter")
		})
	}
}

func TestPaging(t *testing.T) {
	_, c := startSim(t, Options{MaxResults: 10})
	var ids []string
	for i := range 25 {
		ids = append(ids, c.createUser(fmt.Sprintf("user%02d", i), nil))
	}
	tests := []struct {
		start, count  string
		wantFrom      int
		wantN         int
		wantStartEcho float64
	}{
		{"", "", 0, 10, 1},
		{"1", "5", 0, 5, 1},
		{"6", "5", 5, 5, 6},
		{"21", "10", 20, 5, 21},
		{"26", "10", 0, 0, 26},
		{"0", "3", 0, 3, 1},
		{"-4", "3", 0, 3, 1},
		{"1", "0", 0, 0, 1},
		{"1", "-1", 0, 0, 1},
		{"1", "1000", 0, 10, 1},
	}
	for _, tc := range tests {
		t.Run("start="+tc.start+",count="+tc.count, func(t *testing.T) {
			var params []string
			if tc.start != "" {
				params = append(params, "startIndex", tc.start)
			}
			if tc.count != "" {
				params = append(params, "count", tc.count)
			}
			r := c.list("Users", "", params...)
			require.Equal(t, float64(25), r.body["totalResults"])
			require.Equal(t, float64(tc.wantN), r.body["itemsPerPage"])
			require.Equal(t, tc.wantStartEcho, r.body["startIndex"])
			got := resourceIDs(t, r)
			if tc.wantN == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, ids[tc.wantFrom:tc.wantFrom+tc.wantN], got)
		})
	}
	filtered := c.list("Users", `userName sw "user1"`, "startIndex", "3", "count", "4")
	require.Equal(t, float64(10), filtered.body["totalResults"])
	require.Equal(t, ids[12:16], resourceIDs(t, filtered))
	requireSCIMError(t, c.list("Users", "", "count", "ten"), 400, "invalidValue")

	// paging over deletes keeps creation order
	for i := 0; i < 25; i += 2 {
		require.Equal(t, 204, c.do("DELETE", "/scim/v2/Users/"+ids[i], nil).status)
	}
	all := []string{}
	for start := 1; ; start += 10 {
		page := resourceIDs(t, c.list("Users", "", "startIndex", strconv.Itoa(start)))
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
	}
	var odd []string
	for i := 1; i < 25; i += 2 {
		odd = append(odd, ids[i])
	}
	require.Equal(t, odd, all)
}

func TestSearchEndpoint(t *testing.T) {
	_, c := startSim(t, Options{})
	id := c.createUser("searchable", nil)
	c.createUser("other", nil)
	r := c.do("POST", "/scim/v2/Users/.search", map[string]any{
		"schemas": []string{msgSearch}, "filter": `userName eq "searchable"`, "startIndex": 1, "count": 10,
	})
	require.Equal(t, []string{id}, resourceIDs(t, r))
}

func TestManyTombstonesCompact(t *testing.T) {
	s, c := startSim(t, Options{})
	keep := c.createUser("keeper", nil)
	for i := range 200 {
		u, err := s.SCIM().CreateUser(fmt.Sprintf("tmp%d", i), nil)
		require.NoError(t, err)
		require.NoError(t, s.SCIM().DeleteUser(u.ID))
	}
	require.Equal(t, []string{keep}, resourceIDs(t, c.list("Users", "")))
	s.SCIM().mu.RLock()
	defer s.SCIM().mu.RUnlock()
	require.Less(t, len(s.SCIM().users.order), 200, "tombstones were compacted")
}
