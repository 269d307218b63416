package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/population"
)

// TestRunWritesConfigAndFeed: the command writes a config and a feed of
// exactly the persons asked for, and refuses sizes that are not positive
// without writing anything.
func TestRunWritesConfigAndFeed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "load")
	s := population.Spec{Persons: 250, Targets: 2, Depts: 4, PerRole: 3, Creates: "1000"}
	require.NoError(t, run(s, dir))

	cfg, err := os.ReadFile(filepath.Join(dir, "accord.yaml"))
	require.NoError(t, err)
	require.Equal(t, s.Config(), string(cfg))

	f, err := os.Open(filepath.Join(dir, "hr.csv"))
	require.NoError(t, err)
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			lines++
		}
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 1+s.Persons, lines, "a header and one row per person")

	bad := filepath.Join(t.TempDir(), "bad")
	err = run(population.Spec{Persons: 0, Targets: 2, Depts: 4, PerRole: 3}, bad)
	require.ErrorContains(t, err, "must be positive")
	_, statErr := os.Stat(bad)
	require.True(t, os.IsNotExist(statErr), "nothing written for a bad size")
}
