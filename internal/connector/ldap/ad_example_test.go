package ldap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/policy"
)

// The Active Directory example passes what `accord config check` runs:
// the config with every connector's check, and the policy.
func TestActiveDirectoryExamplePassesConfigCheck(t *testing.T) {
	t.Setenv("AD_BIND_PASSWORD", "example-only-password")
	cfg, err := config.Load("../../../examples/active-directory/accord.yaml")
	require.NoError(t, err)
	_, probs := policy.Compile(cfg)
	require.Empty(t, probs)
}

// The same config over plain LDAP is refused when checked, naming the
// setting, before anything is sent: the ad flavour sends passwords.
func TestActiveDirectoryPlainLDAPRefusedByConfigCheck(t *testing.T) {
	t.Setenv("AD_BIND_PASSWORD", "example-only-password")
	b, err := os.ReadFile("../../../examples/active-directory/accord.yaml")
	require.NoError(t, err)
	src := strings.Replace(string(b), "url: ldaps://dc1.corp.example.com", "url: ldap://dc1.corp.example.com\n      allow_plain: true", 1)
	require.NotEqual(t, string(b), src)
	p := filepath.Join(t.TempDir(), "accord.yaml")
	require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	_, err = config.Load(p)
	require.Error(t, err)
	require.Contains(t, err.Error(), "targets[0].connection.flavour")
	require.Contains(t, err.Error(), "ldaps:// or start_tls: true")
}
