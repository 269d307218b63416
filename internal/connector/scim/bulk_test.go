package scim_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/scimtest"
	"github.com/accord-iam/accord/internal/targetsim"
)

// tenGroups makes groups g0..g9 on the simulator and returns their ids.
func tenGroups(t *testing.T, sim *targetsim.Sim) []string {
	t.Helper()
	var ids []string
	for i := range 10 {
		g, err := sim.SCIM().CreateGroup(fmt.Sprintf("g%d", i))
		require.NoError(t, err)
		ids = append(ids, g.ID)
	}
	sort.Strings(ids)
	return ids
}

func groupsOf(t *testing.T, sim *targetsim.Sim, id string) []string {
	t.Helper()
	gs := sim.SCIM().GroupsOf(id)
	sort.Strings(gs)
	return gs
}

func writes(sim *targetsim.Sim) (bulk, posts, patches int) {
	return len(sim.RequestsTo("POST", "/scim/v2/Bulk")), len(sim.RequestsTo("POST", "/scim/v2/Users")), len(sim.RequestsTo("PATCH", "/scim/v2/Groups/"))
}

func TestBulkIsDeclaredOnlyWhenDiscoveryShowsIt(t *testing.T) {
	t.Parallel()
	_, tg := startSim(t, targetsim.Options{Bulk: targetsim.Bulk{Supported: true}})
	c := open(t, tg, nil)
	require.False(t, c.Capabilities().CreateWithEntitlements, "before discovery nothing is known")
	require.NoError(t, c.Discover(context.Background()))
	require.True(t, c.Capabilities().CreateWithEntitlements)

	off := open(t, tg, func(s *scim.Settings) { s.Bulk = "off" })
	require.NoError(t, off.Discover(context.Background()))
	require.False(t, off.Capabilities().CreateWithEntitlements, "bulk: off")

	_, plain := simConn(t, targetsim.Options{}, nil)
	require.False(t, plain.Capabilities().CreateWithEntitlements, "the target does not offer /Bulk")
}

// A joiner with ten groups is one request with /Bulk, eleven without.
func TestBulkCreateWithTenGroupsIsOneRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		opts                  targetsim.Options
		bulk                  string
		requests, inBulk, sep int
	}{
		{name: "bulk", opts: targetsim.Options{Bulk: targetsim.Bulk{Supported: true}}, requests: 1, inBulk: 1},
		{name: "bulk off", opts: targetsim.Options{Bulk: targetsim.Bulk{Supported: true}}, bulk: "off", requests: 11, sep: 10},
		{name: "not offered", opts: targetsim.Options{}, requests: 11, sep: 10},
		// 1 + 10 operations in requests of at most 4: 4, 4, 3.
		{name: "maxOperations 4", opts: targetsim.Options{Bulk: targetsim.Bulk{Supported: true, MaxOperations: 4}}, requests: 3, inBulk: 3},
		// The User alone is over the payload limit: separate requests.
		{name: "maxPayloadSize tiny", opts: targetsim.Options{Bulk: targetsim.Bulk{Supported: true, MaxPayloadSize: 200}}, requests: 11, sep: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, c := simConn(t, tc.opts, func(s *scim.Settings) { s.Bulk = tc.bulk })
			ids := tenGroups(t, sim)
			sim.ResetLog()
			a, err := c.Create(context.Background(), connector.CreateRequest{PersonKey: "ann", Attributes: person("ann"), Entitlements: ids})
			require.NoError(t, err)
			require.NotEmpty(t, a.NativeID)
			require.Len(t, sim.Requests(), tc.requests, "%+v", sim.Requests())
			bulk, posts, patches := writes(sim)
			require.Equal(t, tc.inBulk, bulk)
			require.Equal(t, tc.sep, patches)
			require.Equal(t, 1-min(tc.inBulk, 1), posts)
			require.Equal(t, ids, groupsOf(t, sim, a.NativeID))
			u, ok := sim.SCIM().UserByName("ann")
			require.True(t, ok)
			require.Equal(t, u.ID, a.NativeID)
		})
	}
}

// The payload limit splits the group operations over several requests.
func TestBulkSplitsByPayloadSize(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{Bulk: targetsim.Bulk{Supported: true, MaxPayloadSize: 1500}}, nil)
	ids := tenGroups(t, sim)
	sim.ResetLog()
	a, err := c.Create(context.Background(), connector.CreateRequest{PersonKey: "ann", Attributes: person("ann"), Entitlements: ids})
	require.NoError(t, err)
	bulk, posts, patches := writes(sim)
	require.Greater(t, bulk, 1)
	require.Less(t, bulk, 11)
	require.Zero(t, posts+patches)
	for _, r := range sim.RequestsTo("POST", "/scim/v2/Bulk") {
		require.LessOrEqual(t, len(r.Body), 1500)
		require.Equal(t, 200, r.Status)
	}
	require.Equal(t, ids, groupsOf(t, sim, a.NativeID))
}

// One group operation of the bulk fails: the account is returned with
// the missing grant and the target's own words, the others are granted.
func TestBulkPartialFailureReturnsTheAccountAndWhatIsMissing(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{Bulk: targetsim.Bulk{Supported: true}}, nil)
	ids := tenGroups(t, sim)
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "PATCH", Path: "/scim/v2/Groups/" + ids[3], Status: 400,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"group is locked by policy"}`})
	require.NoError(t, err)
	sim.ResetLog()
	a, err := c.Create(context.Background(), connector.CreateRequest{PersonKey: "ann", Attributes: person("ann"), Entitlements: ids})
	var p *connector.PartialCreateError
	require.True(t, errors.As(err, &p), "%v", err)
	require.Equal(t, a, p.Account)
	require.NotEmpty(t, a.NativeID)
	require.Equal(t, []string{ids[3]}, p.Missing)
	ce := requireKind(t, connector.Validation, err)
	require.Equal(t, "group is locked by policy", ce.Reason)
	require.Contains(t, ce.Text(), "PATCH")
	require.Len(t, sim.Requests(), 1)
	want := append(append([]string{}, ids[:3]...), ids[4:]...)
	require.Equal(t, want, groupsOf(t, sim, a.NativeID))
}

// The create inside the bulk is refused: nothing was made, and the
// failure is the create's, in the target's words, with its kind (a taken
// userName is a conflict the engine correlates).
func TestBulkCreateRefusedIsTheCreatesFailure(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{Bulk: targetsim.Bulk{Supported: true}}, nil)
	ids := tenGroups(t, sim)
	_, err := sim.SCIM().CreateUser("ann", nil)
	require.NoError(t, err)
	_, err = c.Create(context.Background(), connector.CreateRequest{PersonKey: "ann", Attributes: person("ann"), Entitlements: ids})
	ce := requireKind(t, connector.Conflict, err)
	require.Equal(t, 409, ce.Status)
	var p *connector.PartialCreateError
	require.False(t, errors.As(err, &p))
	require.Len(t, sim.SCIM().Users(), 1)
}

// The whole /Bulk fails: a 5xx is returned as it is (the engine treats
// the create as in doubt).
func TestBulkRequestFailureIsReturnedWhole(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{Bulk: targetsim.Bulk{Supported: true}}, nil)
	ids := tenGroups(t, sim)
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultDown, Method: "POST", Path: "/scim/v2/Bulk", Times: 1})
	require.NoError(t, err)
	_, err = c.Create(context.Background(), connector.CreateRequest{PersonKey: "ann", Attributes: person("ann"), Entitlements: ids})
	requireKind(t, connector.Unavailable, err)
}

// Against SCIMMY's own /Bulk (a real third-party server): the joiner's
// create and group grants in one request, each group read back there.
func TestRealBulkCreateWithGroups(t *testing.T) {
	t.Parallel()
	u, tok := scimtest.StartReal(t, "SCIM_BULK=4")
	tg := target{url: u, token: tok}
	c := open(t, tg, nil)
	require.NoError(t, c.Discover(context.Background()))
	require.True(t, c.Capabilities().CreateWithEntitlements, "SCIMMY declares bulk")
	ad := admin{t: t, tg: tg}
	var ids []string
	for i := range 5 {
		ids = append(ids, ad.group(fmt.Sprintf("team-%d", i)))
	}
	a, err := c.Create(context.Background(), connector.CreateRequest{PersonKey: "ann", Attributes: person("ann"), Entitlements: ids})
	require.NoError(t, err)
	require.NotEmpty(t, a.NativeID)
	for _, g := range ids {
		require.Equal(t, []string{a.NativeID}, ad.members(g))
		member, err := c.IsMember(context.Background(), ref(a), g)
		require.NoError(t, err)
		require.True(t, member)
	}
	got, err := c.Get(context.Background(), ref(a))
	require.NoError(t, err)
	sort.Strings(ids)
	require.Equal(t, ids, got.Entitlements)
}

// The target stops offering /Bulk after discovery said it did: the 501
// did nothing, and the create goes out as separate requests.
func TestBulkNoLongerOfferedFallsBackToSeparateRequests(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{Bulk: targetsim.Bulk{Supported: true}}, nil)
	ids := tenGroups(t, sim)
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "POST", Path: "/scim/v2/Bulk", Status: 501})
	require.NoError(t, err)
	sim.ResetLog()
	a, err := c.Create(context.Background(), connector.CreateRequest{PersonKey: "ann", Attributes: person("ann"), Entitlements: ids})
	require.NoError(t, err)
	bulk, posts, patches := writes(sim)
	require.Equal(t, []int{1, 1, 10}, []int{bulk, posts, patches})
	require.Equal(t, ids, groupsOf(t, sim, a.NativeID))
}
