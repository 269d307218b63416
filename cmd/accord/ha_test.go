package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSecondServeOnOneSQLiteFileIsRefused: two daemons on one SQLite file
// would both execute work. The second is refused and says why, while
// commands that read or plan keep working beside the first.
func TestSecondServeOnOneSQLiteFileIsRefused(t *testing.T) {
	w := newE2E(t, 3, 1)
	cfgPath := filepath.Join(w.dir, "accord.yaml")
	cfg, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfgPath, append(cfg, []byte("api:\n  listen: 127.0.0.1:0\n")...), 0o600))

	first := accordCmd(t, w.dir, "serve", "-c", "accord.yaml")
	stderr, err := first.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, first.Start())
	exited := make(chan error, 1)
	// waited closes when the process has been waited for: the cleanup
	// must not wait on exited, which a failing check may have drained.
	waited := make(chan struct{})
	t.Cleanup(func() {
		_ = first.Process.Kill()
		select {
		case <-waited:
		case <-time.After(time.Minute):
			t.Error("the first accord serve was not reaped within a minute of being killed")
		}
	})
	// The API starts after the daemon has claimed the store.
	up := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`msg="API listening"`)
		for sc.Scan() {
			if re.MatchString(sc.Text()) {
				select {
				case up <- struct{}{}:
				default:
				}
			}
		}
		exited <- first.Wait()
		close(waited)
	}()
	select {
	case <-up:
	case err := <-exited:
		t.Fatalf("the first accord serve exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the first accord serve did not start")
	}

	code, out := accord(t, w.dir, "serve", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "another accord process executes work on this store")
	require.Contains(t, out, "SQLite allows one executing accord per store file")

	code, out = accord(t, w.dir, "plan", "-c", "accord.yaml")
	require.Contains(t, []int{0, 3}, code, "plan works beside the daemon: %s", out)
	code, out = accord(t, w.dir, "runs", "list", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
}
