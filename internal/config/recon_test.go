package config_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	_ "github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/yamlx"
)

const reconBase = `
sources:
  - name: hr
    format: csv
    path: hr.csv
    key: id
    columns:
      - {name: id, type: string, required: true}
      - {name: email, type: email}
targets:
  - name: saas
    type: memory
    connection: {name: x}
    account:
      userName: "{{ email }}"
    reconcile:
%s
`

func parseReconcile(t *testing.T, block string) (*config.Config, yamlx.Problems) {
	t.Helper()
	cfg, err := config.Parse(fmt.Appendf(nil, reconBase, block), "accord.yaml")
	var probs yamlx.Problems
	if err != nil {
		require.True(t, errors.As(err, &probs), "%v", err)
	}
	return cfg, probs
}

func TestReconcileConfig(t *testing.T) {
	cfg, probs := parseReconcile(t, `      schedule: 1h
      correlate:
        - {account: userName, person: email, ignore_case: true}
        - {account: userName, person: key}
      drift: {orphan: disable, attribute: converge}`)
	require.Empty(t, probs)
	r := cfg.Targets[0].Reconcile
	require.Equal(t, time.Hour, r.Schedule)
	require.Equal(t, config.Correlation{Account: "userName", Person: "email", IgnoreCase: true}, r.Correlate[0])
	require.Equal(t, config.DriftDisable, r.Drift.Action(config.DriftOrphan))
	require.Equal(t, config.DriftReport, r.Drift.Action(config.DriftMissing), "report by default")
	require.True(t, r.Drift.Converges(config.DriftAttribute))
	require.True(t, r.Drift.Converges(config.DriftOrphan))
	require.False(t, r.Drift.Converges(config.DriftExtraEntitlement))
}

func TestReconcileConfigProblems(t *testing.T) {
	_, probs := parseReconcile(t, `      schedule: 10s
      correlate:
        - {account: title, person: email}
        - {account: userName, person: phone}
        - {person: key}
      drift: {orphan: converge, missing: delete, extra: report}`)
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
	}
	want := []string{
		`targets[0].reconcile.schedule (line 17): 10s is too often`,
		`targets[0].reconcile.correlate[0].account (line 19): "title" is not in this target's account mapping (userName)`,
		`targets[0].reconcile.correlate[1].person (line 20): "phone" is neither "key" nor a column of any source`,
		`targets[0].reconcile.correlate[2].account (line 21): name the account attribute`,
		`targets[0].reconcile.drift.orphan (line 22): must be report, disable, delete or leave, not "converge"`,
		`targets[0].reconcile.drift.missing (line 22): must be report or converge, not "delete"`,
		`targets[0].reconcile.drift.extra (line 22): unknown key`,
	}
	require.Len(t, got, len(want), "%q", got)
	for _, w := range want {
		found := false
		for _, g := range got {
			if len(g) >= len(w) && g[:len(w)] == w {
				found = true
			}
		}
		require.True(t, found, "want %q in %q", w, got)
	}
}
