package scim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/model"
)

// Issue 13 against the real SCIM server (SCIMMY): its words reach the
// failure, memberships are read on its groups, and a missing group can
// be created there.

func TestRealFailuresCarryTheServersWords(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, scimmy)
	ctx := context.Background()
	a := create(t, c, person("words"))

	err := c.Update(ctx, ref(a), model.Attributes{"name.givenName": int64(5)})
	e := requireKind(t, connector.Validation, err)
	require.NotEmpty(t, e.Reason, "SCIMMY's detail")
	require.Contains(t, e.Error(), `the target said "`+e.Reason+`"`)
	require.NotContains(t, e.Message, e.Reason, "said once, in its own field")

	_, err = c.Create(ctx, connector.CreateRequest{PersonKey: "P2", Attributes: person("words")})
	e = requireKind(t, connector.Conflict, err)
	require.NotEmpty(t, e.Reason, "SCIMMY says what is taken")
}

func TestRealIsMemberReadsTheGroup(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, func(s *scim.Settings) { scimmy(s); s.EntitlementBy = "displayName" })
	adm := admin{t, tg}
	ctx := context.Background()
	adm.group("Sales")
	adm.group("Ops")
	a := create(t, c, person("member"))
	require.NoError(t, c.Grant(ctx, ref(a), []string{"Sales"}))

	in, err := c.IsMember(ctx, ref(a), "Sales")
	require.NoError(t, err)
	require.True(t, in)
	in, err = c.IsMember(ctx, ref(a), "Ops")
	require.NoError(t, err)
	require.False(t, in)
}

func TestRealCreateMissingGroup(t *testing.T) {
	t.Parallel()
	tg := realTarget(t)
	c := open(t, tg, func(s *scim.Settings) {
		scimmy(s)
		s.EntitlementBy, s.CreateMissingGroups = "displayName", true
	})
	ctx := context.Background()
	a := create(t, c, person("newteam"))
	requireKind(t, connector.NotFound, c.Grant(ctx, ref(a), []string{"New Team"}))
	require.NoError(t, c.CreateEntitlement(ctx, "New Team"))
	require.NoError(t, c.Grant(ctx, ref(a), []string{"New Team"}))
	got, err := c.Get(ctx, ref(a))
	require.NoError(t, err)
	require.Equal(t, []string{"New Team"}, got.Entitlements)
}
