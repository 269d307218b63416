package scim_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/targetsim"
)

// A server whose /Schemas declares a User without groups: accord learns
// it from discovery, without the quirk, reads memberships on the group,
// and says nothing about them on a User read.
func TestSimNoGroupsOnUserLearntFromSchemas(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{SCIM: targetsim.Behaviours{NoGroupsOnUser: true}},
		func(s *scim.Settings) { s.EntitlementBy = "displayName" })
	ctx := context.Background()
	mustGroup(t, sim, "Sales")
	mustGroup(t, sim, "Ops")
	a := create(t, c, person("ann"))
	require.NoError(t, c.Grant(ctx, ref(a), []string{"Sales"}))

	got, err := c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.Nil(t, got.Entitlements, "unknown, not none: the User cannot show its groups")
	require.False(t, c.Capabilities().EntitlementsOnRead)

	sim.ResetLog()
	in, err := c.IsMember(ctx, ref(a), "Sales")
	require.NoError(t, err)
	require.True(t, in)
	r := only(t, sim)
	require.Equal(t, "members", r.Query().Get("attributes"), "only the members are asked for")
	in, err = c.IsMember(ctx, ref(a), "Ops")
	require.NoError(t, err)
	require.False(t, in)
}

// The RFC's server shows groups on the User: nothing changes there.
func TestSimGroupsOnUserStillRead(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) { s.EntitlementBy = "displayName" })
	mustGroup(t, sim, "Sales")
	a := create(t, c, person("ann"))
	require.NoError(t, c.Grant(context.Background(), ref(a), []string{"Sales"}))
	got, err := c.Get(context.Background(), ref(a))
	require.NoError(t, err)
	require.Equal(t, []string{"Sales"}, got.Entitlements)
	require.True(t, c.Capabilities().EntitlementsOnRead)
}

// A server that answers errors in its own JSON words: the failure carries
// them and the attribute it names.
func TestSimOwnErrorWordsReachTheFailure(t *testing.T) {
	t.Parallel()
	_, c := simConn(t, targetsim.Options{SCIM: targetsim.Behaviours{OwnErrors: true}}, nil)
	attrs := person("ann")
	attrs["userName"] = ""
	_, err := c.Create(context.Background(), connector.CreateRequest{PersonKey: "E1", Attributes: attrs})
	e := requireKind(t, connector.Validation, err)
	require.Equal(t, "userName is required", e.Reason)
	require.Equal(t, "userName", e.Attribute)
	require.Contains(t, e.Error(), `the target said "userName is required"`)
	require.Equal(t, 1, strings.Count(e.Error(), "validation"), "the kind is named once: %s", e.Error())
}

// A server that keeps a deleted user's email: the conflict carries its
// words and names the attribute.
func TestSimEmailKeptAfterDeleteIsAConflictInItsWords(t *testing.T) {
	t.Parallel()
	_, c := simConn(t, targetsim.Options{SCIM: targetsim.Behaviours{EmailsUniqueForever: true}}, nil)
	ctx := context.Background()
	a := create(t, c, person("ann"))
	require.NoError(t, c.Delete(ctx, ref(a)))
	_, err := c.Create(ctx, connector.CreateRequest{PersonKey: "E1", Attributes: person("ann.rehired")})
	e := requireKind(t, connector.Conflict, err)
	require.Equal(t, "A User already uses this email", e.Reason)
	_, err = c.Find(ctx, person("ann.rehired"))
	requireKind(t, connector.NotFound, err)
}

// Missing groups are created only when the target is set to.
func TestSimCreateMissingGroup(t *testing.T) {
	t.Parallel()
	_, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) { s.EntitlementBy = "displayName" })
	ctx := context.Background()
	a := create(t, c, person("ann"))
	requireKind(t, connector.NotFound, c.Grant(ctx, ref(a), []string{"New Team"}))
	requireKind(t, connector.Unsupported, c.CreateEntitlement(ctx, "New Team"))

	sim, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) {
		s.EntitlementBy, s.CreateMissingGroups = "displayName", true
	})
	a = create(t, c, person("ann"))
	require.NoError(t, c.CreateEntitlement(ctx, "New Team"))
	require.Len(t, sim.RequestsTo("POST", "/scim/v2/Groups"), 1)
	require.NoError(t, c.Grant(ctx, ref(a), []string{"New Team"}))
	in, err := c.IsMember(ctx, ref(a), "New Team")
	require.NoError(t, err)
	require.True(t, in)
}
