package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/buildinfo"
)

// A binary built from this checkout with a version in its link flags says
// that version and the commit it was built from.
func TestVersionSaysTheReleaseAndTheCommit(t *testing.T) {
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			t.Fatalf("CI runs from a git checkout, and this test needs one: %v", err)
		}
		t.Skipf("not in a git checkout: %v", err)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "accord")
	build := exec.Command("go", "build", "-buildvcs=true",
		"-ldflags", "-X github.com/accord-iam/accord/internal/buildinfo.Version=v9.8.7-test",
		"-o", bin, ".")
	// A machine may set -buildvcs=false in its go env; this test is about VCS stamping.
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	out, err = exec.Command(bin, "version", "--json").Output()
	require.NoError(t, err)
	var info buildinfo.Info
	require.NoError(t, json.Unmarshal(out, &info), "%s", out)
	require.Equal(t, "v9.8.7-test", info.Version)
	require.True(t, strings.HasPrefix(info.GoVersion, "go"), info.GoVersion)

	out, err = exec.Command(bin, "version").Output()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(out), "accord v9.8.7-test ("), "%s", out)

	// The toolchain finds a checkout by its .git directory; a linked
	// worktree has a .git file, and its builds carry no revision.
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		// A linked worktree: the toolchain records no revision, so the
		// binary must claim none.
		require.Empty(t, info.Commit)
		return
	}
	require.Equal(t, strings.TrimSpace(string(head)), info.Commit)
	require.NotEmpty(t, info.Time)
	require.Contains(t, string(out), "commit "+info.Commit)
}
