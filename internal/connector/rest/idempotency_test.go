package rest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
)

// TestIdempotencyHeaderOnPostWrites: with idempotency_header, the POSTs
// that write (the create, a membership added by POST) carry the action's
// run/action ID; reads, PUTs and the session login do not.
func TestIdempotencyHeaderOnPostWrites(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, sessionOptions())
	gid, err := sim.REST().AddGroup("5f0000000000000000000001", "")
	require.NoError(t, err)
	src := strings.Replace(settings(jumpcloud, base, sessionAuth(t)), "headers: {X-Org-Id: org-1}", "headers: {X-Org-Id: org-1}\nidempotency_header: Idempotency-Key", 1)
	c := openYAML(t, src, mapping)
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "run-4", ActionID: 9, Sink: audit.Discard})
	acct, err := c.Create(ctx, connector.CreateRequest{Attributes: person("ann")})
	require.NoError(t, err)
	ref := connector.AccountRef{NativeID: acct.NativeID, Attributes: person("ann")}
	require.NoError(t, c.Grant(ctx, ref, []string{gid}))
	_, err = c.Get(ctx, ref)
	require.NoError(t, err)

	keyed := map[string]bool{}
	for _, r := range sim.Requests() {
		if k := r.Header.Get("Idempotency-Key"); k != "" {
			require.Equal(t, "run-4/9", k)
			keyed[r.Method+" "+r.Path] = true
		}
	}
	require.Equal(t, map[string]bool{"POST /rest/v1/users": true, "POST /rest/v1/usergroups/" + gid + "/members": true}, keyed)
}
