package inbound_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	_ "github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/inbound"
	"github.com/accord-iam/accord/internal/policy"
)

// The example passes what `accord config check` runs, and its mapping
// keys Users by externalId, as HR connectors look them up.
func TestInboundSCIMExamplePassesConfigCheck(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../../examples/inbound-scim/accord.yaml")
	require.NoError(t, err)
	_, probs := policy.Compile(cfg)
	require.Empty(t, probs)
	m, mprobs := cfg.Inbound.SCIM.Compile(cfg.Sources)
	require.Empty(t, mprobs)
	require.Equal(t, inbound.Slot{Schema: inbound.UserSchema, Attr: "externalId"}, m.KeySlot())
	require.Len(t, m.Slots(), 11)
}
