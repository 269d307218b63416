package targetsim

import (
	"testing"

	filter "github.com/scim2/filter-parser/v2"
	"github.com/stretchr/testify/require"
)

// TestMemberFastPathMatchesGeneric runs member changes through the fast
// path and, with a no-op displayName replace appended to force it, the
// general PATCH engine: both must leave the same members.
func TestMemberFastPathMatchesGeneric(t *testing.T) {
	vals := func(ids ...string) []any {
		out := []any{}
		for _, id := range ids {
			out = append(out, map[string]any{"value": id})
		}
		return out
	}
	byFilter := func(id string) map[string]any { return op("remove", `members[value eq "`+id+`"]`, nil) }
	tests := []struct {
		name   string
		ops    func(u []string) []map[string]any
		status int
	}{
		{"add new and existing", func(u []string) []map[string]any {
			return []map[string]any{op("add", "members", vals(u[2], u[0], u[3], u[3]))}
		}, 200},
		{"add one as a single object", func(u []string) []map[string]any {
			return []map[string]any{op("add", "members", map[string]any{"value": u[3]})}
		}, 200},
		{"remove then add back", func(u []string) []map[string]any {
			return []map[string]any{byFilter(u[0]), op("add", "members", vals(u[0]))}
		}, 200},
		{"add then remove", func(u []string) []map[string]any {
			return []map[string]any{op("add", "members", vals(u[3])), op("remove", "members", vals(u[3], u[1]))}
		}, 200},
		{"remove absent", func(u []string) []map[string]any {
			return []map[string]any{byFilter("nobody"), op("remove", "members", []any{"nobody-either"})}
		}, 200},
		{"remove all one by one", func(u []string) []map[string]any {
			return []map[string]any{byFilter(u[0]), byFilter(u[1])}
		}, 200},
		{"unknown member undoes everything", func(u []string) []map[string]any {
			return []map[string]any{byFilter(u[0]), op("add", "members", vals(u[2], "ghost"))}
		}, 400},
		{"member without value", func(u []string) []map[string]any {
			return []map[string]any{op("add", "members", []any{map[string]any{"display": "x"}})}
		}, 400},
		{"wrong type", func(u []string) []map[string]any {
			return []map[string]any{op("add", "members", []any{map[string]any{"value": u[2], "type": "Group"}})}
		}, 400},
	}
	run := func(t *testing.T, generic bool, ops func([]string) []map[string]any, status int) ([]string, map[string][]string) {
		t.Helper()
		s, c := startSim(t, Options{})
		u := make([]string, 4)
		for i := range u {
			u[i] = c.createUser("m"+string(rune('0'+i)), nil)
		}
		g, err := s.SCIM().CreateGroup("G", u[0], u[1])
		require.NoError(t, err)
		list := ops(u)
		if generic {
			list = append(list, op("replace", "displayName", "G"))
		}
		r := c.do("PATCH", "/scim/v2/Groups/"+g.ID, patchBody(list...))
		require.Equal(t, status, r.status, "%s", r.raw)
		// report in terms of user index so the two simulators compare
		index := map[string]string{}
		for i, id := range u {
			index[id] = string(rune('0' + i))
		}
		var members []string
		for _, id := range s.SCIM().Members(g.ID) {
			members = append(members, index[id])
		}
		groupsOf := map[string][]string{}
		for i, id := range u {
			groupsOf[string(rune('0'+i))] = s.SCIM().GroupsOf(id)
			if len(groupsOf[string(rune('0'+i))]) > 0 {
				groupsOf[string(rune('0'+i))] = []string{"G"}
			}
		}
		return members, groupsOf
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fastMembers, fastGroups := run(t, false, tc.ops, tc.status)
			genMembers, genGroups := run(t, true, tc.ops, tc.status)
			require.ElementsMatch(t, genMembers, fastMembers)
			require.Equal(t, genGroups, fastGroups)
		})
	}
}

func TestParseCacheMatchesParser(t *testing.T) {
	filters := []string{
		`userName eq "a"`,
		`userName eq "b\"c" and (title pr or emails[type eq "work" and value co "@x"])`,
		`not (userName sw "x") or userName ew "y" and active eq true`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:level gt 3 and userName ne "z\\"`,
		`meta.lastModified gt "2024-01-01T00:00:00Z"`,
	}
	for _, f := range filters {
		want, err := filter.ParseFilter([]byte(f))
		require.NoError(t, err, f)
		for range 2 { // miss, then hit
			got, err := parseFilterCached(f)
			require.NoError(t, err, f)
			require.Equal(t, want, got, f)
		}
	}
	for _, p := range []string{`members[value eq "x y"]`, `emails[type eq "work"].value`, `name.givenName`, SchemaEnterprise + ":manager.value"} {
		want, err := filter.ParsePath([]byte(p))
		require.NoError(t, err, p)
		for range 2 {
			got, err := parsePathCached(p)
			require.NoError(t, err, p)
			require.Equal(t, want, got, p)
		}
	}
	for _, bad := range []string{`userName eq "open`, `userName eq "tab	raw"`, `userName eq`, `"x" eq userName`} {
		_, err := parseFilterCached(bad)
		require.Error(t, err, bad)
	}
}
