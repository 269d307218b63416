package ldap_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/policy"
)

// The example passes what `accord config check` runs: the config with
// every connector's check, and the policy.
func TestLDAPExamplePassesConfigCheck(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../../../examples/ldap/accord.yaml")
	require.NoError(t, err)
	_, probs := policy.Compile(cfg)
	require.Empty(t, probs)
}
