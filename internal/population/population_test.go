package population_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	_ "github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/population"
)

// TestPopulationShape: the feed has one row per person with the columns
// the config declares, departments round-robin; the config loads, with
// one memory target per target, two birthright entitlements each and one
// role per department granting PerRole entitlements on every target; and
// Person is the feed's row as a person.
func TestPopulationShape(t *testing.T) {
	s := population.Spec{Persons: 45, Targets: 3, Depts: 4, PerRole: 6, Creates: "1000"}
	var feed bytes.Buffer
	require.NoError(t, s.WriteFeed(&feed))
	rows, err := csv.NewReader(&feed).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 46)
	require.Equal(t, []string{"id", "first", "last", "email", "dept", "start", "end"}, rows[0])
	require.Equal(t, []string{"P0000042", "First42", "Last42", "p42@example.com", "d2", "2020-01-01", ""}, rows[43])

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(s.Config()), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hr.csv"), nil, 0o600))
	cfg, err := config.Load(filepath.Join(dir, "accord.yaml"))
	require.NoError(t, err)
	require.Len(t, cfg.Targets, 3)
	for _, tg := range cfg.Targets {
		require.Equal(t, "memory", tg.Type)
		require.Len(t, tg.Birthright, 2)
	}
	require.Len(t, cfg.Policy.Roles, 4)
	for _, r := range cfg.Policy.Roles {
		require.Len(t, r.Grants, 3)
		for _, g := range r.Grants {
			require.Len(t, g.Entitlements, 6)
		}
	}
	require.Equal(t, "1000", cfg.Policy.Thresholds.Creates.String())

	p := s.Person(42)
	require.Equal(t, rows[43][0], p.Key)
	for i, col := range rows[0][:5] {
		require.Equal(t, rows[43][i], p.Attributes[col], col)
	}
	require.Equal(t, rows[43][5], p.Start.String())
}
