package rest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/rest"
	"github.com/accord-iam/accord/internal/targetsim"
)

const listTarget = `
url: "%BASE%"
auth: %AUTH%
operations:
  list_accounts: %LIST%
  list_entitlements: {url: "/usergroups?limit=2", response: {items: "$.results[*]"}, paging: {style: link}}
`

func listAll(t *testing.T, c *rest.Conn) ([]string, []string) {
	t.Helper()
	ctx := context.Background()
	var names, cursors []string
	cursor := ""
	for range 10 {
		p, err := c.ListAccounts(ctx, cursor)
		require.NoError(t, err)
		for _, a := range p.Items {
			names = append(names, a.Attributes["username"].(string))
			require.NotEmpty(t, a.NativeID)
		}
		if p.Next == "" {
			return names, cursors
		}
		cursor = p.Next
		cursors = append(cursors, cursor)
	}
	t.Fatal("listing did not end")
	return nil, nil
}

func TestPagingStyles(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		list     string
		requests int
	}{
		"offset with total":       {`{url: "/users?limit={{ limit }}&skip={{ offset }}", response: {items: "$.results[*]", total: $.totalCount}, paging: {style: offset, size: 2}}`, 3},
		"offset, short page ends": {`{url: "/users?limit={{ limit }}&skip={{ offset }}", response: {items: "$.results[*]"}, paging: {style: offset, size: 2}}`, 3},
		"page numbers":            {`{url: "/users?limit={{ limit }}&page={{ page }}", response: {items: "$.results[*]"}, paging: {style: page, size: 2}}`, 3},
		"page from 0":             {`{url: "/users?limit={{ limit }}&page={{ page + 1 }}", response: {items: "$.results[*]"}, paging: {style: page, size: 2, start: 0}}`, 3},
		"cursor":                  {`{url: "/users?limit={{ limit }}&cursor={{ cursor }}", response: {items: "$.results[*]"}, paging: {style: cursor, cursor: $.nextCursor, size: 2}}`, 3},
		"link header":             {`{url: "/users?limit=2", response: {items: "$.results[*]"}, paging: {style: link}}`, 3},
		"next link in body":       {`{url: "/users?limit=2", response: {items: "$.results[*]"}, paging: {style: next, next: $.next}}`, 3},
		"one page":                {`{url: "/users", response: {items: "$.results[*]"}}`, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sim, base := startSim(t, targetsim.RESTOptions{})
			for _, n := range []string{"a", "b", "c", "d", "e"} {
				_, err := sim.REST().AddUser(map[string]any{"username": n})
				require.NoError(t, err)
			}
			src := strings.Replace(settings(listTarget, base, "{type: none}"), "%LIST%", tc.list, 1)
			c := openYAML(t, src, mapping)
			names, _ := listAll(t, c)
			require.Equal(t, []string{"a", "b", "c", "d", "e"}, names)
			require.Len(t, sim.RequestsTo("GET", "/rest/v1/users"), tc.requests)
		})
	}
}

func TestListEntitlementsFollowsLinkHeaders(t *testing.T) {
	t.Parallel()
	sim, c := jcSim(t, "g1", "g2", "g3")
	ctx := context.Background()
	var ids []string
	cursor := ""
	for {
		p, err := c.ListEntitlements(ctx, cursor)
		require.NoError(t, err)
		for _, e := range p.Items {
			ids = append(ids, e.ID+"="+e.DisplayName)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	require.Equal(t, []string{"g1=g1", "g2=g2", "g3=g3"}, ids)
	require.Len(t, sim.RequestsTo("GET", "/rest/v1/usergroups"), 2)
}

func TestNextLinkToAnotherHostIsRefused(t *testing.T) {
	t.Parallel()
	// A fake target: a link elsewhere is what no honest target sends.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<http://elsewhere.example/users?page=2>; rel="next"`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"id": "1", "username": "a"}]`))
	}))
	t.Cleanup(srv.Close)
	src := strings.Replace(settings(listTarget, srv.URL, "{type: bearer, token: \""+secretRef(t, "tok-Abc-123")+"\"}"),
		"%LIST%", `{url: "/users", paging: {style: link}}`, 1)
	c := openYAML(t, src, mapping)
	_, err := c.ListAccounts(context.Background(), "")
	require.Equal(t, connector.Validation, connector.KindOf(err))
	require.ErrorContains(t, err, "another host")

	_, err = c.ListAccounts(context.Background(), "z:nonsense")
	require.Equal(t, connector.Validation, connector.KindOf(err))
}
