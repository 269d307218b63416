package source_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/targetsim"
)

// spoolOf finds the open spool file of this process in dir (it has no
// name there any more) and returns its path under /proc/self/fd.
func spoolOf(t *testing.T, dir string) string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, dir+string(filepath.Separator)) {
			return filepath.Join("/proc/self/fd", fd.Name())
		}
	}
	return ""
}

// TestPullSpoolsItsPersons: a pull's persons wait in a spool file that
// is private (0600), has no name in its directory (so it is gone with the
// process), holds the records' values but not the API key, reads back
// the persons in the API's order as often as asked, and is closed by
// Close; a pull that fails leaves no spool open.
func TestPullSpoolsItsPersons(t *testing.T) {
	sim, base := startHR(t, 1200)
	sim.HR().SetOptions(targetsim.HROptions{APIKey: "k-777-secret", APIKeyHeader: "X-API-Key"})
	t.Setenv("HR_TEST_KEY", "k-777-secret")
	s := hrPull(base, source.Paging{Style: source.PageOffset, Size: 100, Total: "$.total"})
	s.HTTP.Auth = httpx.AuthConfig{Type: httpx.AuthAPIKey, Header: "X-API-Key", Key: secret.MustParse("${env:HR_TEST_KEY}")}
	require.Empty(t, s.Check())
	dir := t.TempDir()
	p, err := s.NewPuller(source.PullOptions{SpoolDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })

	res, err := p.Pull(context.Background(), source.PullState{})
	require.NoError(t, err)
	require.Equal(t, 1200, res.Count)
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, names, "the spool has no name")
	path := spoolOf(t, dir)
	require.NotEmpty(t, path, "the spool is open")
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(data), "E000007")
	require.NotContains(t, string(data), "k-777-secret")
	require.NotContains(t, string(data), "X-API-Key")

	for range 2 {
		var keys []string
		require.NoError(t, res.Each(context.Background(), func(p model.Person) error {
			keys = append(keys, p.Key)
			return nil
		}))
		require.Len(t, keys, 1200)
		require.Equal(t, "E000000", keys[0])
		require.Equal(t, "E001199", keys[1199])
	}
	require.NoError(t, res.Close())
	require.Empty(t, spoolOf(t, dir), "Close closes the spool")

	sim.HR().Put(map[string]any{"id": "E999999", "displayName": ""}) // the name is required
	_, err = p.Pull(context.Background(), source.PullState{})
	require.Error(t, err)
	require.Empty(t, spoolOf(t, dir), "a refused pull leaves no spool")
}
