package rest_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/targetsim"
)

// batchTarget grants and revokes several groups of one user in one
// request, and creates users with their groups.
const batchTarget = `
url: "%BASE%"
auth: %AUTH%
response: {entitlements: "$.memberOf[*]"}
operations:
  create:
    url: /users
    with_entitlements: true
    body: '{"username": {{ account.username }}, "email": {{ account.email }}, "groups": {{ entitlements }}}'
  get: {url: "/users/{{ native_id }}"}
  grant:
    url: "/users/{{ native_id }}/groups"
    batch: 20
    body: '{"op": "add", "groups": {{ entitlements }}}'
  revoke:
    method: POST
    url: "/users/{{ native_id }}/groups"
    batch: 20
    body: '{"op": "remove", "groups": {{ entitlements }}}'
`

func TestBatchGrantSendsOneRequestWithEveryEntitlement(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, targetsim.RESTOptions{})
	groups := []string{"g1", "g2", "../g3", "g 4", "g5"}
	for _, g := range groups {
		_, err := sim.REST().AddGroup(g, "")
		require.NoError(t, err)
	}
	c := openYAML(t, settings(batchTarget, base, "{type: none}"), mapping)
	ctx := context.Background()
	ref := create(t, ctx, c, "ann")
	sim.ResetLog()

	require.NoError(t, c.Grant(ctx, ref, groups))
	reqs := sim.RequestsTo("POST", "/rest/v1/users/")
	require.Len(t, reqs, 1, "one request for the batch")
	var body struct {
		Op     string   `json:"op"`
		Groups []string `json:"groups"`
	}
	require.NoError(t, json.Unmarshal([]byte(reqs[0].Body), &body))
	require.Equal(t, "add", body.Op)
	require.Equal(t, groups, body.Groups)
	u, _ := sim.REST().User(ref.NativeID)
	require.ElementsMatch(t, groups, u.Groups)

	sim.ResetLog()
	require.NoError(t, c.Revoke(ctx, ref, groups[:3]))
	require.Len(t, sim.RequestsTo("POST", "/rest/v1/users/"), 1)
	u, _ = sim.REST().User(ref.NativeID)
	require.ElementsMatch(t, groups[3:], u.Groups)

	// More than batch entitlements are sent in batches of that size.
	many := make([]string, 45)
	for i := range many {
		many[i] = "m" + string(rune('A'+i))
		_, err := sim.REST().AddGroup(many[i], "")
		require.NoError(t, err)
	}
	sim.ResetLog()
	require.NoError(t, c.Grant(ctx, ref, many))
	require.Len(t, sim.RequestsTo("POST", "/rest/v1/users/"), 3)
}

func TestCreateWithEntitlementsInOneRequest(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, targetsim.RESTOptions{})
	for _, g := range []string{"g1", "g2"} {
		_, err := sim.REST().AddGroup(g, "")
		require.NoError(t, err)
	}
	c := openYAML(t, settings(batchTarget, base, "{type: none}"), mapping)
	ctx := context.Background()
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: person("ann"), Entitlements: []string{"g1", "g2"}})
	require.NoError(t, err)
	require.Len(t, sim.Requests(), 1)
	u, _ := sim.REST().User(a.NativeID)
	require.Equal(t, []string{"g1", "g2"}, u.Groups)

	b, err := c.Create(ctx, connector.CreateRequest{Attributes: person("bob")})
	require.NoError(t, err)
	require.JSONEq(t, `{"username": "bob", "email": "bob@example.com", "groups": []}`, sim.Requests()[1].Body)
	u, _ = sim.REST().User(b.NativeID)
	require.Empty(t, u.Groups)
}
