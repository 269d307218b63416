package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of sizeBytes on a new directory and unmounts it
// when the test ends: a file system a test can fill up or remount
// read-only, which a temporary directory cannot be made to do. It needs
// root (as in CI); where mounting fails the test skips, unless
// ACCORD_REQUIRE_SERVICES is set, when it fails.
func Tmpfs(t testing.TB, sizeBytes int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", sizeBytes), "tmpfs", dir).CombinedOutput()
	if err != nil {
		why := fmt.Sprintf("cannot mount a tmpfs (needs root): %v: %s", err, strings.TrimSpace(string(out)))
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			t.Fatalf("testkit: %s (ACCORD_REQUIRE_SERVICES is set, so this test may not skip)", why)
		}
		t.Skip("testkit: " + why)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("unmount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// RemountReadOnly makes a Tmpfs read-only. Nothing may hold a file of it
// open for writing.
func RemountReadOnly(t testing.TB, dir string) {
	t.Helper()
	out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("remount %s read-only: %v: %s", dir, err, out)
	}
}

// FillDisk writes a file in dir until the file system is full, and
// returns its path (remove it to free the space).
func FillDisk(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("fill %s: %v", dir, err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
	// Smaller writes take the last partial block too.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// BindReadOnly stacks a read-only bind mount of dir on dir itself: files
// already open stay writable, but the path is now on a read-only mount,
// as after an operator remounts a data directory read-only under a
// running daemon (a plain remount is refused while files are open).
func BindReadOnly(t testing.TB, dir string) {
	t.Helper()
	for _, args := range [][]string{{"--bind", dir, dir}, {"-o", "remount,bind,ro", dir}} {
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			t.Fatalf("mount %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("unmount the bind of %s: %v: %s", dir, err, out)
		}
	})
}
