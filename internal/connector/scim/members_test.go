package scim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/targetsim"
)

// A batch of removals in which some accounts are not members: a server
// that answers noTarget (RFC 7644 §3.12, as SCIMMY does for a member
// filter that matches nothing; injected here, the simulator is lenient)
// refuses the whole PATCH. The connector narrows it by halves instead of
// sending one PATCH per member, and every member ends removed.
func TestSimRemoveMembersNarrowsNoTargetByHalves(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, nil)
	ctx := context.Background()
	g, err := sim.SCIM().CreateGroup("all-staff")
	require.NoError(t, err)
	var ids []string
	for i := range 8 {
		ids = append(ids, create(t, c, person(fmt.Sprintf("m%d", i))).NativeID)
	}
	require.NoError(t, c.AddMembers(ctx, g.ID, ids))
	require.Len(t, sim.SCIM().Members(g.ID), 8)
	_, err = sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "PATCH", Times: 1, Status: 400,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"noTarget","detail":"no match"}`})
	require.NoError(t, err)
	sim.ResetLog()

	require.NoError(t, c.RemoveMembers(ctx, g.ID, ids))
	var removes []int
	for _, r := range sim.RequestsTo("PATCH", "/scim/v2/Groups/"+g.ID) {
		removes = append(removes, strings.Count(r.Body, `"op":"remove"`))
	}
	require.Equal(t, []int{8, 4, 4}, removes, "the refused PATCH, then its halves")
	require.Empty(t, sim.SCIM().Members(g.ID))
}
