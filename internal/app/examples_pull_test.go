package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
)

// The pull examples pass `accord config check` (app.Check: the config,
// every connector's check, the policy).
func TestPullExamplesPassConfigCheck(t *testing.T) {
	for _, path := range []string{"../../examples/bamboohr/accord.yaml", "../../examples/workday/accord.yaml"} {
		t.Run(path, func(t *testing.T) {
			cfg, _, probs, err := app.Check(path)
			require.NoError(t, err)
			require.Empty(t, probs)
			require.Len(t, cfg.Sources, 1)
			require.Equal(t, "http", cfg.Sources[0].Format)
			require.NotNil(t, cfg.Sources[0].HTTP.Delta)
		})
	}
}
