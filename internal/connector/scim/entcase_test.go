package scim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/targetsim"
)

// RFC 7643 makes a Group's displayName caseExact false, and the simulator
// follows it: a grant of "sales" reaches the group "Sales", which the
// User shows in the group's own spelling. With entitlements_case:
// insensitive accord compares the two as one; by default it does not.
func TestSimEntitlementsCase(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{}, func(s *scim.Settings) {
		s.EntitlementBy, s.EntitlementsCase = "displayName", "insensitive"
	})
	mustGroup(t, sim, "Sales")
	a := create(t, c, person("ann"))
	require.NoError(t, c.Grant(context.Background(), ref(a), []string{"sales"}))
	got, err := c.Get(context.Background(), ref(a))
	require.NoError(t, err)
	require.Equal(t, []string{"Sales"}, got.Entitlements)
	require.True(t, c.Capabilities().EntitlementsFoldCase)
	require.True(t, c.Capabilities().Names().Contains(got.Entitlements, "sales"))

	_, def := simConn(t, targetsim.Options{}, func(s *scim.Settings) { s.EntitlementBy = "displayName" })
	require.False(t, def.Capabilities().EntitlementsFoldCase, "sensitive unless configured")
	require.False(t, def.Capabilities().Names().Contains(got.Entitlements, "sales"))
}
