package scim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/targetsim"
)

// TestIdempotencyHeaderMakesARepeatedCreateHarmless: with
// idempotency_header, a create carries the action's run/action ID, the
// same on every attempt, so a target honouring it (the simulator, here
// accepting duplicate names) answers a repeat with the first account
// instead of a second one. Reads carry no key, and nothing is sent
// without the setting.
func TestIdempotencyHeaderMakesARepeatedCreateHarmless(t *testing.T) {
	t.Parallel()
	sim, c := simConn(t, targetsim.Options{AllowDuplicates: true}, func(s *scim.Settings) {
		s.IdempotencyHeader = targetsim.IdempotencyHeader
	})
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "run-1", ActionID: 12, Sink: audit.Discard})
	first, err := c.Create(ctx, connector.CreateRequest{Attributes: person("ann")})
	require.NoError(t, err)
	again, err := c.Create(ctx, connector.CreateRequest{Attributes: person("ann")})
	require.NoError(t, err)
	require.Equal(t, first.NativeID, again.NativeID, "the repeat got the first answer")
	require.Len(t, sim.SCIM().Users(), 1, "no second account")
	_, err = c.Get(ctx, connector.AccountRef{NativeID: first.NativeID})
	require.NoError(t, err)
	reqs := sim.Requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs[:2] {
		require.Equal(t, "POST", r.Method)
		require.Equal(t, "run-1/12", r.Header.Get(targetsim.IdempotencyHeader))
	}
	require.Empty(t, reqs[2].Header.Get(targetsim.IdempotencyHeader), "a read carries no key")

	// Off by default: the same two creates make two accounts on a target
	// without unique names.
	plain, pc := simConn(t, targetsim.Options{AllowDuplicates: true}, nil)
	for range 2 {
		_, err := pc.Create(ctx, connector.CreateRequest{Attributes: person("ann")})
		require.NoError(t, err)
	}
	require.Len(t, plain.SCIM().Users(), 2)
	require.Empty(t, plain.Requests()[0].Header.Get(targetsim.IdempotencyHeader))
}
