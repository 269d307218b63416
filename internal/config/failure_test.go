package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/yamlx"
)

// withFailure is reconBase's target with a failure block instead of a
// reconcile one.
func withFailure(block string) []byte {
	base := strings.Replace(reconBase, "    reconcile:\n%s\n", "    failure: "+block+"\n", 1)
	return []byte(base)
}

func TestFailureDefaultsAndSettle(t *testing.T) {
	cfg, err := config.Parse(withFailure("{settle: 30s}"), "accord.yaml")
	require.NoError(t, err)
	f := cfg.Targets[0].Failure
	require.Equal(t, 30*time.Second, f.Settle)
	require.Equal(t, 10, f.OpenAfter)
	require.True(t, f.VerifyOn())

	cfg, err = config.Parse(withFailure("{}"), "accord.yaml")
	require.NoError(t, err)
	require.Zero(t, cfg.Targets[0].Failure.Settle, "a target reads its own writes unless told otherwise")
}

func TestFailureProblemsNameTheirKeys(t *testing.T) {
	_, err := config.Parse(withFailure("{open_after: -1, probe_after: 2m, probe_max: 1m, retry_ratio: 11, settle: 1h}"), "accord.yaml")
	var probs yamlx.Problems
	require.True(t, errors.As(err, &probs), "%v", err)
	got := map[string]string{}
	for _, p := range probs {
		got[p.Path] = p.Msg
	}
	require.Equal(t, map[string]string{
		"targets[0].failure.open_after":  "must be at least 1",
		"targets[0].failure.probe_after": "must be positive and at most probe_max (1m0s)",
		"targets[0].failure.retry_ratio": "must be between 0 and 10",
		"targets[0].failure.settle":      "must be between 0 and 10m0s",
	}, got)
}
